/// config.json key ⇄ GGUF key (after `{arch}.`) for the hyperparameters every family has, with the range a value
/// must fall in. The readers (ModelConfig from GGUF metadata or config.json) and the converters (config.json and
/// GGUF metadata written from a ModelConfig) all take their names from here; a family's own keys live in its spec.
///
/// A value outside its range is refused with the file, the key and the value before any arithmetic, loop or
/// allocation uses it: a layer count of −1 or 2^40 must not reach `0..<layers`, nor a head count of 0 a division.
/// The bounds are far above any released model's.
public enum ConfigKeys {
    public struct Key: Sendable {
        public let hf: String
        public let gguf: String
        public let range: ClosedRange<Int>
    }

    /// A float hyperparameter: positive and finite.
    public struct FloatKey: Sendable {
        public let hf: String
        public let gguf: String
    }

    public static let hiddenSize = Key(hf: "hidden_size", gguf: "embedding_length", range: 1...(1 << 20))
    public static let intermediateSize = Key(hf: "intermediate_size", gguf: "feed_forward_length", range: 1...(1 << 22))
    public static let numHiddenLayers = Key(hf: "num_hidden_layers", gguf: "block_count", range: 1...4096)
    public static let numAttentionHeads = Key(hf: "num_attention_heads", gguf: "attention.head_count", range: 1...(1 << 16))
    public static let numKeyValueHeads = Key(hf: "num_key_value_heads", gguf: "attention.head_count_kv", range: 1...(1 << 16))
    public static let headDim = Key(hf: "head_dim", gguf: "attention.key_length", range: 1...(1 << 16))
    public static let valueDim = Key(hf: "head_dim", gguf: "attention.value_length", range: 1...(1 << 16))
    public static let vocabSize = Key(hf: "vocab_size", gguf: "vocab_size", range: 1...(1 << 24))
    public static let maxPositionEmbeddings = Key(hf: "max_position_embeddings", gguf: "context_length", range: 1...(1 << 24))
    public static let rmsNormEps = FloatKey(hf: "rms_norm_eps", gguf: "attention.layer_norm_rms_epsilon")
    public static let ropeTheta = FloatKey(hf: "rope_theta", gguf: "rope.freq_base")
    public static let ropeDimensionCount = Key(hf: "head_dim", gguf: "rope.dimension_count", range: 1...(1 << 16))
    /// Mistral's window; llama.cpp writes this key for the families whose windows it runs (not for `llama`).
    public static let slidingWindow = Key(hf: "sliding_window", gguf: "attention.sliding_window", range: 1...(1 << 24))
    /// GGUF only: Llama 3 RoPE scaling is stored as this tensor of per-frequency divisors.
    public static let ropeFreqs = "rope_freqs.weight"
    // Mixture-of-experts keys (ModelConfig.MoE). config.json names the expert count by family (num_experts,
    // num_local_experts), so `hf` here is the first spelling.
    public static let expertCount = Key(hf: "num_experts", gguf: "expert_count", range: 1...(1 << 16))
    public static let expertUsedCount = Key(hf: "num_experts_per_tok", gguf: "expert_used_count", range: 1...(1 << 16))
    public static let expertFeedForwardLength = Key(hf: "moe_intermediate_size", gguf: "expert_feed_forward_length", range: 1...(1 << 22))
    public static let expertSharedFeedForwardLength = Key(hf: "shared_expert_intermediate_size", gguf: "expert_shared_feed_forward_length", range: 0...(1 << 22))
    /// GGUF only (llama.cpp's LLM_KV_EXPERT_WEIGHTS_NORM): the top-k weights are renormalised.
    public static let expertWeightsNorm = "expert_weights_norm"
    /// GGUF only: a RoPE scaling type other than "none" (Vane runs unscaled RoPE).
    public static let ropeScalingType = "rope.scaling.type"

    /// `value` of `key` (named as `name` in `path`), refused outside the key's range.
    static func check(_ value: Int, _ key: Key, name: String, path: String) throws -> Int {
        guard key.range.contains(value) else {
            throw VaneError("\(path): \(name) is \(value); expected \(key.range.lowerBound)…\(key.range.upperBound)",
                            hint: "the file's hyperparameters are damaged or not a model's")
        }
        return value
    }

    /// A positive finite float (RMSNorm epsilon, RoPE base).
    static func check(_ value: Double, name: String, path: String) throws -> Float {
        guard value.isFinite, value > 0, value < Double(Float.greatestFiniteMagnitude) else {
            throw VaneError("\(path): \(name) is \(value); expected a positive finite number")
        }
        return Float(value)
    }
}

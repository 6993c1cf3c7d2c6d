/// config.json key ⇄ GGUF key (after `{arch}.`) for the hyperparameters every family has. The readers
/// (ModelConfig from GGUF metadata or config.json) and the converters (config.json and GGUF metadata written from a
/// ModelConfig) all take their names from here; a family's own keys live in its spec.
public enum ConfigKeys {
    public typealias Pair = (hf: String, gguf: String)

    public static let hiddenSize: Pair = ("hidden_size", "embedding_length")
    public static let intermediateSize: Pair = ("intermediate_size", "feed_forward_length")
    public static let numHiddenLayers: Pair = ("num_hidden_layers", "block_count")
    public static let numAttentionHeads: Pair = ("num_attention_heads", "attention.head_count")
    public static let numKeyValueHeads: Pair = ("num_key_value_heads", "attention.head_count_kv")
    public static let headDim: Pair = ("head_dim", "attention.key_length")
    public static let valueDim: Pair = ("head_dim", "attention.value_length")
    public static let vocabSize: Pair = ("vocab_size", "vocab_size")
    public static let maxPositionEmbeddings: Pair = ("max_position_embeddings", "context_length")
    public static let rmsNormEps: Pair = ("rms_norm_eps", "attention.layer_norm_rms_epsilon")
    public static let ropeTheta: Pair = ("rope_theta", "rope.freq_base")
    public static let ropeDimensionCount: Pair = ("head_dim", "rope.dimension_count")
    /// GGUF only: a RoPE scaling type other than "none" (Vane runs unscaled RoPE).
    public static let ropeScalingType = "rope.scaling.type"
}

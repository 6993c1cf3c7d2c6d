import Foundation

/// An HF config.json, decoded with its own key names. Two generations of the file exist: transformers ≥ 5 writes
/// `rope_parameters: {rope_theta, rope_type}`, older ones a top-level `rope_theta` and maybe `rope_scaling`; both
/// are accepted. `head_dim` may be absent (= hidden_size / num_attention_heads).
struct HFConfig: Decodable {
    struct RopeParameters: Decodable {
        var rope_theta: Double?
        var rope_type: String?
        var type: String?
        // rope_type "llama3"
        var factor: Double?
        var low_freq_factor: Double?
        var high_freq_factor: Double?
        var original_max_position_embeddings: Int?
        // rope_type "longrope" (Phi-3), with factor and original_max_position_embeddings
        var long_factor: [Double]?
        var short_factor: [Double]?
        var attention_factor: Double?
        // Phi-3 (partial rotary) and Gemma 3 (one set per layer type, transformers ≥ 5).
        var partial_rotary_factor: Double?
        var full_attention: LayerRope?
        var sliding_attention: LayerRope?
    }

    /// RoPE of one layer type (Gemma 3's `rope_parameters.{full,sliding}_attention`).
    struct LayerRope: Decodable {
        var rope_theta: Double?
        var rope_type: String?
    }

    var model_type: String?
    var architectures: [String]?
    var hidden_size: Int?
    var intermediate_size: Int?
    var num_hidden_layers: Int?
    var num_attention_heads: Int?
    var num_key_value_heads: Int?
    var head_dim: Int?
    var vocab_size: Int?
    var max_position_embeddings: Int?
    var original_max_position_embeddings: Int?
    var rms_norm_eps: Double?
    var rope_theta: Double?
    var rope_parameters: RopeParameters?
    var rope_scaling: RopeParameters?
    var tie_word_embeddings: Bool?
    var attention_bias: Bool?
    var mlp_bias: Bool?
    var sliding_window: Int?
    var use_sliding_window: Bool?
    // Gemma 2/3, Phi-3.
    var attn_logit_softcapping: Double?
    var final_logit_softcapping: Double?
    var query_pre_attn_scalar: Double?
    var layer_types: [String]?
    var sliding_window_pattern: Int?
    var rope_local_base_freq: Double?
    var partial_rotary_factor: Double?
    var hidden_activation: String?
    var hidden_act: String?
    // Mixture-of-experts keys.
    var num_experts: Int?
    var num_local_experts: Int?
    var num_experts_per_tok: Int?
    var moe_intermediate_size: Int?
    var shared_expert_intermediate_size: Int?
    var norm_topk_prob: Bool?
    var decoder_sparse_step: Int?
    var mlp_only_layers: [Int]?
    var clip_qkv: Double?
}

extension ModelConfig {
    /// Reads `config.json` of an HF model folder.
    public init(configJSON url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw VaneError("cannot read \(url.path): \(error.localizedDescription)",
                                 hint: "an HF model folder needs a config.json beside its safetensors")
        }
        let c: HFConfig
        do { c = try JSONDecoder().decode(HFConfig.self, from: data) } catch {
            throw VaneError("\(url.path) is not valid config.json: \(error)")
        }
        func need<T>(_ v: T?, _ key: String) throws -> T {
            guard let v else { throw VaneError("\(url.path): required field \"\(key)\" is missing") }
            return v
        }
        func checked(_ v: Int?, _ key: ConfigKeys.Key) throws -> Int? {
            try v.map { try ConfigKeys.check($0, key, name: key.hf, path: url.path) }
        }
        func int(_ v: Int?, _ key: ConfigKeys.Key) throws -> Int { try need(try checked(v, key), key.hf) }
        func float(_ v: Double?, _ key: ConfigKeys.FloatKey) throws -> Float {
            try ConfigKeys.check(try need(v, key.hf), name: key.hf, path: url.path)
        }
        let spec = try ArchitectureSpec.forModelType(try need(c.model_type, "model_type"), path: url.path)
        let hidden = try int(c.hidden_size, ConfigKeys.hiddenSize)
        let heads = try int(c.num_attention_heads, ConfigKeys.numAttentionHeads)
        var ropeScaling: Llama3RopeScaling?
        for rope in [c.rope_parameters, c.rope_scaling].compactMap({ $0 }) {
            switch rope.rope_type ?? rope.type ?? "default" {
            case "default": break
            case "llama3": ropeScaling = try llama3Scaling(rope, path: url.path)
            case let kind where spec.ropeTypes.contains(kind): break
            case let kind:
                throw VaneError("\(url.path): RoPE scaling \"\(kind)\" is not supported (unscaled RoPE and \"llama3\" are\(spec.ropeTypes.isEmpty ? "" : ", and for \(spec.name) " + spec.ropeTypes.sorted().joined(separator: ", ")))")
            }
        }
        if c.use_sliding_window == true {
            throw VaneError("\(url.path): sliding-window attention is not supported")
        }
        // Mistral's sliding_window always applies; transformers' llama ignores the key, and Qwen2/Qwen3 apply theirs
        // only with use_sliding_window (refused above).
        let slidingWindow = c.model_type == "mistral" ? try checked(c.sliding_window, ConfigKeys.slidingWindow) : nil
        try spec.checkHF(c, url.path)
        let layers = try int(c.num_hidden_layers, ConfigKeys.numHiddenLayers)
        let intermediate = try int(c.intermediate_size, ConfigKeys.intermediateSize)
        // Experts as the family's config.json names them; a layer is dense when mlp_only_layers lists it or
        // decoder_sparse_step skips it (transformers' Qwen2MoeDecoderLayer).
        func moe() throws -> MoE? {
            guard spec.hasExperts else { return nil }
            let experts = try need(try checked(c.num_experts ?? c.num_local_experts, ConfigKeys.expertCount),
                                   "num_experts (or num_local_experts)")
            let k = try int(c.num_experts_per_tok, ConfigKeys.expertUsedCount)
            guard k <= experts else {
                throw VaneError("\(url.path): num_experts_per_tok is \(k), more than the \(experts) experts")
            }
            let step = c.decoder_sparse_step ?? 1
            guard step >= 1 else { throw VaneError("\(url.path): decoder_sparse_step is \(step); expected 1 or more") }
            let only = Set(c.mlp_only_layers ?? [])
            return MoE(experts: experts, expertsPerToken: k,
                       expertIntermediateSize: try checked(c.moe_intermediate_size, ConfigKeys.expertFeedForwardLength) ?? intermediate,
                       sharedExpertIntermediateSize: try checked(c.shared_expert_intermediate_size,
                                                                 ConfigKeys.expertSharedFeedForwardLength) ?? 0,
                       normTopKProb: c.norm_topk_prob ?? spec.normTopKDefault,
                       denseLayers: (0..<layers).filter { only.contains($0) || ($0 + 1) % step != 0 })
        }
        self.init(
            architecture: spec.name,
            hiddenSize: hidden,
            intermediateSize: intermediate,
            numHiddenLayers: layers,
            numAttentionHeads: heads,
            numKeyValueHeads: try checked(c.num_key_value_heads, ConfigKeys.numKeyValueHeads) ?? heads,
            headDim: try checked(c.head_dim, ConfigKeys.headDim) ?? hidden / heads,
            vocabSize: try int(c.vocab_size, ConfigKeys.vocabSize),
            maxPositionEmbeddings: try int(c.max_position_embeddings, ConfigKeys.maxPositionEmbeddings),
            rmsNormEps: try float(c.rms_norm_eps, ConfigKeys.rmsNormEps),
            ropeTheta: try float(c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000, ConfigKeys.ropeTheta),
            tieWordEmbeddings: c.tie_word_embeddings ?? false,
            attentionBias: spec.qkvBias == .always || (c.attention_bias ?? false),
            ropeStyle: .neox,
            ropeScaling: ropeScaling,
            slidingWindow: slidingWindow,
            moe: try moe())
        try spec.readHF(c, &self, url.path)
    }
}

/// The `llama3` RoPE scaling of `rope_parameters` / `rope_scaling`, each value checked before it divides.
private func llama3Scaling(_ r: HFConfig.RopeParameters, path: String) throws -> Llama3RopeScaling {
    func need<T>(_ v: T?, _ key: String) throws -> T {
        guard let v else { throw VaneError("\(path): RoPE scaling \"llama3\" needs \"\(key)\"") }
        return v
    }
    let s = Llama3RopeScaling(
        factor: try need(r.factor, "factor"),
        lowFreqFactor: try need(r.low_freq_factor, "low_freq_factor"),
        highFreqFactor: try need(r.high_freq_factor, "high_freq_factor"),
        originalMaxPositionEmbeddings: try need(r.original_max_position_embeddings, "original_max_position_embeddings"))
    let finite = [s.factor, s.lowFreqFactor, s.highFreqFactor].allSatisfy { $0.isFinite && $0 > 0 && $0 < 1e9 }
    guard finite, s.lowFreqFactor < s.highFreqFactor, (1...(1 << 24)).contains(s.originalMaxPositionEmbeddings) else {
        throw VaneError("\(path): RoPE scaling \"llama3\" has factor \(s.factor), low_freq_factor \(s.lowFreqFactor), high_freq_factor \(s.highFreqFactor), original_max_position_embeddings \(s.originalMaxPositionEmbeddings)",
                        hint: "expected positive factors with low_freq_factor < high_freq_factor, and a context of 1…16777216")
    }
    return s
}

/// gemma2: Gemma 2. (1 + w) RMSNorm before and after attention and the MLP, embeddings × √d, GeGLU (tanh GELU),
/// scores scaled by 1/√query_pre_attn_scalar and soft-capped, logits soft-capped, a sliding window on every
/// other layer (the even ones). GGUF norms hold w + 1, as llama.cpp's converter writes them; no Q/K permutation.
extension ArchitectureSpec {
    public static let gemma2 = ArchitectureSpec(
        name: "gemma2",
        modelTypes: ["gemma2"],
        hfClass: "Gemma2ForCausalLM",
        ggufRope: .neox,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: Gemma.tensors,
        hfConfigExtras: { c in Gemma.hfConfig(c) },
        ggufExtras: { c in Gemma.ggufKeys(c) },
        checkHF: { _, _ in },
        readHF: { hf, c, path in try Gemma.read(hf, &c, pattern: 2, path: path) },
        readGGUF: { file, c in try Gemma.read(file, &c, pattern: 2, layers27B: 46) },
        postNorms: true)
}

/// What Gemma 2 and Gemma 3 share: tensor names, settings and how both sources state them.
enum Gemma {
    static let tensors: [TensorBinding] = [
        .rename("model.embed_tokens.weight", "token_embd.weight", perLayer: false),
        .rename("model.norm.weight", "output_norm.weight", perLayer: false, offset: 1),
        .rename("input_layernorm.weight", "attn_norm.weight", offset: 1),
        .rename("self_attn.q_proj.weight", "attn_q.weight"),
        .rename("self_attn.k_proj.weight", "attn_k.weight"),
        .rename("self_attn.v_proj.weight", "attn_v.weight"),
        .rename("self_attn.o_proj.weight", "attn_output.weight"),
        .rename("post_attention_layernorm.weight", "post_attention_norm.weight", offset: 1),
        .rename("pre_feedforward_layernorm.weight", "ffn_norm.weight", offset: 1),
        .rename("mlp.gate_proj.weight", "ffn_gate.weight"),
        .rename("mlp.up_proj.weight", "ffn_up.weight"),
        .rename("mlp.down_proj.weight", "ffn_down.weight"),
        .rename("post_feedforward_layernorm.weight", "post_ffw_norm.weight", offset: 1),
    ]

    /// config.json settings; sliding layers default to every `pattern`-th layer full.
    static func read(_ hf: HFConfig, _ c: inout ModelConfig, pattern: Int, path: String) throws {
        let act = hf.hidden_activation ?? hf.hidden_act ?? "gelu_pytorch_tanh"
        guard act == "gelu_pytorch_tanh" else {
            throw VaneError("\(path): hidden_activation \"\(act)\" is not supported (Gemma runs gelu_pytorch_tanh)")
        }
        guard hf.attention_bias != true else { throw VaneError("\(path): attention_bias is not supported for Gemma") }
        c.attnLogitSoftcapping = try hf.positive(hf.attn_logit_softcapping, "attn_logit_softcapping", path: path)
        c.finalLogitSoftcapping = try hf.positive(hf.final_logit_softcapping, "final_logit_softcapping", path: path)
        c.queryPreAttnScalar = try hf.positive(hf.query_pre_attn_scalar, "query_pre_attn_scalar", path: path)
            ?? Float(c.headDim)
        c.slidingWindow = try ConfigKeys.check(hf.sliding_window ?? 4096, ConfigKeys.Key(hf: "sliding_window", gguf: "", range: 1...(1 << 24)),
                                               name: "sliding_window", path: path)
        c.slidingLayers = try hf.slidingLayers(c.numHiddenLayers, pattern: pattern, path: path)
    }

    /// GGUF settings. Without `attention.scale` (llama.cpp's converter never writes it) the scale is llama.cpp's:
    /// 1/√head_dim, except 1/√(hidden/heads) for the 27B models (`layers27B` blocks).
    static func read(_ file: GGUFFile, _ c: inout ModelConfig, pattern: Int, layers27B: Int) throws {
        let arch = c.architecture, K = FamilyKeys.self
        c.attnLogitSoftcapping = try file.positive(K.attnLogitSoftcapping, arch: arch)
        c.finalLogitSoftcapping = try file.positive(K.finalLogitSoftcapping, arch: arch)
        if let scale = try file.positive(K.attentionScale, arch: arch) {
            c.queryPreAttnScalar = 1 / (scale * scale)
        } else {
            c.queryPreAttnScalar = Float(c.numHiddenLayers == layers27B ? c.hiddenSize / c.numAttentionHeads : c.headDim)
        }
        c.slidingWindow = try file.count(K.slidingWindow, arch: arch, range: 1...(1 << 24)) ?? 4096
        c.slidingLayers = try file.layerFlags(K.slidingWindowPattern, arch: arch, layers: c.numHiddenLayers)
            ?? slidingPattern(pattern, layers: c.numHiddenLayers)
    }

    static func ggufKeys(_ c: ModelConfig) -> [(key: String, value: GGUFValue)] {
        let K = FamilyKeys.self
        var out: [(key: String, value: GGUFValue)] = [
            (ConfigKeys.headDim.gguf, .uint32(UInt32(c.headDim))),
            (ConfigKeys.valueDim.gguf, .uint32(UInt32(c.headDim))),
        ]
        if let cap = c.attnLogitSoftcapping { out.append((K.attnLogitSoftcapping, .float32(cap))) }
        if let cap = c.finalLogitSoftcapping { out.append((K.finalLogitSoftcapping, .float32(cap))) }
        if let w = c.slidingWindow { out.append((K.slidingWindow, .uint32(UInt32(w)))) }
        if let s = c.queryPreAttnScalar, s != Float(c.headDim) { out.append((K.attentionScale, .float32(1 / s.squareRoot()))) }
        return out
    }

    static func hfConfig(_ c: ModelConfig) -> [String: JSONScalar] {
        func number(_ f: Float?) -> JSONScalar { f.map { .double($0.shortestDecimal) } ?? .null }
        return [
            "hidden_activation": .string("gelu_pytorch_tanh"),
            "hidden_act": .string("gelu_pytorch_tanh"),
            "attention_bias": .bool(false),
            "attn_logit_softcapping": number(c.attnLogitSoftcapping),
            "final_logit_softcapping": number(c.finalLogitSoftcapping),
            "query_pre_attn_scalar": number(c.queryPreAttnScalar ?? Float(c.headDim)),
            "sliding_window": c.slidingWindow.map { .int($0) } ?? .null,
            "layer_types": .list((0..<c.numHiddenLayers).map { .string(c.isSliding($0) ? "sliding_attention" : "full_attention") }),
        ]
    }
}

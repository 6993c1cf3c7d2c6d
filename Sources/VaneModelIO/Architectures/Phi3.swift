/// phi3: Phi-3 and Phi-3.5 (mini, medium), Phi-4-mini. llama's block with q, k and v in one fused `qkv_proj`
/// and gate and up in one `gate_up_proj`; GGUF keeps both fused (`attn_qkv`, `ffn_up` holding gate then up)
/// and the engine splits them once at bind. RoPE pairs NeoX-style, over the first `partial_rotary_factor` ·
/// head_dim dims of each head; a `sliding_window` applies to every layer. LongRoPE scaling (`longrope`, `su`) as
/// Phi3LongRope describes: config.json states the factors, a GGUF file holds them as `rope_factors_long/short`.
extension ArchitectureSpec {
    public static let phi3 = ArchitectureSpec(
        name: "phi3",
        modelTypes: ["phi3"],
        hfClass: "Phi3ForCausalLM",
        ggufRope: .neox,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: [
            .rename("model.embed_tokens.weight", "token_embd.weight", perLayer: false),
            .rename("model.norm.weight", "output_norm.weight", perLayer: false),
            .rename("lm_head.weight", "output.weight", perLayer: false),
            .rename("input_layernorm.weight", "attn_norm.weight"),
            .rename("self_attn.qkv_proj.weight", "attn_qkv.weight"),
            .rename("self_attn.o_proj.weight", "attn_output.weight"),
            .rename("post_attention_layernorm.weight", "ffn_norm.weight"),
            .rename("mlp.gate_up_proj.weight", "ffn_up.weight"),
            .rename("mlp.down_proj.weight", "ffn_down.weight"),
        ],
        hfConfigExtras: { c in
            var j: [String: JSONScalar] = ["sliding_window": c.slidingWindow.map { .int($0) } ?? .null]
            if let n = c.ropeDimensions { j["partial_rotary_factor"] = .double(Double(n) / Double(c.headDim)) }
            if let r = c.longRope {
                let factors = { (f: [Float]) in JSONScalar.list(f.map { .double($0.shortestDecimal) }) }
                j["original_max_position_embeddings"] = .int(r.originalMaxPositionEmbeddings)
                j["rope_parameters"] = .object([
                    "rope_type": .string("longrope"), "rope_theta": .double(c.ropeTheta.shortestDecimal),
                    "partial_rotary_factor": .double(Double(c.ropeDimensions ?? c.headDim) / Double(c.headDim)),
                    "original_max_position_embeddings": .int(r.originalMaxPositionEmbeddings),
                    "attention_factor": .double(r.attentionFactor.shortestDecimal),
                    "short_factor": factors(r.shortFactor), "long_factor": factors(r.longFactor)])
            }
            return j
        },
        ggufExtras: { c in
            var keys: [(key: String, value: GGUFValue)] = [
                (ConfigKeys.ropeDimensionCount.gguf, .uint32(UInt32(c.ropeDimensions ?? c.headDim))),
                (FamilyKeys.slidingWindow, .uint32(UInt32(c.slidingWindow ?? 0)))]
            if let r = c.longRope {
                keys += [(FamilyKeys.ropeScalingOriginalContext, .uint32(UInt32(r.originalMaxPositionEmbeddings))),
                         (FamilyKeys.ropeScalingAttnFactor, .float32(r.attentionFactor))]
            }
            return keys
        },
        checkHF: { hf, path in
            guard hf.attention_bias != true else { throw VaneError("\(path): attention_bias is not supported for Phi-3") }
        },
        readHF: { hf, c, path in
            if let factor = hf.rope_parameters?.partial_rotary_factor ?? hf.partial_rotary_factor, factor != 1 {
                let dims = Int((factor * Double(c.headDim)).rounded())
                guard factor > 0, factor < 1, dims % 2 == 0, dims > 0 else {
                    throw VaneError("\(path): partial_rotary_factor \(factor) does not give an even number of the \(c.headDim) head dims")
                }
                c.ropeDimensions = dims
            }
            if let w = hf.sliding_window, w > 0 {
                c.slidingWindow = try ConfigKeys.check(w, ConfigKeys.Key(hf: "sliding_window", gguf: "", range: slidingWindowRange),
                                                       name: "sliding_window", path: path)
            }
            if let rope = hf.rope_parameters ?? hf.rope_scaling, ["longrope", "su"].contains(rope.rope_type ?? rope.type ?? "") {
                c.longRope = try longRope(rope, hf, c, path: path)
            }
        },
        readGGUF: { file, c in
            let arch = c.architecture
            if let dims = try file.count(ConfigKeys.ropeDimensionCount.gguf, arch: arch, range: ConfigKeys.ropeDimensionCount.range),
               dims != c.headDim {
                guard dims % 2 == 0, dims < c.headDim else {
                    throw VaneError("\(file.url.path): \(arch).rope.dimension_count is \(dims); expected an even number up to head_dim \(c.headDim)")
                }
                c.ropeDimensions = dims
            }
            if let w = try file.count(FamilyKeys.slidingWindow, arch: arch, range: slidingWindowRange), w > 0 { c.slidingWindow = w }
            c.longRope = try longRope(file, c)
        },
        ropeTypes: ["longrope", "su"])
}

/// LongRoPE from config.json: factors and original context from `rope_parameters` (or `rope_scaling`, with the
/// original context at the top level as Phi-3's config.json keeps it), the attention factor as transformers
/// derives it when absent.
private func longRope(_ r: HFConfig.RopeParameters, _ hf: HFConfig, _ c: ModelConfig, path: String) throws -> Phi3LongRope {
    guard let short = r.short_factor, let long = r.long_factor else {
        throw VaneError("\(path): RoPE scaling \"longrope\" needs \"short_factor\" and \"long_factor\"")
    }
    guard let original = r.original_max_position_embeddings ?? hf.original_max_position_embeddings, original > 0 else {
        throw VaneError("\(path): RoPE scaling \"longrope\" needs a positive \"original_max_position_embeddings\"")
    }
    let factor = r.factor ?? Double(c.maxPositionEmbeddings) / Double(original)
    let rope = Phi3LongRope(shortFactor: short.map(Float.init), longFactor: long.map(Float.init),
                            originalMaxPositionEmbeddings: original,
                            attentionFactor: r.attention_factor.map(Float.init)
                                ?? Phi3LongRope.defaultAttentionFactor(factor: factor, original: original))
    try rope.validate(rotaryDims: c.ropeDimensions ?? c.headDim, path: path)
    return rope
}

/// LongRoPE from a GGUF file as llama.cpp's converter writes it: both factor tensors, the original context and the
/// attention factor (1 when absent); nil when the file has no factor tensors.
private func longRope(_ file: GGUFFile, _ c: ModelConfig) throws -> Phi3LongRope? {
    let path = file.url.path
    let tensors = [Phi3LongRope.shortTensor, Phi3LongRope.longTensor].map(file.tensor(named:))
    guard tensors.contains(where: { $0 != nil }) else { return nil }
    guard let short = tensors[0], let long = tensors[1] else {
        throw VaneError("\(path): LongRoPE needs both \(Phi3LongRope.shortTensor) and \(Phi3LongRope.longTensor); the file has one")
    }
    let arch = c.architecture
    guard let original = try file.count(FamilyKeys.ropeScalingOriginalContext, arch: arch, range: 1...(1 << 24)) else {
        throw VaneError("\(path): metadata key \(arch).\(FamilyKeys.ropeScalingOriginalContext) is missing; LongRoPE needs the original context")
    }
    let rope = Phi3LongRope(shortFactor: dequantize(short).data, longFactor: dequantize(long).data,
                            originalMaxPositionEmbeddings: original,
                            attentionFactor: try file.positive(FamilyKeys.ropeScalingAttnFactor, arch: arch) ?? 1)
    try rope.validate(rotaryDims: c.ropeDimensions ?? c.headDim, path: path)
    return rope
}

/// phi3: Phi-3 and Phi-3.5 (mini, medium), Phi-4-mini. llama's block with q, k and v in one fused `qkv_proj`
/// and gate and up in one `gate_up_proj`; GGUF keeps both fused (`attn_qkv`, `ffn_up` holding gate then up)
/// and the engine splits them once at bind. RoPE pairs NeoX-style, over the first `partial_rotary_factor` ·
/// head_dim dims of each head; a `sliding_window` applies to every layer. `longrope`/`su` scaling is refused.
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
            return j
        },
        ggufExtras: { c in
            [(ConfigKeys.ropeDimensionCount.gguf, .uint32(UInt32(c.ropeDimensions ?? c.headDim))),
             (FamilyKeys.slidingWindow, .uint32(UInt32(c.slidingWindow ?? 0)))]
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
        },
        readGGUF: { file, c in
            let arch = c.architecture
            if file.tensors.contains(where: { $0.name.hasPrefix("rope_factors_") }) {
                throw VaneError("\(file.url.path): longrope scaling (rope_factors_long/short) is not supported (only unscaled RoPE)")
            }
            if let dims = try file.count(ConfigKeys.ropeDimensionCount.gguf, arch: arch, range: ConfigKeys.ropeDimensionCount.range),
               dims != c.headDim {
                guard dims % 2 == 0, dims < c.headDim else {
                    throw VaneError("\(file.url.path): \(arch).rope.dimension_count is \(dims); expected an even number up to head_dim \(c.headDim)")
                }
                c.ropeDimensions = dims
            }
            if let w = try file.count(FamilyKeys.slidingWindow, arch: arch, range: slidingWindowRange), w > 0 { c.slidingWindow = w }
        })
}

/// gemma3: Gemma 3 text models (config.json `gemma3_text`). Gemma 2's block with per-head (1 + w) RMSNorm on q
/// and k, `layer_types` choosing sliding or full attention per layer, a RoPE base of its own for the sliding
/// layers, and no soft-capping in the released models (read when a config sets it).
///
/// llama.cpp's converter keeps `sliding_window` but drops `layer_types`: its loader assumes every sixth layer
/// full, and so does Vane for a GGUF without `gemma3.attention.sliding_window_pattern` (which Vane writes).
extension ArchitectureSpec {
    public static let gemma3 = ArchitectureSpec(
        name: "gemma3",
        modelTypes: ["gemma3_text"],
        hfClass: "Gemma3ForCausalLM",
        ggufRope: .neox,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: Gemma.tensors + [
            .rename("self_attn.q_norm.weight", "attn_q_norm.weight", offset: 1),
            .rename("self_attn.k_norm.weight", "attn_k_norm.weight", offset: 1),
        ],
        hfConfigExtras: { c in
            var j = Gemma.hfConfig(c)
            let local = (c.ropeLocalTheta ?? 10000).shortestDecimal, global = c.ropeTheta.shortestDecimal
            j["rope_local_base_freq"] = .double(local)
            j["rope_parameters"] = .object([
                "full_attention": .object(["rope_theta": .double(global), "rope_type": .string("default")]),
                "sliding_attention": .object(["rope_theta": .double(local), "rope_type": .string("default")]),
            ])
            return j
        },
        ggufExtras: { c in
            Gemma.ggufKeys(c) + [
                (FamilyKeys.ropeFreqBaseSWA, .float32(c.ropeLocalTheta ?? 10000)),
                (FamilyKeys.slidingWindowPattern, .array((0..<c.numHiddenLayers).map { .bool(c.isSliding($0)) })),
            ]
        },
        checkHF: { _, _ in },
        readHF: { hf, c, path in
            try Gemma.read(hf, &c, pattern: 6, path: path)
            let rope = hf.rope_parameters
            for (type, r) in [("full_attention", rope?.full_attention), ("sliding_attention", rope?.sliding_attention)] {
                if let kind = r?.rope_type, kind != "default" {
                    throw VaneError("\(path): RoPE scaling \"\(kind)\" of the \(type) layers is not supported (only unscaled RoPE)")
                }
            }
            if let global = rope?.full_attention?.rope_theta {
                c.ropeTheta = try ConfigKeys.check(global, name: "rope_parameters.full_attention.rope_theta", path: path)
            }
            c.ropeLocalTheta = try ConfigKeys.check(rope?.sliding_attention?.rope_theta ?? hf.rope_local_base_freq ?? 10000,
                                                    name: "rope_local_base_freq", path: path)
        },
        readGGUF: { file, c in
            try Gemma.read(file, &c, pattern: 6, layers27B: 62)
            c.ropeLocalTheta = try file.positive(FamilyKeys.ropeFreqBaseSWA, arch: c.architecture) ?? 10000
        },
        postNorms: true)
}

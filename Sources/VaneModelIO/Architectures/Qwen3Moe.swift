/// qwen3moe: Qwen3-MoE (Qwen3-30B-A3B and its relatives). Qwen3's attention (no q/k/v biases unless
/// `attention_bias`, an RMSNorm over each head of q and k before RoPE, its own `head_dim`) with a routed MLP: a
/// softmax router over `num_experts` SwiGLU experts (`moe_intermediate_size` wide), the top `num_experts_per_tok`
/// kept and renormalised when `norm_topk_prob`; no shared expert. Layers named by `mlp_only_layers` or skipped by
/// `decoder_sparse_step` have a dense MLP. GGUF keeps NeoX pairing and stacks the experts as llama.cpp's converter
/// does; llama.cpp's qwen3moe always renormalises the top-k weights, so a file without `expert_weights_norm` reads
/// as renormalised.
extension ArchitectureSpec {
    public static let qwen3moe = ArchitectureSpec(
        name: "qwen3moe",
        modelTypes: ["qwen3_moe"],
        hfClass: "Qwen3MoeForCausalLM",
        ggufRope: .neox,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder + TensorBinding.qkNorms + TensorBinding.routedExperts,
        hfConfigExtras: { c in
            TensorBinding.moeConfig(c).merging([
                "attention_bias": .bool(c.attentionBias),
                "use_sliding_window": .bool(false),
                "decoder_sparse_step": .int(1),
                "mlp_only_layers": .list((c.moe?.denseLayers ?? []).map(JSONScalar.int)),
            ]) { $1 }
        },
        ggufExtras: { c in
            var out: [(key: String, value: GGUFValue)] = [(ConfigKeys.headDim.gguf, .uint32(UInt32(c.headDim))),
                                                          (ConfigKeys.valueDim.gguf, .uint32(UInt32(c.headDim)))]
            guard let moe = c.moe else { return out }
            out += [(ConfigKeys.expertCount.gguf, .uint32(UInt32(moe.experts))),
                    (ConfigKeys.expertUsedCount.gguf, .uint32(UInt32(moe.expertsPerToken))),
                    (ConfigKeys.expertFeedForwardLength.gguf, .uint32(UInt32(moe.expertIntermediateSize)))]
            // llama.cpp renormalises regardless; the key keeps Vane's reading of a norm_topk_prob false model right.
            if !moe.normTopKProb { out.append((ConfigKeys.expertWeightsNorm, .bool(false))) }
            return out
        },
        checkHF: { c, path in
            if (c.shared_expert_intermediate_size ?? 0) > 0 {
                throw VaneError("\(path): qwen3_moe has no shared expert, but shared_expert_intermediate_size is \(c.shared_expert_intermediate_size!)")
            }
        },
        readGGUF: { file, c in
            if file.metadata["qwen3moe.\(ConfigKeys.expertWeightsNorm)"] == nil { c.moe?.normTopKProb = true }
        },
        qkNorm: .perHead,
        hasExperts: true)
}

extension TensorBinding {
    /// Per-head or whole-projection q/k RMSNorm weights (Qwen3, OLMo 2, OLMoE).
    static let qkNorms: [TensorBinding] = [
        .rename("self_attn.q_norm.weight", "attn_q_norm.weight"),
        .rename("self_attn.k_norm.weight", "attn_k_norm.weight"),
    ]

    /// A router and one SwiGLU MLP per expert under `mlp.` (Qwen2-MoE, Qwen3-MoE, OLMoE), stacked in GGUF; read in
    /// transformers 5's fused layout too.
    static let routedExperts: [TensorBinding] = [
        .rename("mlp.gate.weight", "ffn_gate_inp.weight"),
        .stacked("mlp.experts.{E}.gate_proj.weight", "ffn_gate_exps.weight"),
        .stacked("mlp.experts.{E}.up_proj.weight", "ffn_up_exps.weight"),
        .stacked("mlp.experts.{E}.down_proj.weight", "ffn_down_exps.weight"),
    ] + fusedExperts(prefix: "mlp.experts")

    /// config.json's routing keys as transformers' Qwen-MoE and OLMoE configs name them.
    static func moeConfig(_ c: ModelConfig) -> [String: JSONScalar] {
        let moe = c.moe
        return [ConfigKeys.expertCount.hf: .int(moe?.experts ?? 0),
                ConfigKeys.expertUsedCount.hf: .int(moe?.expertsPerToken ?? 0),
                ConfigKeys.expertFeedForwardLength.hf: .int(moe?.expertIntermediateSize ?? 0),
                "norm_topk_prob": .bool(moe?.normTopKProb ?? false)]
    }
}

/// qwen2moe: Qwen1.5-MoE, Qwen2-MoE. qwen2's attention (q/k/v biases, NeoX RoPE in GGUF too) with a routed MLP:
/// a softmax router over `num_experts` SwiGLU experts, the top `num_experts_per_tok` kept (renormalised when
/// `norm_topk_prob`), plus a shared expert scaled by a sigmoid gate. Layers named by `mlp_only_layers` or skipped
/// by `decoder_sparse_step` have a dense MLP. GGUF stacks the experts as llama.cpp's converter does.
extension ArchitectureSpec {
    public static let qwen2moe = ArchitectureSpec(
        name: "qwen2moe",
        modelTypes: ["qwen2_moe"],
        hfClass: "Qwen2MoeForCausalLM",
        ggufRope: .neox,
        qkvBias: .always,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder + TensorBinding.routedExperts + [
            .rename("mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"),
            .rename("mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"),
            .rename("mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"),
            .rename("mlp.shared_expert_gate.weight", "ffn_gate_inp_shexp.weight"),
        ],
        hfConfigExtras: { c in
            let moe = c.moe
            return [
                "use_sliding_window": .bool(false),
                "qkv_bias": .bool(true),
                ConfigKeys.expertCount.hf: .int(moe?.experts ?? 0),
                ConfigKeys.expertUsedCount.hf: .int(moe?.expertsPerToken ?? 0),
                ConfigKeys.expertFeedForwardLength.hf: .int(moe?.expertIntermediateSize ?? 0),
                ConfigKeys.expertSharedFeedForwardLength.hf: .int(moe?.sharedExpertIntermediateSize ?? 0),
                "norm_topk_prob": .bool(moe?.normTopKProb ?? false),
                "decoder_sparse_step": .int(1),
                "mlp_only_layers": .list((moe?.denseLayers ?? []).map(JSONScalar.int)),
            ]
        },
        ggufExtras: { c in
            var out: [(key: String, value: GGUFValue)] = c.headDim == c.hiddenSize / max(c.numAttentionHeads, 1) ? []
                : [(ConfigKeys.headDim.gguf, .uint32(UInt32(c.headDim))),
                   (ConfigKeys.valueDim.gguf, .uint32(UInt32(c.headDim)))]
            guard let moe = c.moe else { return out }
            out += [(ConfigKeys.expertCount.gguf, .uint32(UInt32(moe.experts))),
                    (ConfigKeys.expertUsedCount.gguf, .uint32(UInt32(moe.expertsPerToken))),
                    (ConfigKeys.expertFeedForwardLength.gguf, .uint32(UInt32(moe.expertIntermediateSize)))]
            if moe.sharedExpertIntermediateSize > 0 {
                out.append((ConfigKeys.expertSharedFeedForwardLength.gguf, .uint32(UInt32(moe.sharedExpertIntermediateSize))))
            }
            // llama.cpp's qwen2moe never renormalises; the key keeps Vane's reading of the file right.
            if moe.normTopKProb { out.append((ConfigKeys.expertWeightsNorm, .bool(true))) }
            return out
        },
        checkHF: { _, _ in },
        hasExperts: true)
}

/// olmoe: OLMoE. Pre-norm blocks like llama (no OLMo 2 post-norms), with q and k RMS-normalized over the whole
/// projection as OLMo 2 does (`q_norm` [H·hd], `k_norm` [KV·hd]) before RoPE, and a routed MLP: a softmax router
/// over `num_experts` SwiGLU experts (`intermediate_size` wide), the top `num_experts_per_tok` kept, renormalised
/// only when `norm_topk_prob`. GGUF keeps NeoX pairing and stacks the experts; llama.cpp writes no
/// `expert_feed_forward_length` (the experts are `feed_forward_length` wide) and never renormalises.
extension ArchitectureSpec {
    public static let olmoe = ArchitectureSpec(
        name: "olmoe",
        modelTypes: ["olmoe"],
        hfClass: "OlmoeForCausalLM",
        ggufRope: .neox,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder + TensorBinding.qkNorms + TensorBinding.routedExperts,
        hfConfigExtras: { c in
            var out = TensorBinding.moeConfig(c)
            out["attention_bias"] = .bool(c.attentionBias)
            // OLMoE's experts are intermediate_size wide; transformers' config has no moe_intermediate_size.
            out[ConfigKeys.expertFeedForwardLength.hf] = nil
            return out
        },
        ggufExtras: { c in
            guard let moe = c.moe else { return [] }
            var out: [(key: String, value: GGUFValue)] = [
                (ConfigKeys.expertCount.gguf, .uint32(UInt32(moe.experts))),
                (ConfigKeys.expertUsedCount.gguf, .uint32(UInt32(moe.expertsPerToken)))]
            if moe.normTopKProb { out.append((ConfigKeys.expertWeightsNorm, .bool(true))) }
            return out
        },
        checkHF: { c, path in
            if c.mlp_only_layers?.isEmpty == false || (c.decoder_sparse_step ?? 1) != 1 {
                throw VaneError("\(path): olmoe has experts in every layer; mlp_only_layers / decoder_sparse_step are not read")
            }
            if let m = c.moe_intermediate_size, m != c.intermediate_size {
                throw VaneError("\(path): olmoe's experts are intermediate_size (\(c.intermediate_size ?? 0)) wide; moe_intermediate_size \(m) is not read")
            }
            if c.clip_qkv != nil {
                throw VaneError("\(path): clip_qkv is not supported", hint: "set it to null: Vane runs OLMoE without clipping q/k/v")
            }
        },
        qkNorm: .wholeProjection,
        hasExperts: true)
}

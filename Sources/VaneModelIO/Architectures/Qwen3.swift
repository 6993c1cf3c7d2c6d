/// qwen3: Qwen3 dense models. qwen2's layout without q/k/v biases (unless `attention_bias`), with an RMSNorm over
/// each head of q and k before RoPE (`q_norm`/`k_norm` [head_dim]) and a `head_dim` set apart from hidden / heads.
/// GGUF keeps HF's NeoX RoPE pairing (no Q/K permutation), as llama.cpp's converter writes it.
extension ArchitectureSpec {
    public static let qwen3 = ArchitectureSpec(
        name: "qwen3",
        modelTypes: ["qwen3"],
        hfClass: "Qwen3ForCausalLM",
        ggufRope: .neox,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder + [
            .rename("self_attn.q_norm.weight", "attn_q_norm.weight"),
            .rename("self_attn.k_norm.weight", "attn_k_norm.weight"),
        ],
        hfConfigExtras: { c in ["attention_bias": .bool(c.attentionBias), "use_sliding_window": .bool(false)] },
        ggufExtras: { c in
            [(ConfigKeys.headDim.gguf, .uint32(UInt32(c.headDim))),
             (ConfigKeys.valueDim.gguf, .uint32(UInt32(c.headDim)))]
        },
        checkHF: { _, _ in })
}

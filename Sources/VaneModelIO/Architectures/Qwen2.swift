/// qwen2: Qwen2/2.5, DeepSeek-R1-Distill-Qwen. llama's layout with q/k/v biases always; GGUF keeps HF's NeoX
/// RoPE pairing (no Q/K permutation).
extension ArchitectureSpec {
    public static let qwen2 = ArchitectureSpec(
        name: "qwen2",
        modelTypes: ["qwen2"],
        hfClass: "Qwen2ForCausalLM",
        ggufRope: .neox,
        qkvBias: .always,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder,
        hfConfigExtras: { _ in ["use_sliding_window": .bool(false)] },
        ggufExtras: { c in
            c.headDim == c.hiddenSize / max(c.numAttentionHeads, 1) ? []
                : [(ConfigKeys.headDim.gguf, .uint32(UInt32(c.headDim))),
                   (ConfigKeys.valueDim.gguf, .uint32(UInt32(c.headDim)))]
        },
        checkHF: { _, _ in })
}

/// llama: SmolLM2, Llama 2, Mistral without sliding window (HF `mistral` reads as llama, as llama.cpp's converter
/// writes it). GGUF files hold Q/K rows permuted for adjacent-pair RoPE; q/k/v biases only with
/// `attention_bias`.
extension ArchitectureSpec {
    public static let llama = ArchitectureSpec(
        name: "llama",
        modelTypes: ["llama", "mistral"],
        hfClass: "LlamaForCausalLM",
        ggufRope: .adjacent,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder,
        hfConfigExtras: { c in ["attention_bias": .bool(c.attentionBias), "mlp_bias": .bool(false)] },
        ggufExtras: { c in
            [(ConfigKeys.headDim.gguf, .uint32(UInt32(c.headDim))),
             (ConfigKeys.valueDim.gguf, .uint32(UInt32(c.headDim))),
             (ConfigKeys.vocabSize.gguf, .uint32(UInt32(c.vocabSize))),
             (ConfigKeys.ropeDimensionCount.gguf, .uint32(UInt32(c.headDim)))]
        },
        checkHF: { c, path in
            if c.model_type == "mistral", c.sliding_window != nil {
                throw VaneError("\(path): sliding-window attention is not supported")
            }
        })
}

/// llama: SmolLM2, Llama 2, Llama 3.x (RoPE scaling `llama3`: RopeScaling.swift), Mistral (HF `mistral` reads as
/// llama, as llama.cpp's converter writes it). GGUF files hold Q/K rows permuted for adjacent-pair RoPE; q/k/v
/// biases only with `attention_bias`.
///
/// Mistral's sliding window: llama.cpp's converter writes Mistral as plain `llama` without it, so such a GGUF runs
/// with full attention (the same outputs up to the window's length, different after). Vane's own `convert` keeps
/// it as `llama.attention.sliding_window` (llama.cpp ignores the key for `llama`), and writes a GGUF that has it
/// back to HF as `mistral`.
extension ArchitectureSpec {
    public static let llama = ArchitectureSpec(
        name: "llama",
        modelTypes: ["llama", "mistral"],
        hfClass: "LlamaForCausalLM",
        ggufRope: .adjacent,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder,
        hfConfigExtras: { c in
            var extras: [String: JSONScalar] = ["attention_bias": .bool(c.attentionBias), "mlp_bias": .bool(false)]
            if let window = c.slidingWindow {
                extras["model_type"] = .string("mistral")
                extras["architectures"] = .list([.string("MistralForCausalLM")])
                extras[ConfigKeys.slidingWindow.hf] = .int(window)
            }
            return extras
        },
        ggufExtras: { c in
            [(ConfigKeys.headDim.gguf, .uint32(UInt32(c.headDim))),
             (ConfigKeys.valueDim.gguf, .uint32(UInt32(c.headDim))),
             (ConfigKeys.vocabSize.gguf, .uint32(UInt32(c.vocabSize))),
             (ConfigKeys.ropeDimensionCount.gguf, .uint32(UInt32(c.headDim)))]
                + (c.slidingWindow.map { [(ConfigKeys.slidingWindow.gguf, .uint32(UInt32($0)))] } ?? [])
        },
        checkHF: { _, _ in })
}

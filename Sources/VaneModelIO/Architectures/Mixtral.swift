/// mixtral: Mixtral 8x7B and its tiny relatives. llama's attention with a routed MLP: a softmax router over
/// `num_local_experts` SwiGLU experts (`intermediate_size` wide), the top `num_experts_per_tok` kept and
/// renormalised. llama.cpp writes these files as `llama` with `llama.expert_count` and stacked experts, Q/K
/// permuted as for llama.
extension ArchitectureSpec {
    public static let mixtral = ArchitectureSpec(
        name: "mixtral",
        modelTypes: ["mixtral"],
        hfClass: "MixtralForCausalLM",
        ggufRope: .adjacent,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder + [
            .rename("block_sparse_moe.gate.weight", "ffn_gate_inp.weight"),
            .stacked("block_sparse_moe.experts.{E}.w1.weight", "ffn_gate_exps.weight"),
            .stacked("block_sparse_moe.experts.{E}.w3.weight", "ffn_up_exps.weight"),
            .stacked("block_sparse_moe.experts.{E}.w2.weight", "ffn_down_exps.weight"),
            // transformers 5 renames block_sparse_moe to mlp and fuses the experts.
            .rename("mlp.gate.weight", "ffn_gate_inp.weight"),
        ] + TensorBinding.fusedExperts(prefix: "mlp.experts"),
        hfConfigExtras: { c in
            ["num_local_experts": .int(c.moe?.experts ?? 0),
             ConfigKeys.expertUsedCount.hf: .int(c.moe?.expertsPerToken ?? 0)]
        },
        ggufExtras: { c in
            [(ConfigKeys.vocabSize.gguf, .uint32(UInt32(c.vocabSize))),
             (ConfigKeys.ropeDimensionCount.gguf, .uint32(UInt32(c.headDim))),
             (ConfigKeys.expertCount.gguf, .uint32(UInt32(c.moe?.experts ?? 0))),
             (ConfigKeys.expertUsedCount.gguf, .uint32(UInt32(c.moe?.expertsPerToken ?? 0)))]
        },
        checkHF: { c, path in
            if c.sliding_window != nil {
                throw VaneError("\(path): sliding-window attention is not supported")
            }
            if c.mlp_only_layers?.isEmpty == false || (c.decoder_sparse_step ?? 1) != 1 {
                throw VaneError("\(path): mixtral has experts in every layer; mlp_only_layers / decoder_sparse_step are not read")
            }
        },
        ggufName: "llama",
        hasExperts: true,
        normTopKDefault: true)
}

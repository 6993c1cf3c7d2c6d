/// olmo2: OLMo 2. No norm before attention or the MLP; an RMSNorm after each (`post_attention_layernorm`,
/// `post_feedforward_layernorm`), applied to the sublayer's output before it joins the residual; RMSNorm of q and
/// k over the whole projection (`q_norm` [H·hd], `k_norm` [KV·hd]), before RoPE. GGUF keeps NeoX pairing.
extension ArchitectureSpec {
    public static let olmo2 = ArchitectureSpec(
        name: "olmo2",
        modelTypes: ["olmo2"],
        hfClass: "Olmo2ForCausalLM",
        ggufRope: .neox,
        qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: TensorBinding.decoder.filter { !["input_layernorm.weight", "post_attention_layernorm.weight"].contains($0.hf) } + [
            .rename("self_attn.q_norm.weight", "attn_q_norm.weight"),
            .rename("self_attn.k_norm.weight", "attn_k_norm.weight"),
            .rename("post_attention_layernorm.weight", "post_attention_norm.weight"),
            .rename("post_feedforward_layernorm.weight", "post_ffw_norm.weight"),
        ],
        hfConfigExtras: { c in ["attention_bias": .bool(c.attentionBias)] },
        ggufExtras: { _ in [] },
        checkHF: { _, _ in },
        postNorms: true)
}

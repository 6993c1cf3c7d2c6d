/// The one name table between HF checkpoints and GGUF. Vane's internal tensor names are GGUF's (llama.cpp
/// `LLM_TENSOR_NAMES`), so a GGUF file needs no renaming and an HF folder is renamed once at load.
public enum TensorNames {
    /// (HF suffix after `model.layers.{L}.`, GGUF suffix after `blk.{L}.`)
    static let perLayer: [(hf: String, gguf: String)] = [
        ("input_layernorm.weight", "attn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"),
        ("self_attn.q_proj.bias", "attn_q.bias"),
        ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.k_proj.bias", "attn_k.bias"),
        ("self_attn.v_proj.weight", "attn_v.weight"),
        ("self_attn.v_proj.bias", "attn_v.bias"),
        ("self_attn.o_proj.weight", "attn_output.weight"),
        ("self_attn.o_proj.bias", "attn_output.bias"),
        ("post_attention_layernorm.weight", "ffn_norm.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"),
        ("mlp.up_proj.weight", "ffn_up.weight"),
        ("mlp.down_proj.weight", "ffn_down.weight"),
        ("mlp.down_proj.bias", "ffn_down.bias"),
    ]

    static let global: [(hf: String, gguf: String)] = [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ]

    /// HF tensors that carry no weights (buffers older checkpoints saved); dropped at load.
    static let ignoredHF: [String] = ["rotary_emb.inv_freq"]

    /// GGUF name of an HF tensor name, nil when the table has none.
    public static func gguf(fromHF name: String) -> String? {
        if let g = global.first(where: { $0.hf == name }) { return g.gguf }
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        return perLayer.first(where: { $0.hf == suffix }).map { "blk.\(layer).\($0.gguf)" }
    }

    /// HF name of a GGUF tensor name, nil when the table has none.
    public static func hf(fromGGUF name: String) -> String? {
        if let g = global.first(where: { $0.gguf == name }) { return g.hf }
        let prefix = "blk."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        return perLayer.first(where: { $0.gguf == suffix }).map { "model.layers.\(layer).\($0.hf)" }
    }

    static func isIgnoredHF(_ name: String) -> Bool { ignoredHF.contains { name.hasSuffix($0) } }
}

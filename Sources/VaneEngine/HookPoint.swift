/// Named places in the forward pass where a hook may read or modify activations, with TransformerLens names.
///
///     hook_embed                   [T, d]      token embeddings (= blocks.0.hook_resid_pre)
///     blocks.L.hook_resid_pre      [T, d]      input to block L
///     blocks.L.attn.hook_z         [T, H, hd]  per-head attention output, before o_proj
///     blocks.L.attn.hook_result    [T, H, d]   per-head contribution to the residual, z_h · W_O[:, h]ᵀ
///     blocks.L.hook_attn_out       [T, d]      o_proj output
///     blocks.L.hook_resid_mid      [T, d]      resid_pre + attn_out
///     blocks.L.hook_mlp_out        [T, d]      down_proj output
///     blocks.L.hook_resid_post     [T, d]      resid_mid + mlp_out (llama.cpp's "l_out")
///     ln_final.hook_normalized     [T, d]      after the final RMSNorm
public enum HookPoint: Hashable, Sendable, CustomStringConvertible {
    case embed
    case residPre(Int)
    case attnZ(Int)
    case attnResult(Int)
    case attnOut(Int)
    case residMid(Int)
    case mlpOut(Int)
    case residPost(Int)
    case lnFinal

    public var layer: Int? {
        switch self {
        case .embed, .lnFinal: nil
        case .residPre(let l), .attnZ(let l), .attnResult(let l), .attnOut(let l), .residMid(let l),
             .mlpOut(let l), .residPost(let l): l
        }
    }

    public var description: String {
        switch self {
        case .embed: "hook_embed"
        case .lnFinal: "ln_final.hook_normalized"
        case .residPre(let l): "blocks.\(l).hook_resid_pre"
        case .attnZ(let l): "blocks.\(l).attn.hook_z"
        case .attnResult(let l): "blocks.\(l).attn.hook_result"
        case .attnOut(let l): "blocks.\(l).hook_attn_out"
        case .residMid(let l): "blocks.\(l).hook_resid_mid"
        case .mlpOut(let l): "blocks.\(l).hook_mlp_out"
        case .residPost(let l): "blocks.\(l).hook_resid_post"
        }
    }

    /// Every hook point of a model with `layers` blocks, in forward order.
    public static func all(layers: Int) -> [HookPoint] {
        var out: [HookPoint] = [.embed]
        for l in 0..<layers {
            out += [.residPre(l), .attnZ(l), .attnResult(l), .attnOut(l), .residMid(l), .mlpOut(l), .residPost(l)]
        }
        out.append(.lnFinal)
        return out
    }
}

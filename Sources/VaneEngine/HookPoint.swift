import VaneCore

/// Named places in the forward pass where a hook may read or modify activations, with TransformerLens names.
///
///     hook_embed                   [T, d]      token embeddings (= blocks.0.hook_resid_pre)
///     blocks.L.hook_resid_pre      [T, d]      input to block L
///     blocks.L.attn.hook_q         [T, H, hd]  query projection (+ bias), before any q norm and RoPE
///     blocks.L.attn.hook_k         [T, KV, hd] key projection, likewise
///     blocks.L.attn.hook_v         [T, KV, hd] value projection
///     blocks.L.attn.hook_rot_q     [T, H, hd]  queries as attention uses them: after the q norm and RoPE
///     blocks.L.attn.hook_rot_k     [T, KV, hd] keys as cached: after the k norm and RoPE
///     blocks.L.attn.hook_pattern   [H, T, S]   softmax attention weights of the T queries over the S = p0 + T
///                                              positions so far (0 where masked); heads first, not rows first,
///                                              so it is not one row per token: computed only when hooked
///     blocks.L.attn.hook_z         [T, H, hd]  per-head attention output, before o_proj
///     blocks.L.attn.hook_result    [T, H, d]   per-head contribution to the residual, z_h · W_O[:, h]ᵀ
///     blocks.L.hook_attn_out       [T, d]      o_proj output
///     blocks.L.hook_resid_mid      [T, d]      resid_pre + attn_out
///     blocks.L.mlp.hook_post       [T, F]      the activation entering down_proj (silu(gate) ⊙ up)
///     blocks.L.hook_mlp_out        [T, d]      down_proj output
///     blocks.L.hook_resid_post     [T, d]      resid_mid + mlp_out (llama.cpp's "l_out")
///     ln_final.hook_normalized     [T, d]      after the final RMSNorm
///
/// Mixture-of-experts blocks (ModelConfig.moe) also have, for E experts:
///
///     blocks.L.mlp.hook_router_logits   [T, E]  router logits before softmax and top-k; a write changes routing
///     blocks.L.mlp.hook_expert_weights  [T, E]  each expert's weight after top-k (and renormalisation), 0 for
///                                               the unselected; a write changes the mix (0 drops an expert)
///     blocks.L.mlp.hook_expert_out      [T, E, d] each expert's output for each token, before its routing weight
///                                               multiplies it; zero rows for the experts a token does not use.
///                                               Computed only when hooked; a write changes the MLP output (m[t] =
///                                               Σ_e w[t, e] · expert_out[t, e] over the selected e)
public enum HookPoint: Hashable, Sendable, CustomStringConvertible {
    case embed
    case residPre(Int)
    case attnQ(Int)
    case attnK(Int)
    case attnV(Int)
    case attnRotQ(Int)
    case attnRotK(Int)
    case attnPattern(Int)
    case attnZ(Int)
    case attnResult(Int)
    case attnOut(Int)
    case residMid(Int)
    case mlpPost(Int)
    case mlpOut(Int)
    case residPost(Int)
    case lnFinal
    // Mixture-of-experts points.
    case routerLogits(Int)
    case expertWeights(Int)
    case expertOut(Int)

    public var layer: Int? {
        switch self {
        case .embed, .lnFinal: nil
        case .residPre(let l), .attnQ(let l), .attnK(let l), .attnV(let l), .attnRotQ(let l), .attnRotK(let l),
             .attnPattern(let l), .attnZ(let l), .attnResult(let l), .attnOut(let l), .residMid(let l),
             .mlpPost(let l), .mlpOut(let l), .residPost(let l): l
        case .routerLogits(let l), .expertWeights(let l), .expertOut(let l): l
        }
    }

    /// Whether the activation is one row per token ([T, …]): all but attn.hook_pattern [H, T, S], which activation
    /// stores (one row per token or per example) cannot hold.
    public var isPerToken: Bool {
        if case .attnPattern = self { false } else { true }
    }

    public var description: String {
        switch self {
        case .embed: "hook_embed"
        case .lnFinal: "ln_final.hook_normalized"
        case .residPre(let l): "blocks.\(l).hook_resid_pre"
        case .attnQ(let l): "blocks.\(l).attn.hook_q"
        case .attnK(let l): "blocks.\(l).attn.hook_k"
        case .attnV(let l): "blocks.\(l).attn.hook_v"
        case .attnRotQ(let l): "blocks.\(l).attn.hook_rot_q"
        case .attnRotK(let l): "blocks.\(l).attn.hook_rot_k"
        case .attnPattern(let l): "blocks.\(l).attn.hook_pattern"
        case .attnZ(let l): "blocks.\(l).attn.hook_z"
        case .attnResult(let l): "blocks.\(l).attn.hook_result"
        case .attnOut(let l): "blocks.\(l).hook_attn_out"
        case .residMid(let l): "blocks.\(l).hook_resid_mid"
        case .mlpPost(let l): "blocks.\(l).mlp.hook_post"
        case .mlpOut(let l): "blocks.\(l).hook_mlp_out"
        case .residPost(let l): "blocks.\(l).hook_resid_post"
        case .routerLogits(let l): "blocks.\(l).mlp.hook_router_logits"
        case .expertWeights(let l): "blocks.\(l).mlp.hook_expert_weights"
        case .expertOut(let l): "blocks.\(l).mlp.hook_expert_out"
        }
    }

    /// Every hook point of a model with `layers` blocks, in forward order; `experts` adds the routing points of
    /// the layers that have them (ModelConfig.MoE).
    public static func all(layers: Int, experts: (Int) -> Bool = { _ in false }) -> [HookPoint] {
        var out: [HookPoint] = [.embed]
        for l in 0..<layers {
            out += [.residPre(l), .attnQ(l), .attnK(l), .attnV(l), .attnRotQ(l), .attnRotK(l), .attnPattern(l),
                    .attnZ(l), .attnResult(l), .attnOut(l), .residMid(l)]
            // A layer with experts has no single [T, F] MLP activation: its routing points take mlp.hook_post's place.
            out += experts(l) ? [.routerLogits(l), .expertWeights(l), .expertOut(l)] : [.mlpPost(l)]
            out += [.mlpOut(l), .residPost(l)]
        }
        out.append(.lnFinal)
        return out
    }
}

extension HookPoint {
    /// Hook points whose names match `pattern`, where `*` stands for any run of characters (a layer number,
    /// typically: `blocks.*.hook_resid_post`). A pattern that matches nothing is an error that says why.
    public static func matching(_ patterns: [String], layers: Int, experts: (Int) -> Bool = { _ in false }) throws -> [HookPoint] {
        let all = HookPoint.all(layers: layers, experts: experts)
        var out: [HookPoint] = []
        for pattern in patterns {
            let hits = all.filter { glob(pattern, $0.description) }
            guard !hits.isEmpty else {
                if let l = layerNumber(pattern), l >= layers {
                    throw VaneError("hook \"\(pattern)\": layer \(l) is out of range; the model has layers 0…\(layers - 1)")
                }
                throw VaneError("hook \"\(pattern)\" matches no hook point; names are like "
                    + "hook_embed, blocks.*.hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out, "
                    + "blocks.*.attn.hook_q|hook_k|hook_v|hook_rot_q|hook_rot_k|hook_pattern|hook_z|hook_result, "
                    + "blocks.*.mlp.hook_post, ln_final.hook_normalized"
                    + " (mixture-of-experts models: blocks.*.mlp.hook_router_logits|hook_expert_weights|hook_expert_out)")
            }
            for h in hits where !out.contains(h) { out.append(h) }
        }
        return all.filter(out.contains)
    }

    private static func layerNumber(_ pattern: String) -> Int? {
        let parts = pattern.split(separator: ".")
        guard parts.count > 1, parts[0] == "blocks" else { return nil }
        return Int(parts[1])
    }

    private static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var i = 0, j = 0, star = -1, mark = 0
        while j < t.count {
            if i < p.count && p[i] != "*" && p[i] == t[j] {
                i += 1; j += 1
            } else if i < p.count && p[i] == "*" {
                star = i; mark = j; i += 1
            } else if star >= 0 {
                i = star + 1; mark += 1; j = mark
            } else {
                return false
            }
        }
        while i < p.count && p[i] == "*" { i += 1 }
        return i == p.count
    }
}

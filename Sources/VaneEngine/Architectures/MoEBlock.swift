import Foundation
import VaneModelIO
import VaneTensor

/// A mixture-of-experts block: qwen2moe, qwen3moe, olmoe and mixtral. Attention is llama's (LlamaBlock.swift; q/k/v
/// biases as the config says), with the q/k RMSNorm of Qwen3 (per head, weights [hd]) or OLMo 2 (over the whole
/// projection, weights [H·hd] and [KV·hd]) where the family's spec says (ArchitectureSpec.qkNorm). For T new tokens
/// (d = hidden, E experts, k = experts per token, F_e = expert width):
///
///     h = rmsnorm(x) · attn_norm                                           (x = blocks.L.hook_resid_pre)
///     q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ               [T, H, hd], [T, KV, hd], [T, KV, hd]  attn.hook_q, _k, _v
///     q = rmsnorm(q) · attn_q_norm, k likewise     (qwen3moe: each head; olmoe: each row; others: none)
///     rope(q), rope(k); attention as in LlamaBlock             attn.hook_rot_q/k, hook_pattern, hook_z, hook_result
///     x = x + o_proj(z)                                        hook_attn_out, hook_resid_mid
///     h = rmsnorm(x) · ffn_norm                                                     [T, d]
///     r = h · W_routerᵀ                                  [T, E]   mlp.hook_router_logits
///     w = top-k of softmax(r) per row, the rest 0        [T, E]   mlp.hook_expert_weights
///         (divided by the k weights' sum when norm_topk_prob; mixtral always)
///     for each expert e, over the rows t with w[t, e] ≠ 0 only:
///         y[t, e] = (silu(h[t]·W_gate,eᵀ) ⊙ h[t]·W_up,eᵀ) · W_down,eᵀ      [T, E, d]   mlp.hook_expert_out
///         m[t] += w[t, e] · y[t, e]                       (y kept, zero where unselected, only when hooked)
///     m += sigmoid(h·w_shared_gate) · swiglu-MLP_shared(h)        (qwen2moe's shared expert)
///                                                        [T, d]   hook_mlp_out
///     x = x + m                                                   hook_resid_post
///
/// A layer listed in ModelConfig.MoE.denseLayers has llama's dense MLP instead and no routing hooks. Since the
/// experts a token uses are those with a non-zero weight after the hook, a hook that writes 0 drops an expert
/// and one that scales a weight scales that expert's output.
struct MoEBlock: DecoderBlock {
    let attnNorm: [Float]
    let q, k, v, o: Linear
    let qBias, kBias, vBias, oBias: [Float]?
    /// RMSNorm weights of q and k, nil when the family has none; each normalizes groups of its own length (hd:
    /// every head apart; H·hd or KV·hd: the whole row).
    let qNorm, kNorm: [Float]?
    let ffnNorm: [Float]
    let mlp: MLP

    enum MLP {
        case dense(gate: Linear, up: Linear, down: Linear, downBias: [Float]?)
        case routed(Experts)
    }

    struct Experts {
        let router: Linear
        /// One matrix per expert, views into the stacked `ffn_*_exps` tensors.
        let gate, up, down: [Linear]
        let shared: (gate: Linear, up: Linear, down: Linear, scale: Linear)?
    }

    init(_ bind: inout TensorBinder, layer l: Int, config c: ModelConfig) throws {
        let p = "blk.\(l)."
        let (d, qDim, kvDim) = (c.hiddenSize, c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim)
        attnNorm = try bind.vector(p + "attn_norm.weight", d)
        q = try bind.matrix(p + "attn_q.weight", qDim, d)
        k = try bind.matrix(p + "attn_k.weight", kvDim, d)
        v = try bind.matrix(p + "attn_v.weight", kvDim, d)
        o = try bind.matrix(p + "attn_output.weight", d, qDim)
        qBias = try bind.bias(p + "attn_q.bias", qDim, required: c.attentionBias)
        kBias = try bind.bias(p + "attn_k.bias", kvDim, required: c.attentionBias)
        vBias = try bind.bias(p + "attn_v.bias", kvDim, required: c.attentionBias)
        oBias = try bind.bias(p + "attn_output.bias", d, required: false)
        switch try c.spec().qkNorm {
        case nil: (qNorm, kNorm) = (nil, nil)
        case .perHead:
            (qNorm, kNorm) = (try bind.vector(p + "attn_q_norm.weight", c.headDim), try bind.vector(p + "attn_k_norm.weight", c.headDim))
        case .wholeProjection:
            (qNorm, kNorm) = (try bind.vector(p + "attn_q_norm.weight", qDim), try bind.vector(p + "attn_k_norm.weight", kvDim))
        }
        ffnNorm = try bind.vector(p + "ffn_norm.weight", d)
        guard let moe = c.moe else { throw VaneError("\(bind.source): the config names no experts (expert_count)") }
        if !c.routes(l) {
            mlp = .dense(gate: try bind.matrix(p + "ffn_gate.weight", c.intermediateSize, d),
                         up: try bind.matrix(p + "ffn_up.weight", c.intermediateSize, d),
                         down: try bind.matrix(p + "ffn_down.weight", d, c.intermediateSize),
                         downBias: try bind.bias(p + "ffn_down.bias", d, required: false))
            return
        }
        let (E, Fe, Fs) = (moe.experts, moe.expertIntermediateSize, moe.sharedExpertIntermediateSize)
        mlp = .routed(Experts(
            router: try bind.matrix(p + "ffn_gate_inp.weight", E, d),
            gate: try bind.experts(p + "ffn_gate_exps.weight", E, Fe, d),
            up: try bind.experts(p + "ffn_up_exps.weight", E, Fe, d),
            down: try bind.experts(p + "ffn_down_exps.weight", E, d, Fe),
            shared: Fs == 0 ? nil : (gate: try bind.matrix(p + "ffn_gate_shexp.weight", Fs, d),
                                     up: try bind.matrix(p + "ffn_up_shexp.weight", Fs, d),
                                     down: try bind.matrix(p + "ffn_down_shexp.weight", d, Fs),
                                     scale: try bind.matrix(p + "ffn_gate_inp_shexp.weight", 1, d))))
    }

    func forward(_ x: FloatBuffer, layer l: Int, _ run: ForwardRun) {
        let c = run.config
        let (T, d, H, KV, hd) = (run.rows, c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim)
        run.hook(.residPre(l), x, [T, d])

        let h = run.buffers("h", T * d)
        let q = run.buffers("q", T * H * hd), k = run.buffers("k", T * KV * hd), v = run.buffers("v", T * KV * hd)
        Kernels.rmsNorm(x.p, attnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.linear(self.q, h, q, bias: qBias)
        run.linear(self.k, h, k, bias: kBias)
        run.linear(self.v, h, v, bias: vBias)
        run.hook(.attnQ(l), q, [T, H, hd])
        run.hook(.attnK(l), k, [T, KV, hd])
        run.hook(.attnV(l), v, [T, KV, hd])
        if let qNorm { Kernels.rmsNorm(q.p, qNorm, q.p, rows: T * H * hd / qNorm.count, dim: qNorm.count, eps: c.rmsNormEps) }
        if let kNorm { Kernels.rmsNorm(k.p, kNorm, k.p, rows: T * KV * hd / kNorm.count, dim: kNorm.count, eps: c.rmsNormEps) }
        run.rope(q, heads: H)
        run.rope(k, heads: KV)
        run.hook(.attnRotQ(l), q, [T, H, hd])
        run.hook(.attnRotK(l), k, [T, KV, hd])
        run.store(layer: l, keys: k, values: v)

        let z = run.buffers("z", T * H * hd)
        run.attention(q: q.p, layer: l, into: z.p, window: c.slidingWindow)
        run.hook(.attnZ(l), z, [T, H, hd])

        let attn = run.buffers("attn", T * d)
        run.output(o, z: z, bias: oBias, layer: l, into: attn)
        run.hook(.attnOut(l), attn, [T, d])

        add(attn, into: x)
        run.hook(.residMid(l), x, [T, d])

        let m = run.buffers("mlp", T * d)
        Kernels.rmsNorm(x.p, ffnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        switch mlp {
        case .dense(let gate, let up, let down, let downBias):
            let F = c.intermediateSize
            let g = run.buffers("gate", T * F), u = run.buffers("up", T * F)
            run.linear(gate, h, g, bias: nil)
            run.linear(up, h, u, bias: nil)
            Kernels.swiglu(g.p, u.p, count: T * F)
            run.hook(.mlpPost(l), g, [T, F])
            run.linear(down, g, m, bias: downBias)
        case .routed(let experts):
            routed(experts, h, into: m, layer: l, run)
        }
        run.hook(.mlpOut(l), m, [T, d])

        add(m, into: x)
        run.hook(.residPost(l), x, [T, d])
    }

    /// m = Σ_e w[:, e] · expert_e(h) over each expert's selected rows, plus the gated shared expert.
    private func routed(_ experts: Experts, _ h: FloatBuffer, into m: FloatBuffer, layer l: Int, _ run: ForwardRun) {
        let moe = run.config.moe!
        let (T, d, E, Fe) = (run.rows, run.config.hiddenSize, moe.experts, moe.expertIntermediateSize)
        let logits = run.buffers("router_logits", T * E)
        run.linear(experts.router, h, logits, bias: nil)
        run.hook(.routerLogits(l), logits, [T, E])

        let w = run.buffers("expert_weights", T * E)
        for t in 0..<T {
            Routing.topK(logits.p + t * E, into: w.p + t * E, experts: E, k: moe.expertsPerToken,
                         renormalise: moe.normTopKProb)
        }
        run.hook(.expertWeights(l), w, [T, E])

        for i in 0..<(T * d) { m.p[i] = 0 }
        // mlp.hook_expert_out keeps every expert's rows [T, E, d] for the hook, then weighs them into m in the order
        // the unhooked path adds them (by expert for each row), so reading it leaves m bit for bit as it was.
        let outs = run.sequences.contains { $0.hooks?.has(.expertOut(l)) == true } ? run.buffers("expert_outs", T * E * d) : nil
        if let outs { for i in 0..<(T * E * d) { outs.p[i] = 0 } }
        // Each expert runs on the rows routed to it, gathered into a contiguous block, one sequence of a batched
        // call at a time: its rows then meet the expert exactly as in a call of that sequence alone.
        let xe = run.buffers("expert_in", T * d), ye = run.buffers("expert_out", T * d)
        let ge = run.buffers("expert_gate", T * Fe), ue = run.buffers("expert_up", T * Fe)
        for e in 0..<E {
            for sequence in run.sequences {
                let rows = sequence.rows.filter { w.p[$0 * E + e] != 0 }
                guard !rows.isEmpty else { continue }
                for (i, t) in rows.enumerated() { (xe.p + i * d).update(from: h.p + t * d, count: d) }
                let n = rows.count
                run.linear(experts.gate[e], xe.p, rows: n, into: ge.p)
                run.linear(experts.up[e], xe.p, rows: n, into: ue.p)
                Kernels.swiglu(ge.p, ue.p, count: n * Fe)
                run.linear(experts.down[e], ge.p, rows: n, into: ye.p)
                for (i, t) in rows.enumerated() {
                    if let outs {
                        (outs.p + (t * E + e) * d).update(from: ye.p + i * d, count: d)
                        continue
                    }
                    let weight = w.p[t * E + e], src = ye.p + i * d, dst = m.p + t * d
                    for j in 0..<d { dst[j] += weight * src[j] }
                }
            }
        }
        if let outs {
            run.hook(.expertOut(l), outs, [T, E, d])
            for t in 0..<T {
                for e in 0..<E where w.p[t * E + e] != 0 {
                    let weight = w.p[t * E + e], src = outs.p + (t * E + e) * d, dst = m.p + t * d
                    for j in 0..<d { dst[j] += weight * src[j] }
                }
            }
        }

        guard let shared = experts.shared else { return }
        let Fs = moe.sharedExpertIntermediateSize
        let gs = run.buffers("shared_gate", T * Fs), us = run.buffers("shared_up", T * Fs)
        let ys = run.buffers("shared_out", T * d), scale = run.buffers("shared_scale", T)
        run.linear(shared.gate, h, gs, bias: nil)
        run.linear(shared.up, h, us, bias: nil)
        Kernels.swiglu(gs.p, us.p, count: T * Fs)
        run.linear(shared.down, gs, ys, bias: nil)
        run.linear(shared.scale, h, scale, bias: nil)
        for t in 0..<T {
            let s = 1 / (1 + exp(-scale.p[t])), src = ys.p + t * d, dst = m.p + t * d
            for j in 0..<d { dst[j] += s * src[j] }
        }
    }
}

/// The router's choice for one token.
enum Routing {
    /// w = the k largest of softmax(logits), the others 0 (ties: the lower expert index), divided by their sum
    /// when `renormalise`.
    static func topK(_ logits: UnsafePointer<Float>, into w: UnsafeMutablePointer<Float>, experts E: Int, k: Int,
                     renormalise: Bool) {
        for e in 0..<E { w[e] = logits[e] }
        Kernels.softmax(w, count: E)
        let chosen = (0..<E).sorted { w[$0] != w[$1] ? w[$0] > w[$1] : $0 < $1 }.prefix(k)
        var sum: Float = 0
        for e in chosen { sum += w[e] }
        let keep = Set(chosen)
        for e in 0..<E where !keep.contains(e) { w[e] = 0 }
        if renormalise, sum > 0 { for e in chosen { w[e] /= sum } }
    }
}

extension ForwardRun {
    /// y[n, out] = x[n, in] · Wᵀ over n rows other than the call's T (an expert's share of the tokens).
    func linear(_ w: Linear, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        w.apply(x, rows: n, into: y, precision: precision, scratch: scratch)
    }
}

extension TensorBinder {
    /// The experts of a stacked tensor [E, rows, cols], one matrix view each.
    mutating func experts(_ name: String, _ E: Int, _ rows: Int, _ cols: Int) throws -> [Linear] {
        let t = try take(name)
        guard t.shape == [E, rows, cols] else {
            throw VaneError("\(source): \(name) has shape \(t.shape), expected [\(E), \(rows), \(cols)]")
        }
        let bytes = t.type.byteCount(cols) * rows
        return try (0..<E).map { e in
            try Linear(StoredTensor(name: "\(name)[\(e)]", type: t.type, shape: [rows, cols],
                                    bytes: UnsafeRawBufferPointer(rebasing: t.bytes[(e * bytes)..<((e + 1) * bytes)]),
                                    owner: t.owner))
        }
    }
}

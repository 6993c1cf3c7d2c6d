import VaneModelIO
import VaneTensor

/// A llama block, also qwen2's (whose q/k/v biases are always present). For T new tokens at positions
/// p0 … p0+T−1 (d = hidden, H heads, KV key/value heads, hd = head dim, F = intermediate):
///
///     h = rmsnorm(x) · attn_norm                                           (x = blocks.L.hook_resid_pre)
///     q, k, v = h·Wqᵀ (+bq), h·Wkᵀ (+bk), h·Wvᵀ (+bv)         [T, H·hd], [T, KV·hd], [T, KV·hd]
///     rope(q), rope(k); append k, v to the cache
///     z_h = softmax(q_h·K_gᵀ/√hd + causal mask) · V_g          [T, H, hd]  attn.hook_z
///     attn = Σ_h z_h · W_O[:, h]ᵀ (+bo)                        [T, d]   attn.hook_result (per h), hook_attn_out
///     x = x + attn                                                     hook_resid_mid
///     m = (silu(h'·Wgateᵀ) ⊙ h'·Wupᵀ) · Wdownᵀ (+bdown), h' = rmsnorm(x) · ffn_norm   hook_mlp_out
///     x = x + m                                                        hook_resid_post
struct LlamaBlock: DecoderBlock {
    let attnNorm: [Float]
    let q, k, v, o: Linear
    let qBias, kBias, vBias, oBias: [Float]?
    let ffnNorm: [Float]
    let gate, up, down: Linear
    let downBias: [Float]?

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
        // Biases a model may carry without the config saying so (Vane's baked additive edits write them).
        oBias = try bind.bias(p + "attn_output.bias", d, required: false)
        ffnNorm = try bind.vector(p + "ffn_norm.weight", d)
        gate = try bind.matrix(p + "ffn_gate.weight", c.intermediateSize, d)
        up = try bind.matrix(p + "ffn_up.weight", c.intermediateSize, d)
        down = try bind.matrix(p + "ffn_down.weight", d, c.intermediateSize)
        downBias = try bind.bias(p + "ffn_down.bias", d, required: false)
    }

    func forward(_ x: FloatBuffer, layer l: Int, _ run: ForwardRun) {
        let c = run.config
        let (T, d, H, KV, hd, F) = (run.rows, c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim,
                                    c.intermediateSize)
        run.hook(.residPre(l), x, [T, d])

        let h = run.buffers("h", T * d)
        let q = run.buffers("q", T * H * hd), k = run.buffers("k", T * KV * hd), v = run.buffers("v", T * KV * hd)
        Kernels.rmsNorm(x.p, attnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.linear(self.q, h, q, bias: qBias)
        run.linear(self.k, h, k, bias: kBias)
        run.linear(self.v, h, v, bias: vBias)
        run.rope(q, heads: H)
        run.rope(k, heads: KV)
        run.cache.store(layer: l, at: run.p0, keys: k.p, values: v.p, rows: T)

        let z = run.buffers("z", T * H * hd)
        run.attention(q: q.p, layer: l, into: z.p)
        run.hook(.attnZ(l), z, [T, H, hd])

        let attn = run.buffers("attn", T * d)
        run.output(o, z: z, bias: oBias, layer: l, into: attn)
        run.hook(.attnOut(l), attn, [T, d])

        add(attn, into: x)
        run.hook(.residMid(l), x, [T, d])

        let gate = run.buffers("gate", T * F), up = run.buffers("up", T * F), mlp = run.buffers("mlp", T * d)
        Kernels.rmsNorm(x.p, ffnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.linear(self.gate, h, gate, bias: nil)
        run.linear(self.up, h, up, bias: nil)
        Kernels.swiglu(gate.p, up.p, count: T * F)
        run.linear(down, gate, mlp, bias: downBias)
        run.hook(.mlpOut(l), mlp, [T, d])

        add(mlp, into: x)
        run.hook(.residPost(l), x, [T, d])
    }

    static func rowShape(_ point: HookPoint, _ c: ModelConfig) -> [Int] {
        switch point {
        case .attnZ: [c.numAttentionHeads, c.headDim]
        case .attnResult: [c.numAttentionHeads, c.hiddenSize]
        case .embed, .residPre, .attnOut, .residMid, .mlpOut, .residPost, .lnFinal: [c.hiddenSize]
        case .routerLogits, .expertWeights: []  // dense: never called
        }
    }
}

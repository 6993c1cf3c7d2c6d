import VaneModelIO
import VaneTensor

/// An OLMo 2 block: no norm before attention or the MLP; each sublayer's output is normalized (post-norm) before
/// it joins the residual stream; q and k are RMS-normalized over the whole projection (all heads together)
/// before RoPE. For T new tokens at positions p0 … p0+T−1 (d = hidden, H heads, KV key/value heads, hd = head dim,
/// F = intermediate):
///
///     q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ               [T, H, hd], [T, KV, hd], [T, KV, hd]  attn.hook_q, _k, _v
///                                                                          (x = blocks.L.hook_resid_pre)
///     q = rmsnorm(q) · attn_q_norm [H·hd],  k = rmsnorm(k) · attn_k_norm [KV·hd]   (each row, over all heads)
///     rope(q), rope(k); append k, v to the cache                           attn.hook_rot_q, _rot_k
///     a_h = softmax(q_h·K_gᵀ/√hd + causal mask)                [H, T, S]  attn.hook_pattern (only when hooked)
///     z_h = a_h · V_g                                          [T, H, hd]  attn.hook_z
///     o = Σ_h z_h · W_O[:, h]ᵀ                                 [T, d]   attn.hook_result (per h: sums to o)
///     attn = rmsnorm(o) · post_attention_norm                  [T, d]   hook_attn_out   (after the post-norm)
///     x = x + attn                                                     hook_resid_mid
///     g = silu(x·Wgateᵀ) ⊙ x·Wupᵀ                              [T, F]   mlp.hook_post
///     m = rmsnorm(g · Wdownᵀ) · post_ffw_norm                  [T, d]   hook_mlp_out    (after the post-norm)
///     x = x + m                                                        hook_resid_post
///
/// hook_attn_out and hook_mlp_out are what each sublayer adds to the residual stream, so resid_mid = resid_pre +
/// attn_out and resid_post = resid_mid + mlp_out hold as in llama; they are not o_proj's and down_proj's outputs,
/// so an edit of those weights is not the same as the edit hooked there (VaneBake refuses it).
struct Olmo2Block: DecoderBlock {
    let q, k, v, o: Linear
    let qBias, kBias, vBias, oBias: [Float]?
    let qNorm, kNorm: [Float]
    let postAttnNorm: [Float]
    let gate, up, down: Linear
    let downBias: [Float]?
    let postFfwNorm: [Float]

    init(_ bind: inout TensorBinder, layer l: Int, config c: ModelConfig) throws {
        let p = "blk.\(l)."
        let (d, qDim, kvDim) = (c.hiddenSize, c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim)
        q = try bind.matrix(p + "attn_q.weight", qDim, d)
        k = try bind.matrix(p + "attn_k.weight", kvDim, d)
        v = try bind.matrix(p + "attn_v.weight", kvDim, d)
        o = try bind.matrix(p + "attn_output.weight", d, qDim)
        qBias = try bind.bias(p + "attn_q.bias", qDim, required: c.attentionBias)
        kBias = try bind.bias(p + "attn_k.bias", kvDim, required: c.attentionBias)
        vBias = try bind.bias(p + "attn_v.bias", kvDim, required: c.attentionBias)
        oBias = try bind.bias(p + "attn_output.bias", d, required: false)
        qNorm = try bind.vector(p + "attn_q_norm.weight", qDim)
        kNorm = try bind.vector(p + "attn_k_norm.weight", kvDim)
        postAttnNorm = try bind.vector(p + "post_attention_norm.weight", d)
        gate = try bind.matrix(p + "ffn_gate.weight", c.intermediateSize, d)
        up = try bind.matrix(p + "ffn_up.weight", c.intermediateSize, d)
        down = try bind.matrix(p + "ffn_down.weight", d, c.intermediateSize)
        downBias = try bind.bias(p + "ffn_down.bias", d, required: false)
        postFfwNorm = try bind.vector(p + "post_ffw_norm.weight", d)
    }

    func forward(_ x: FloatBuffer, layer l: Int, _ run: ForwardRun) {
        let c = run.config
        let (T, d, H, KV, hd, F) = (run.rows, c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim,
                                    c.intermediateSize)
        run.hook(.residPre(l), x, [T, d])

        let q = run.buffers("q", T * H * hd), k = run.buffers("k", T * KV * hd), v = run.buffers("v", T * KV * hd)
        run.linear(self.q, x, q, bias: qBias)
        run.linear(self.k, x, k, bias: kBias)
        run.linear(self.v, x, v, bias: vBias)
        run.hook(.attnQ(l), q, [T, H, hd])
        run.hook(.attnK(l), k, [T, KV, hd])
        run.hook(.attnV(l), v, [T, KV, hd])
        Kernels.rmsNorm(q.p, qNorm, q.p, rows: T, dim: H * hd, eps: c.rmsNormEps)
        Kernels.rmsNorm(k.p, kNorm, k.p, rows: T, dim: KV * hd, eps: c.rmsNormEps)
        run.rope(q, heads: H)
        run.rope(k, heads: KV)
        run.hook(.attnRotQ(l), q, [T, H, hd])
        run.hook(.attnRotK(l), k, [T, KV, hd])
        run.store(layer: l, keys: k, values: v)

        let z = run.buffers("z", T * H * hd)
        run.attention(q: q.p, layer: l, into: z.p, window: c.slidingWindow)
        run.hook(.attnZ(l), z, [T, H, hd])

        let o = run.buffers("o", T * d), attn = run.buffers("attn", T * d)
        run.output(self.o, z: z, bias: oBias, layer: l, into: o)
        Kernels.rmsNorm(o.p, postAttnNorm, attn.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.hook(.attnOut(l), attn, [T, d])

        add(attn, into: x)
        run.hook(.residMid(l), x, [T, d])

        let gate = run.buffers("gate", T * F), up = run.buffers("up", T * F)
        let down = run.buffers("down", T * d), mlp = run.buffers("mlp", T * d)
        run.linear(self.gate, x, gate, bias: nil)
        run.linear(self.up, x, up, bias: nil)
        Kernels.swiglu(gate.p, up.p, count: T * F)
        run.hook(.mlpPost(l), gate, [T, F])
        run.linear(self.down, gate, down, bias: downBias)
        Kernels.rmsNorm(down.p, postFfwNorm, mlp.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.hook(.mlpOut(l), mlp, [T, d])

        add(mlp, into: x)
        run.hook(.residPost(l), x, [T, d])
    }
}

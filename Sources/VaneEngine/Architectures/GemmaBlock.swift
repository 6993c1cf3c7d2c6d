import VaneModelIO
import VaneTensor

/// A Gemma 2 or Gemma 3 block. Norm weights hold 1 + w (GGUF's convention; an HF folder's w gets its 1 at load),
/// so each norm is a plain RMSNorm. For T new tokens at positions p0 … p0+T−1 (d = hidden, H heads, KV
/// key/value heads, hd = head dim, F = intermediate):
///
///     h = rmsnorm(x) · attn_norm                                           (x = blocks.L.hook_resid_pre)
///     q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ                            [T, H·hd], [T, KV·hd], [T, KV·hd]
///                                                                      attn.hook_q, hook_k, hook_v
///     q_h = rmsnorm(q_h) · attn_q_norm, k_g likewise                       (Gemma 3: per head, over hd)
///     rope(q), rope(k) (Gemma 3: the local base on sliding layers); append k, v to the cache
///                                                                      attn.hook_rot_q, hook_rot_k
///     s = q_h·K_gᵀ / √query_pre_attn_scalar;  s = cap·tanh(s/cap)          (attn_logit_softcapping)
///     z_h = softmax(s + causal mask [+ window on sliding layers]) · V_g   [T, H, hd]  attn.hook_z
///     a = Σ_h z_h · W_O[:, h]ᵀ                                 [T, d]   attn.hook_result (per h)
///     attn = rmsnorm(a) · post_attention_norm                  [T, d]   hook_attn_out (after the post-norm)
///     x = x + attn                                                     hook_resid_mid
///     h' = rmsnorm(x) · ffn_norm
///     g = gelu_tanh(h'·Wgateᵀ) ⊙ h'·Wupᵀ                       [T, F]   mlp.hook_post
///     m = rmsnorm(g · Wdownᵀ) · post_ffw_norm                           hook_mlp_out (after the post-norm)
///     x = x + m                                                        hook_resid_post
///
/// hook_attn_out and hook_mlp_out are what the block adds to the residual stream, so resid_mid = resid_pre +
/// attn_out and resid_post = resid_mid + mlp_out hold as in every family; attn.hook_result is before the
/// post-norm (its heads sum to the o_proj output, not to hook_attn_out). llama.cpp's control vectors add to
/// the block output, hook_resid_post.
struct GemmaBlock: DecoderBlock {
    let attnNorm: [Float]
    let q, k, v, o: Linear
    let qNorm, kNorm: [Float]?
    let postAttentionNorm: [Float]
    let ffnNorm: [Float]
    let gate, up, down: Linear
    let postFFWNorm: [Float]
    /// RoPE frequencies of this layer (Gemma 3's sliding layers have a base of their own).
    let invFreq: [Double]
    let window: Int?

    init(_ bind: inout TensorBinder, layer l: Int, config c: ModelConfig) throws {
        let p = "blk.\(l)."
        let (d, qDim, kvDim, F) = (c.hiddenSize, c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim,
                                   c.intermediateSize)
        attnNorm = try bind.vector(p + "attn_norm.weight", d)
        q = try bind.matrix(p + "attn_q.weight", qDim, d)
        k = try bind.matrix(p + "attn_k.weight", kvDim, d)
        v = try bind.matrix(p + "attn_v.weight", kvDim, d)
        o = try bind.matrix(p + "attn_output.weight", d, qDim)
        let qkNorms = c.architecture == ArchitectureSpec.gemma3.name
        qNorm = try qkNorms ? bind.vector(p + "attn_q_norm.weight", c.headDim) : nil
        kNorm = try qkNorms ? bind.vector(p + "attn_k_norm.weight", c.headDim) : nil
        postAttentionNorm = try bind.vector(p + "post_attention_norm.weight", d)
        ffnNorm = try bind.vector(p + "ffn_norm.weight", d)
        gate = try bind.matrix(p + "ffn_gate.weight", F, d)
        up = try bind.matrix(p + "ffn_up.weight", F, d)
        down = try bind.matrix(p + "ffn_down.weight", d, F)
        postFFWNorm = try bind.vector(p + "post_ffw_norm.weight", d)
        let sliding = c.isSliding(l)
        window = sliding ? c.slidingWindow : nil
        invFreq = ModelConfig.ropeInverseFrequencies(headDim: c.headDim, theta: sliding ? c.ropeLocalTheta ?? c.ropeTheta : c.ropeTheta)
    }

    func forward(_ x: FloatBuffer, layer l: Int, _ run: ForwardRun) {
        let c = run.config
        let (T, d, H, KV, hd, F) = (run.rows, c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim,
                                    c.intermediateSize)
        run.hook(.residPre(l), x, [T, d])

        let h = run.buffers("h", T * d)
        let q = run.buffers("q", T * H * hd), k = run.buffers("k", T * KV * hd), v = run.buffers("v", T * KV * hd)
        Kernels.rmsNorm(x.p, attnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.linear(self.q, h, q, bias: nil)
        run.linear(self.k, h, k, bias: nil)
        run.linear(self.v, h, v, bias: nil)
        run.hook(.attnQ(l), q, [T, H, hd])
        run.hook(.attnK(l), k, [T, KV, hd])
        run.hook(.attnV(l), v, [T, KV, hd])
        if let qNorm, let kNorm {
            Kernels.rmsNorm(q.p, qNorm, q.p, rows: T * H, dim: hd, eps: c.rmsNormEps)
            Kernels.rmsNorm(k.p, kNorm, k.p, rows: T * KV, dim: hd, eps: c.rmsNormEps)
        }
        run.rope(q, heads: H, invFreq: invFreq)
        run.rope(k, heads: KV, invFreq: invFreq)
        run.hook(.attnRotQ(l), q, [T, H, hd])
        run.hook(.attnRotK(l), k, [T, KV, hd])
        run.store(layer: l, keys: k, values: v)

        let z = run.buffers("z", T * H * hd)
        run.attention(q: q.p, layer: l, into: z.p, window: window, softcap: c.attnLogitSoftcapping,
                      scale: 1 / (c.queryPreAttnScalar ?? Float(hd)).squareRoot())
        run.hook(.attnZ(l), z, [T, H, hd])

        let attn = run.buffers("attn", T * d)
        run.output(o, z: z, bias: nil, layer: l, into: attn)
        Kernels.rmsNorm(attn.p, postAttentionNorm, attn.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.hook(.attnOut(l), attn, [T, d])

        add(attn, into: x)
        run.hook(.residMid(l), x, [T, d])

        let gate = run.buffers("gate", T * F), up = run.buffers("up", T * F), mlp = run.buffers("mlp", T * d)
        Kernels.rmsNorm(x.p, ffnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.linear(self.gate, h, gate, bias: nil)
        run.linear(self.up, h, up, bias: nil)
        Kernels.geglu(gate.p, up.p, count: T * F)
        run.hook(.mlpPost(l), gate, [T, F])
        run.linear(down, gate, mlp, bias: nil)
        Kernels.rmsNorm(mlp.p, postFFWNorm, mlp.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.hook(.mlpOut(l), mlp, [T, d])

        add(mlp, into: x)
        run.hook(.residPost(l), x, [T, d])
    }


    static func embeddingScale(_ c: ModelConfig) -> Float { Float(c.hiddenSize).squareRoot() }
}

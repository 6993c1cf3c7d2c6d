import VaneModelIO
import VaneTensor

/// A Phi-3 block: llama's, with q/k/v read from one fused `attn_qkv` and gate/up from one fused `ffn_up` (gate
/// rows first), split into row views once at bind; RoPE on the first `ropeDimensions` dims of each head, and
/// a sliding window on every layer when the config has one; with LongRoPE, the short or long frequency table by how
/// far the call reaches, and the rotated dims scaled (Phi3LongRope). For T new tokens at positions p0 … p0+T−1:
///
///     h = rmsnorm(x) · attn_norm                                           (x = blocks.L.hook_resid_pre)
///     q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ  (rows of Wqkv)            [T, H·hd], [T, KV·hd], [T, KV·hd]   attn.hook_q/k/v
///     rope(q), rope(k) over the rotary dims (× LongRoPE's factor); append k, v to the cache   attn.hook_rot_q, hook_rot_k
///     z_h = softmax(q_h·K_gᵀ/√hd + causal mask [+ window]) · V_g          [T, H, hd]  attn.hook_z
///     attn = Σ_h z_h · W_O[:, h]ᵀ (+bo)                            [T, d]   attn.hook_result (per h), hook_attn_out
///     x = x + attn                                                     hook_resid_mid
///     g = silu(h'·Wgateᵀ) ⊙ h'·Wupᵀ, h' = rmsnorm(x) · ffn_norm (rows of Wgate_up)   [T, F]   mlp.hook_post
///     m = g · Wdownᵀ (+bdown)                                                          hook_mlp_out
///     x = x + m                                                        hook_resid_post
struct Phi3Block: DecoderBlock {
    let attnNorm: [Float]
    let q, k, v, o: Linear
    let ffnNorm: [Float]
    let gate, up, down: Linear
    /// Biases Vane's baked additive edits write (llama.cpp's phi3 loader does not read them).
    let oBias, downBias: [Float]?
    let invFreq: [Double]
    /// LongRoPE's tables, the last position the short one serves and the scale of the rotated dims.
    let longRope: (short: [Double], long: [Double], original: Int, scale: Float)?

    init(_ bind: inout TensorBinder, layer l: Int, config c: ModelConfig) throws {
        let p = "blk.\(l)."
        let (d, qDim, kvDim, F) = (c.hiddenSize, c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim,
                                   c.intermediateSize)
        attnNorm = try bind.vector(p + "attn_norm.weight", d)
        let qkv = try bind.matrices(p + "attn_qkv.weight", rows: [qDim, kvDim, kvDim], d)
        q = qkv[0]
        k = qkv[1]
        v = qkv[2]
        o = try bind.matrix(p + "attn_output.weight", d, qDim)
        ffnNorm = try bind.vector(p + "ffn_norm.weight", d)
        let gateUp = try bind.matrices(p + "ffn_up.weight", rows: [F, F], d)
        gate = gateUp[0]
        up = gateUp[1]
        down = try bind.matrix(p + "ffn_down.weight", d, F)
        oBias = try bind.bias(p + "attn_output.bias", d, required: false)
        downBias = try bind.bias(p + "ffn_down.bias", d, required: false)
        let rotary = c.ropeDimensions ?? c.headDim
        invFreq = ModelConfig.ropeInverseFrequencies(headDim: rotary, theta: c.ropeTheta)
        // A GGUF file's factor tensors are what its config was read from; they are taken here so none is left over.
        for name in [Phi3LongRope.shortTensor, Phi3LongRope.longTensor] where l == 0 && bind.has(name) {
            _ = try bind.vector(name, rotary / 2)
        }
        longRope = c.longRope.map { r in
            (r.inverseFrequencies(rotaryDims: rotary, theta: c.ropeTheta, long: false),
             r.inverseFrequencies(rotaryDims: rotary, theta: c.ropeTheta, long: true), r.originalMaxPositionEmbeddings,
             r.attentionFactor)
        }
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
        if let r = longRope {
            let table = { (end: Int) in end > r.original ? r.long : r.short }
            run.rope(q, heads: H, invFreq: table, scale: r.scale)
            run.rope(k, heads: KV, invFreq: table, scale: r.scale)
        } else {
            run.rope(q, heads: H, invFreq: invFreq)
            run.rope(k, heads: KV, invFreq: invFreq)
        }
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

        let gate = run.buffers("gate", T * F), up = run.buffers("up", T * F), mlp = run.buffers("mlp", T * d)
        Kernels.rmsNorm(x.p, ffnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.linear(self.gate, h, gate, bias: nil)
        run.linear(self.up, h, up, bias: nil)
        Kernels.swiglu(gate.p, up.p, count: T * F)
        run.hook(.mlpPost(l), gate, [T, F])
        run.linear(down, gate, mlp, bias: downBias)
        run.hook(.mlpOut(l), mlp, [T, d])

        add(mlp, into: x)
        run.hook(.residPost(l), x, [T, d])
    }

}

extension TensorBinder {
    /// A fused weight [Σ rows, cols] as one matrix per part, each a view of its rows in the file.
    mutating func matrices(_ name: String, rows: [Int], _ cols: Int) throws -> [Linear] {
        let t = try take(name)
        let total = rows.reduce(0, +)
        guard t.shape == [total, cols] else {
            throw VaneError("\(source): \(name) has shape \(t.shape), expected [\(total), \(cols)] "
                            + "(\(rows.map(String.init).joined(separator: " + ")) fused rows)")
        }
        let rowBytes = t.type.byteCount(cols)
        var start = 0
        return try rows.map { n in
            defer { start += n }
            let bytes = UnsafeRawBufferPointer(rebasing: t.bytes[(start * rowBytes)..<((start + n) * rowBytes)])
            return try Linear(StoredTensor(name: name, type: t.type, shape: [n, cols], bytes: bytes, owner: t.owner))
        }
    }
}

import CBLAS
import VaneModelIO
import VaneTensor

/// One forward call as the blocks see it: the T new tokens' positions, the cache, the hooks and the precision of
/// the matrix products, with the pieces every family shares (projections, RoPE, cached causal attention, the
/// output projection with its per-head results).
struct ForwardRun {
    let config: ModelConfig
    let cache: KVCache
    let hooks: Hooks?
    let precision: Precision
    let scratch: Scratch
    /// Absolute positions of the T rows.
    let positions: Range<Int>
    /// RoPE's inverse frequencies [hd/2], the model's (Transformer.ropeInvFreq).
    let ropeInvFreq: [Double]
    /// The call's working buffers, shared by its blocks.
    let buffers = Buffers()

    var rows: Int { positions.count }
    var p0: Int { positions.lowerBound }

    /// Calls the hooks at `point` on the live buffer (they may modify it).
    func hook(_ point: HookPoint, _ buffer: FloatBuffer, _ shape: [Int]) {
        if let hooks, hooks.has(point) { hooks.run(point, buffer.all, shape: shape, positions: positions) }
    }

    /// y = x · Wᵀ (+ bias) over the T rows.
    func linear(_ w: Linear, _ x: FloatBuffer, _ y: FloatBuffer, bias: [Float]?) {
        w.apply(x.p, rows: rows, into: y.p, precision: precision, scratch: scratch)
        if let bias { addBias(y, bias, rows: rows) }
    }

    /// Rotates each head of `x` [T, heads·hd] by its position, pairing dims as the source file does.
    func rope(_ x: FloatBuffer, heads: Int) {
        Kernels.rope(x.p, rows: rows, heads: heads, headDim: config.headDim, pos0: p0, invFreq: ropeInvFreq,
                     adjacent: config.ropeStyle == .adjacent)
    }

    /// RoPE with the given inverse frequencies (one per rotated pair: another base, partial rotary).
    func rope(_ x: FloatBuffer, heads: Int, invFreq: [Double]) {
        Kernels.rope(x.p, rows: rows, heads: heads, headDim: config.headDim, pos0: p0, invFreq: invFreq,
                     adjacent: config.ropeStyle == .adjacent)
    }

    /// Causal attention of the T queries against the cache's first p0+T positions; z[T, H, hd]. Scores are
    /// q·k · `scale` (default 1/√hd), then cap·tanh(s/cap) with a `softcap`; with a `window`, the query at
    /// position p sees positions p − window + 1 … p only. attn.hook_pattern [H, T, S] is filled (and handed to
    /// the hooks, which may change it before it weighs the values) only when hooked.
    func attention(q: UnsafeMutablePointer<Float>, layer: Int, into z: UnsafeMutablePointer<Float>,
                   window: Int? = nil, softcap: Float? = nil, scale: Float? = nil) {
        let (H, KV, hd) = (config.numAttentionHeads, config.numKeyValueHeads, config.headDim)
        let (T, S) = (rows, p0 + rows)
        let group = H / KV
        let scale = scale ?? 1 / Float(hd).squareRoot()
        let pattern = hooks?.has(.attnPattern(layer)) == true ? FloatBuffer(H * T * S) : nil
        let scores = pattern == nil ? FloatBuffer(T * S) : nil
        let keys = cache.keys[layer], values = cache.values[layer]
        func weighValues(_ head: Int, _ weights: UnsafeMutablePointer<Float>) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(S), 1,
                        weights, Int32(S), values + (head / group) * hd, Int32(KV * hd), 0, z + head * hd, Int32(H * hd))
        }
        for head in 0..<H {
            let weights = pattern.map { $0.p + head * T * S } ?? scores!.p
            let qh = q + head * hd, kg = keys + (head / group) * hd
            if T == 1 {
                for j in 0..<S { weights[j] = scale * Kernels.dot(qh, kg + j * KV * hd, count: hd) }
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(S), Int32(hd), scale,
                            qh, Int32(H * hd), kg, Int32(KV * hd), 0, weights, Int32(S))
            }
            for t in 0..<T {
                let row = weights + t * S
                let visible = p0 + t + 1
                let first = window.map { max(0, visible - $0) } ?? 0
                if let softcap { Kernels.softcap(row + first, count: visible - first, cap: softcap) }
                Kernels.softmax(row + first, count: visible - first)
                for j in 0..<first { row[j] = 0 }
                for j in visible..<S { row[j] = 0 }
            }
            if pattern == nil { weighValues(head, weights) }
        }
        if let pattern {
            hook(.attnPattern(layer), pattern, [H, T, S])
            for head in 0..<H { weighValues(head, pattern.p + head * T * S) }
        }
    }

    /// attn = z · W_Oᵀ (+ bo). When attn.hook_result is hooked, each head's contribution is computed, handed to
    /// the hooks, and summed, so a write to a head's result changes the output.
    func output(_ o: Linear, z: FloatBuffer, bias: [Float]?, layer: Int, into attn: FloatBuffer) {
        let (T, H, d) = (rows, config.numAttentionHeads, config.hiddenSize)
        guard let hooks, hooks.has(.attnResult(layer)) else {
            linear(o, z, attn, bias: bias)
            return
        }
        let result = headResults(o, z: z)
        hooks.run(.attnResult(layer), result.all, shape: [T, H, d], positions: positions)
        for t in 0..<T {
            let out = attn.p + t * d
            for i in 0..<d { out[i] = 0 }
            for head in 0..<H {
                let r = result.p + (t * H + head) * d
                for i in 0..<d { out[i] += r[i] }
            }
        }
        if let bias { addBias(attn, bias, rows: T) }
    }

    /// result[t, h] = z[t, h] · W_O[:, h·hd..<(h+1)·hd]ᵀ  [T, H, d].
    private func headResults(_ o: Linear, z: FloatBuffer) -> FloatBuffer {
        let (T, H, hd, d) = (rows, config.numAttentionHeads, config.headDim, config.hiddenSize)
        let w = FloatBuffer(d * H * hd)
        dequantize(o.tensor.type, o.tensor.bytes.baseAddress!, w.p, count: d * H * hd)
        let result = FloatBuffer(T * H * d)
        for head in 0..<H {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(d), Int32(hd), 1,
                        z.p + head * hd, Int32(H * hd), w.p + head * hd, Int32(H * hd), 0,
                        result.p + head * d, Int32(H * d))
        }
        return result
    }
}

func addBias(_ y: FloatBuffer, _ bias: [Float], rows: Int) {
    let n = bias.count
    for t in 0..<rows {
        let row = y.p + t * n
        for i in 0..<n { row[i] += bias[i] }
    }
}

/// x += a, elementwise.
func add(_ a: FloatBuffer, into x: FloatBuffer) {
    for i in 0..<x.count { x.p[i] += a.p[i] }
}

/// Working buffers of one forward call by name, allocated at the first block that asks and reused by the others,
/// so a call pays each allocation (and its first-touch page faults) once, not once per block.
final class Buffers {
    private var byName: [String: FloatBuffer] = [:]

    /// The buffer `name` of `count` floats; its contents are whatever the previous block left.
    func callAsFunction(_ name: String, _ count: Int) -> FloatBuffer {
        if let b = byName[name], b.count == count { return b }
        let b = FloatBuffer(count)
        byName[name] = b
        return b
    }
}

/// A heap buffer of floats for the forward pass, freed with its owner.
final class FloatBuffer {
    let p: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int) {
        self.count = count
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { p.deallocate() }

    var all: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: p, count: count) }
}

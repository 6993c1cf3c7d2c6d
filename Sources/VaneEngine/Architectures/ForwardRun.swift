import CBLAS
import VaneModelIO
import VaneTensor

/// One forward call as the blocks see it: the new tokens of one or more sequences stacked as rows (R = Σ T_b),
/// each sequence with its own positions, cache and hooks, and the precision of the matrix products; with the
/// pieces every family shares (projections, RoPE, cached causal attention, the output projection with its per-head
/// results).
///
/// Every piece computes a sequence's rows exactly as a call holding that sequence alone would: products over
/// several sequences' single new tokens use the row-wise product (Linear.applyRowwise), longer slices are
/// multiplied on their own, attention reads each sequence's own cache, and each sequence's hooks see only its slice.
struct ForwardRun {
    /// One sequence of the call: its rows in the stacked buffers, its cache (which holds `p0` positions before the
    /// call) and its hooks.
    struct Sequence {
        let rows: Range<Int>
        let cache: KVCache
        let hooks: Hooks?
        let p0: Int

        var positions: Range<Int> { p0..<(p0 + rows.count) }
    }

    let config: ModelConfig
    let sequences: [Sequence]
    let precision: Precision
    let scratch: Scratch
    /// Absolute position of each row.
    let positions: [Int]
    /// RoPE's inverse frequencies [hd/2], the model's (Transformer.ropeInvFreq).
    let ropeInvFreq: [Double]
    /// The call's working buffers, shared by its blocks.
    let buffers = Buffers()

    init(config: ModelConfig, sequences: [Sequence], precision: Precision, scratch: Scratch, ropeInvFreq: [Double]) {
        self.config = config
        self.sequences = sequences
        self.precision = precision
        self.scratch = scratch
        self.ropeInvFreq = ropeInvFreq
        positions = sequences.flatMap { Array($0.positions) }
    }

    var rows: Int { positions.count }

    /// Calls each sequence's hooks at `point` on its rows of the live buffer [R, …] (they may modify them).
    func hook(_ point: HookPoint, _ buffer: FloatBuffer, _ shape: [Int]) {
        let width = shape.dropFirst().reduce(1, *)
        for s in sequences {
            guard let hooks = s.hooks, hooks.has(point) else { continue }
            let slice = UnsafeMutableBufferPointer(start: buffer.p + s.rows.lowerBound * width, count: s.rows.count * width)
            hooks.run(point, slice, shape: [s.rows.count] + shape.dropFirst(), positions: s.positions)
        }
    }

    /// y = x · Wᵀ (+ bias) over the R rows.
    func linear(_ w: Linear, _ x: FloatBuffer, _ y: FloatBuffer, bias: [Float]?) {
        product(w, x.p, y.p)
        if let bias { addBias(y, bias, rows: rows) }
    }

    /// y[R, out] = x[R, in] · Wᵀ, each sequence's rows as its own call would multiply them: a lone sequence in one
    /// product; runs of sequences with one new token each together, row-wise; longer slices each on their own.
    private func product(_ w: Linear, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        if sequences.count == 1 {
            return w.apply(x, rows: rows, into: y, precision: precision, scratch: scratch)
        }
        var i = 0
        while i < sequences.count {
            let r0 = sequences[i].rows.lowerBound
            var j = i
            while j < sequences.count, sequences[j].rows.count == 1 { j += 1 }
            if j > i {
                w.applyRowwise(x + r0 * w.inner, rows: j - i, into: y + r0 * w.out, precision: precision,
                               scratch: scratch)
                i = j
            } else {
                w.apply(x + r0 * w.inner, rows: sequences[i].rows.count, into: y + r0 * w.out, precision: precision,
                        scratch: scratch)
                i += 1
            }
        }
    }

    /// Rotates each head of `x` [R, heads·hd] by its row's position, pairing dims as the source file does.
    func rope(_ x: FloatBuffer, heads: Int) {
        rope(x, heads: heads, invFreq: ropeInvFreq)
    }

    /// RoPE with the given inverse frequencies (one per rotated pair: another base, partial rotary).
    func rope(_ x: FloatBuffer, heads: Int, invFreq: [Double]) {
        Kernels.rope(x.p, positions: positions, heads: heads, headDim: config.headDim, invFreq: invFreq,
                     adjacent: config.ropeStyle == .adjacent)
    }

    /// RoPE whose table each sequence takes from the end of its positions in this call (`invFreq(p0 + T)`: Phi-3's
    /// LongRoPE switches tables past the original context), then its rotated dims multiplied by `scale`.
    func rope(_ x: FloatBuffer, heads: Int, invFreq: (Int) -> [Double], scale: Float) {
        let hd = config.headDim
        for s in sequences {
            let table = invFreq(s.positions.upperBound)
            let rows = x.p + s.rows.lowerBound * heads * hd
            Kernels.rope(rows, positions: Array(s.positions), heads: heads, headDim: hd, invFreq: table,
                         adjacent: config.ropeStyle == .adjacent)
            guard scale != 1 else { continue }
            for r in 0..<(s.rows.count * heads) {
                for i in 0..<(2 * table.count) { rows[r * hd + i] *= scale }
            }
        }
    }

    /// Appends each sequence's rows of keys and values [R, KV·hd] (after RoPE) to its cache, at its positions.
    func store(layer: Int, keys k: FloatBuffer, values v: FloatBuffer) {
        for s in sequences {
            let offset = s.rows.lowerBound * s.cache.width
            s.cache.store(layer: layer, at: s.p0, keys: k.p + offset, values: v.p + offset, rows: s.rows.count)
        }
    }

    /// Causal attention of each sequence's queries against its own cache's first p0+T positions; z[R, H, hd].
    /// Scores are q·k · `scale` (default 1/√hd), then cap·tanh(s/cap) with a `softcap`; with a `window`, the query
    /// at position p sees positions p − window + 1 … p only. attn.hook_pattern [H, T, S] is filled (and handed to
    /// the sequence's hooks, which may change it before it weighs the values) only for sequences that hook it.
    func attention(q: UnsafeMutablePointer<Float>, layer: Int, into z: UnsafeMutablePointer<Float>,
                   window: Int? = nil, softcap: Float? = nil, scale: Float? = nil) {
        let width = config.numAttentionHeads * config.headDim
        let scale = scale ?? 1 / Float(config.headDim).squareRoot()
        for s in sequences {
            attention(s, q: q + s.rows.lowerBound * width, layer: layer, into: z + s.rows.lowerBound * width,
                      window: window, softcap: softcap, scale: scale)
        }
    }

    private func attention(_ s: Sequence, q: UnsafeMutablePointer<Float>, layer: Int, into z: UnsafeMutablePointer<Float>,
                           window: Int?, softcap: Float?, scale: Float) {
        let (H, KV, hd) = (config.numAttentionHeads, config.numKeyValueHeads, config.headDim)
        let (T, p0) = (s.rows.count, s.p0)
        let S = p0 + T
        let group = H / KV
        let pattern = s.hooks?.has(.attnPattern(layer)) == true ? FloatBuffer(H * T * S) : nil
        let scores = pattern == nil ? FloatBuffer(T * S) : nil
        let keys = s.cache.keys[layer], values = s.cache.values[layer]
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
        if let pattern, let hooks = s.hooks {
            hooks.run(.attnPattern(layer), pattern.all, shape: [H, T, S], positions: s.positions)
            for head in 0..<H { weighValues(head, pattern.p + head * T * S) }
        }
        // The loops write through `weights`, a raw pointer into these buffers: keep them alive past the last write.
        withExtendedLifetime((pattern, scores)) {}
    }

    /// attn = z · W_Oᵀ (+ bo). For a sequence whose hooks include attn.hook_result, each head's contribution is
    /// computed, handed to them, and summed, so a write to a head's result changes the output.
    func output(_ o: Linear, z: FloatBuffer, bias: [Float]?, layer: Int, into attn: FloatBuffer) {
        guard sequences.contains(where: { $0.hooks?.has(.attnResult(layer)) == true }) else {
            return linear(o, z, attn, bias: bias)
        }
        let (H, hd, d) = (config.numAttentionHeads, config.headDim, config.hiddenSize)
        for s in sequences {
            let T = s.rows.count
            let zs = z.p + s.rows.lowerBound * H * hd, out = attn.p + s.rows.lowerBound * d
            if let hooks = s.hooks, hooks.has(.attnResult(layer)) {
                let result = headResults(o, z: zs, rows: T)
                hooks.run(.attnResult(layer), result.all, shape: [T, H, d], positions: s.positions)
                for t in 0..<T {
                    let row = out + t * d
                    for i in 0..<d { row[i] = 0 }
                    for head in 0..<H {
                        let r = result.p + (t * H + head) * d
                        for i in 0..<d { row[i] += r[i] }
                    }
                }
                withExtendedLifetime(result) {}
            } else {
                o.apply(zs, rows: T, into: out, precision: precision, scratch: scratch)
            }
            if let bias {
                for t in 0..<T {
                    for i in 0..<d { out[t * d + i] += bias[i] }
                }
            }
        }
    }

    /// result[t, h] = z[t, h] · W_O[:, h·hd..<(h+1)·hd]ᵀ  [T, H, d].
    private func headResults(_ o: Linear, z: UnsafePointer<Float>, rows T: Int) -> FloatBuffer {
        let (H, hd, d) = (config.numAttentionHeads, config.headDim, config.hiddenSize)
        let w = FloatBuffer(d * H * hd)
        dequantize(o.tensor.type, o.tensor.bytes.baseAddress!, w.p, count: d * H * hd)
        let result = FloatBuffer(T * H * d)
        for head in 0..<H {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(d), Int32(hd), 1,
                        z + head * hd, Int32(H * hd), w.p + head * hd, Int32(H * hd), 0,
                        result.p + head * d, Int32(H * d))
        }
        withExtendedLifetime(w) {}
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

/// A heap buffer of floats for the forward pass, freed with its owner. Swift may release a local one right after the
/// last read of `p`, so code that goes on using the pointer keeps the buffer alive (`withExtendedLifetime`).
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

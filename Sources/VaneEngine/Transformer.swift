import CBLAS
import Foundation
import VaneModelIO
import VaneTensor

/// A decoder-only transformer (llama / qwen2 families) bound to the tensors of a model file.
///
/// Forward pass, for T new tokens at positions p0 … p0+T−1 (d = hidden, H heads, KV key/value heads, hd = head
/// dim, F = intermediate, V = vocabulary, S = p0+T):
///
///     x = embed(tokens)                                           [T, d]   hook_embed
///     for each block L:                                                    blocks.L.hook_resid_pre
///         h = rmsnorm(x) · attn_norm
///         q, k, v = h·Wqᵀ (+bq), h·Wkᵀ (+bk), h·Wvᵀ (+bv)         [T, H·hd], [T, KV·hd], [T, KV·hd]
///         rope(q), rope(k); append k, v to the cache
///         z_h = softmax(q_h·K_gᵀ/√hd + causal mask) · V_g          [T, H, hd]  attn.hook_z
///         attn = Σ_h z_h · W_O[:, h]ᵀ (+bo)                        [T, d]   attn.hook_result (per h), hook_attn_out
///         x = x + attn                                                     hook_resid_mid
///         m = (silu(h'·Wgateᵀ) ⊙ h'·Wupᵀ) · Wdownᵀ, h' = rmsnorm(x) · ffn_norm   hook_mlp_out
///         x = x + m                                                        hook_resid_post
///     x = rmsnorm(x) · output_norm                                         ln_final.hook_normalized
///     logits = x · Woutᵀ                                          [T, V]
public final class Transformer {
    public let files: ModelFiles
    public let config: ModelConfig
    public let architecture: Architecture
    public var precision: Precision = .exact

    struct Block {
        var attnNorm: [Float]
        var q, k, v, o: Linear
        var qBias, kBias, vBias, oBias: [Float]?
        var ffnNorm: [Float]
        var gate, up, down: Linear
        var downBias: [Float]?
    }

    let tokenEmbedding: Linear
    let blocks: [Block]
    let outputNorm: [Float]
    let output: Linear
    let scratch = Scratch()

    public convenience init(url: URL) throws {
        try self.init(files: ModelFiles(url: url))
    }

    public init(files: ModelFiles) throws {
        self.files = files
        let c = files.config
        config = c
        architecture = try Architecture(config: c)
        guard c.numAttentionHeads % max(c.numKeyValueHeads, 1) == 0, c.headDim % 2 == 0 else {
            throw VaneError("\(files.url.path): \(c.numAttentionHeads) heads cannot share \(c.numKeyValueHeads) key/value heads of even size \(c.headDim)")
        }
        var bind = TensorBinder(files)
        func vector(_ name: String, _ n: Int) throws -> [Float] {
            let t = try bind.take(name)
            guard t.count == n else { throw VaneError("\(files.url.path): \(name) has \(t.count) values, expected \(n)") }
            return dequantize(t).data
        }
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> Linear {
            let t = try bind.take(name)
            guard t.shape == [rows, cols] else {
                throw VaneError("\(files.url.path): \(name) has shape \(t.shape), expected [\(rows), \(cols)]")
            }
            return try Linear(t)
        }
        let (d, qDim, kvDim) = (c.hiddenSize, c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim)
        tokenEmbedding = try matrix("token_embd.weight", c.vocabSize, d)
        blocks = try (0..<c.numHiddenLayers).map { l in
            let p = "blk.\(l)."
            func bias(_ name: String, _ n: Int, required: Bool) throws -> [Float]? {
                required || files.tensors[p + name] != nil ? try vector(p + name, n) : nil
            }
            return Block(
                attnNorm: try vector(p + "attn_norm.weight", d),
                q: try matrix(p + "attn_q.weight", qDim, d),
                k: try matrix(p + "attn_k.weight", kvDim, d),
                v: try matrix(p + "attn_v.weight", kvDim, d),
                o: try matrix(p + "attn_output.weight", d, qDim),
                qBias: try bias("attn_q.bias", qDim, required: c.attentionBias),
                kBias: try bias("attn_k.bias", kvDim, required: c.attentionBias),
                vBias: try bias("attn_v.bias", kvDim, required: c.attentionBias),
                oBias: try bias("attn_output.bias", d, required: false),
                ffnNorm: try vector(p + "ffn_norm.weight", d),
                gate: try matrix(p + "ffn_gate.weight", c.intermediateSize, d),
                up: try matrix(p + "ffn_up.weight", c.intermediateSize, d),
                down: try matrix(p + "ffn_down.weight", d, c.intermediateSize),
                downBias: try bias("ffn_down.bias", d, required: false))
        }
        outputNorm = try vector("output_norm.weight", d)
        output = c.tieWordEmbeddings ? tokenEmbedding : try matrix("output.weight", c.vocabSize, d)
        try bind.finish()
    }

    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(config: config, capacity: min(capacity ?? config.maxPositionEmbeddings, config.maxPositionEmbeddings))
    }

    /// Which positions' logits a forward call returns.
    public enum Logits: Sendable { case all, last, none }

    /// Runs `tokens` at the positions after those already in `cache` and returns logits [T, V] (`.all`), [1, V]
    /// (`.last`) or an empty tensor (`.none`).
    public func forward(_ tokens: [Int], cache: KVCache, hooks: Hooks? = nil, logits: Logits = .last) throws -> Tensor {
        let c = config
        let T = tokens.count
        let p0 = cache.length
        guard T > 0 else { return Tensor(zeros: [0, c.vocabSize]) }
        guard p0 + T <= cache.capacity else {
            throw VaneError.contextOverflow(tokens: p0 + T, limit: cache.capacity)
        }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
            throw VaneError.badToken(bad, vocabSize: c.vocabSize)
        }
        let (d, H, KV, hd, F) = (c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.intermediateSize)
        let positions = p0..<(p0 + T)
        func hook(_ point: HookPoint, _ buffer: FloatBuffer, _ shape: [Int]) {
            if let hooks, hooks.has(point) { hooks.run(point, buffer.all, shape: shape, positions: positions) }
        }

        let x = FloatBuffer(T * d)                      // the residual stream [T, d]
        for (t, id) in tokens.enumerated() { tokenEmbedding.row(id, into: x.p + t * d) }
        hook(.embed, x, [T, d])

        let h = FloatBuffer(T * d)
        let q = FloatBuffer(T * H * hd), k = FloatBuffer(T * KV * hd), v = FloatBuffer(T * KV * hd)
        let z = FloatBuffer(T * H * hd)
        let attn = FloatBuffer(T * d)
        let gate = FloatBuffer(T * F), up = FloatBuffer(T * F)
        let mlp = FloatBuffer(T * d)

        for (l, b) in blocks.enumerated() {
            hook(.residPre(l), x, [T, d])

            Kernels.rmsNorm(x.p, b.attnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
            linear(b.q, h, T, q, bias: b.qBias)
            linear(b.k, h, T, k, bias: b.kBias)
            linear(b.v, h, T, v, bias: b.vBias)
            let adjacent = c.ropeStyle == .adjacent
            Kernels.rope(q.p, rows: T, heads: H, headDim: hd, pos0: p0, theta: c.ropeTheta, adjacent: adjacent)
            Kernels.rope(k.p, rows: T, heads: KV, headDim: hd, pos0: p0, theta: c.ropeTheta, adjacent: adjacent)
            (cache.keys[l] + p0 * KV * hd).update(from: k.p, count: T * KV * hd)
            (cache.values[l] + p0 * KV * hd).update(from: v.p, count: T * KV * hd)

            attention(q: q.p, layer: l, cache: cache, rows: T, p0: p0, into: z.p)
            hook(.attnZ(l), z, [T, H, hd])

            if let hooks, hooks.has(.attnResult(l)) {
                let result = headResults(b.o, z: z, rows: T)  // [T, H, d]
                hooks.run(.attnResult(l), result.all, shape: [T, H, d], positions: positions)
                sumHeads(result, rows: T, into: attn)
                if let bo = b.oBias { addBias(attn, bo, rows: T) }
            } else {
                linear(b.o, z, T, attn, bias: b.oBias)
            }
            hook(.attnOut(l), attn, [T, d])

            add(attn, into: x)
            hook(.residMid(l), x, [T, d])

            Kernels.rmsNorm(x.p, b.ffnNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
            linear(b.gate, h, T, gate, bias: nil)
            linear(b.up, h, T, up, bias: nil)
            Kernels.swiglu(gate.p, up.p, count: T * F)
            linear(b.down, gate, T, mlp, bias: b.downBias)
            hook(.mlpOut(l), mlp, [T, d])

            add(mlp, into: x)
            hook(.residPost(l), x, [T, d])
        }
        cache.advance(by: T)

        Kernels.rmsNorm(x.p, outputNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        hook(.lnFinal, h, [T, d])

        switch logits {
        case .none:
            return Tensor(zeros: [0, c.vocabSize])
        case .last:
            var out = [Float](repeating: 0, count: c.vocabSize)
            out.withUnsafeMutableBufferPointer { o in
                output.apply(h.p + (T - 1) * d, rows: 1, into: o.baseAddress!, precision: precision, scratch: scratch)
            }
            return Tensor(shape: [1, c.vocabSize], data: out)
        case .all:
            var out = [Float](repeating: 0, count: T * c.vocabSize)
            out.withUnsafeMutableBufferPointer { o in
                output.apply(h.p, rows: T, into: o.baseAddress!, precision: precision, scratch: scratch)
            }
            return Tensor(shape: [T, c.vocabSize], data: out)
        }
    }

    private func linear(_ w: Linear, _ x: FloatBuffer, _ rows: Int, _ y: FloatBuffer, bias: [Float]?) {
        w.apply(x.p, rows: rows, into: y.p, precision: precision, scratch: scratch)
        if let bias { addBias(y, bias, rows: rows) }
    }

    /// Causal attention of T queries against the cache's first p0+T positions; z[T, H, hd].
    private func attention(q: UnsafeMutablePointer<Float>, layer: Int, cache: KVCache, rows T: Int, p0: Int,
                           into z: UnsafeMutablePointer<Float>) {
        let (H, KV, hd) = (config.numAttentionHeads, config.numKeyValueHeads, config.headDim)
        let S = p0 + T
        let group = H / KV
        let scale = 1 / Float(hd).squareRoot()
        let scores = FloatBuffer(T * S)
        let keys = cache.keys[layer], values = cache.values[layer]
        for head in 0..<H {
            let g = head / group
            let qh = q + head * hd, kg = keys + g * hd, vg = values + g * hd, zh = z + head * hd
            if T == 1 {
                for j in 0..<S { scores.p[j] = scale * Kernels.dot(qh, kg + j * KV * hd, count: hd) }
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(S), Int32(hd), scale,
                            qh, Int32(H * hd), kg, Int32(KV * hd), 0, scores.p, Int32(S))
            }
            for t in 0..<T {
                let row = scores.p + t * S
                let visible = p0 + t + 1
                Kernels.softmax(row, count: visible)
                for j in visible..<S { row[j] = 0 }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(S), 1,
                        scores.p, Int32(S), vg, Int32(KV * hd), 0, zh, Int32(H * hd))
        }
    }

    /// Each head's contribution to the residual, result[t, h] = z[t, h] · W_O[:, h·hd..<(h+1)·hd]ᵀ  [T, H, d].
    private func headResults(_ o: Linear, z: FloatBuffer, rows T: Int) -> FloatBuffer {
        let (H, hd, d) = (config.numAttentionHeads, config.headDim, config.hiddenSize)
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

    private func sumHeads(_ result: FloatBuffer, rows T: Int, into y: FloatBuffer) {
        let (H, d) = (config.numAttentionHeads, config.hiddenSize)
        for t in 0..<T {
            let out = y.p + t * d
            for i in 0..<d { out[i] = 0 }
            for head in 0..<H {
                let r = result.p + (t * H + head) * d
                for i in 0..<d { out[i] += r[i] }
            }
        }
    }

    private func addBias(_ y: FloatBuffer, _ bias: [Float], rows: Int) {
        let n = bias.count
        for t in 0..<rows {
            let row = y.p + t * n
            for i in 0..<n { row[i] += bias[i] }
        }
    }

    private func add(_ a: FloatBuffer, into x: FloatBuffer) {
        for i in 0..<x.count { x.p[i] += a.p[i] }
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

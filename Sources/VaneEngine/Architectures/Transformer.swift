import Foundation
import VaneModelIO
import VaneTensor

/// A decoder-only transformer bound to the tensors of a model file: the shared frame (embedding, a stack of its
/// family's blocks, final norm, output projection) around the blocks each family defines in its own file
/// (LlamaBlock.swift: llama, qwen2; Qwen3Block.swift; Olmo2Block.swift; Families.swift lists them).
///
/// Forward pass, for T new tokens at positions p0 … p0+T−1 (d = hidden, V = vocabulary):
///
///     x = embed(tokens) (· √d for Gemma)                          [T, d]   hook_embed
///     for each block L:  x = block_L(x)                                    blocks.L.* (see the block's file)
///     x = rmsnorm(x) · output_norm                                         ln_final.hook_normalized
///     logits = x · Woutᵀ                                          [T, V]
///     logits = cap · tanh(logits / cap)            with final_logit_softcapping (Gemma 2)
public final class Transformer {
    public let files: ModelFiles
    public let config: ModelConfig
    public let spec: ArchitectureSpec

    let tokenEmbedding: Linear
    let blocks: [any DecoderBlock]
    let blockType: any DecoderBlock.Type
    let outputNorm: [Float]
    let output: Linear
    /// RoPE's inverse frequencies [hd/2], computed once: plain, or Llama 3's scaled ones (from config.json, or a
    /// GGUF file's rope_freqs.weight).
    let ropeInvFreq: [Double]
    let scratch = Scratch()

    public convenience init(url: URL) throws {
        try self.init(files: ModelFiles(url: url))
    }

    public init(files: ModelFiles) throws {
        self.files = files
        let c = files.config
        config = c
        spec = files.spec
        blockType = try Families.block(spec)
        guard c.numAttentionHeads % max(c.numKeyValueHeads, 1) == 0, c.headDim % 2 == 0 else {
            throw VaneError("\(files.url.path): \(c.numAttentionHeads) heads cannot share \(c.numKeyValueHeads) key/value heads of even size \(c.headDim)")
        }
        var bind = TensorBinder(files)
        let ropeDivisors = bind.has(ConfigKeys.ropeFreqs) ? try bind.vector(ConfigKeys.ropeFreqs, c.headDim / 2) : nil
        if let bad = ropeDivisors?.first(where: { !($0.isFinite && $0 > 0) }) {
            throw VaneError("\(files.url.path): \(ConfigKeys.ropeFreqs) holds \(bad); RoPE frequency divisors must be positive")
        }
        ropeInvFreq = c.ropeInverseFrequencies(divisors: ropeDivisors)
        tokenEmbedding = try bind.matrix("token_embd.weight", c.vocabSize, c.hiddenSize)
        blocks = try (0..<c.numHiddenLayers).map { [blockType] l in try blockType.init(&bind, layer: l, config: c) }
        outputNorm = try bind.vector("output_norm.weight", c.hiddenSize)
        output = c.tieWordEmbeddings ? tokenEmbedding : try bind.matrix("output.weight", c.vocabSize, c.hiddenSize)
        try bind.finish()
    }

    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(config: config, capacity: min(capacity ?? config.maxPositionEmbeddings, config.maxPositionEmbeddings))
    }

    /// The shape of one row (one position) of a hook point's activation: [d], [H, hd] or [H, d].
    public func rowShape(_ point: HookPoint) -> [Int] { blockType.rowShape(point, config) }

    /// Which positions' logits a forward call returns.
    public enum Logits: Sendable { case all, last, none }

    /// Runs `tokens` at the positions after those already in `cache` and returns logits [T, V] (`.all`), [1, V]
    /// (`.last`) or an empty tensor (`.none`). `precision` says how products treat quantized weights.
    public func forward(_ tokens: [Int], cache: KVCache, hooks: Hooks? = nil, logits: Logits = .last,
                        precision: Precision = .exact) throws -> Tensor {
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
        let d = c.hiddenSize
        let run = ForwardRun(config: c, cache: cache, hooks: hooks, precision: precision, scratch: scratch,
                             positions: p0..<(p0 + T), ropeInvFreq: ropeInvFreq)

        let x = FloatBuffer(T * d)                      // the residual stream [T, d]
        for (t, id) in tokens.enumerated() { tokenEmbedding.row(id, into: x.p + t * d) }
        let embeddingScale = blockType.embeddingScale(c)
        if embeddingScale != 1 { for i in 0..<(T * d) { x.p[i] *= embeddingScale } }
        run.hook(.embed, x, [T, d])

        for (l, block) in blocks.enumerated() { block.forward(x, layer: l, run) }
        cache.advance(by: T)

        let h = FloatBuffer(T * d)
        Kernels.rmsNorm(x.p, outputNorm, h.p, rows: T, dim: d, eps: c.rmsNormEps)
        run.hook(.lnFinal, h, [T, d])

        let (first, n) = switch logits {
        case .none: (0, 0)
        case .last: (T - 1, 1)
        case .all: (0, T)
        }
        var out = [Float](repeating: 0, count: n * c.vocabSize)
        if n > 0 {
            out.withUnsafeMutableBufferPointer { o in
                output.apply(h.p + first * d, rows: n, into: o.baseAddress!, precision: precision, scratch: scratch)
                if let cap = c.finalLogitSoftcapping { Kernels.softcap(o.baseAddress!, count: o.count, cap: cap) }
            }
        }
        return Tensor(shape: [n, c.vocabSize], data: out)
    }
}

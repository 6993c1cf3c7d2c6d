import Foundation
import VaneModelIO
import VaneTensor

/// A decoder-only transformer bound to the tensors of a model file: the shared frame (embedding, a stack of its
/// family's blocks, final norm, output projection) around the blocks each family defines in its own file
/// (LlamaBlock.swift: llama, qwen2; Qwen3Block.swift; Olmo2Block.swift; Families.swift lists them).
///
/// Forward pass, for T new tokens at positions p0 … p0+T−1 (d = hidden, V = vocabulary); a batched call stacks
/// the new tokens of several sequences as the rows (T = Σ T_b), each sequence at its own positions:
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
        guard !tokens.isEmpty else { return Tensor(zeros: [0, config.vocabSize]) }
        return try forward([BatchInput(tokens, cache: cache, hooks: hooks)], logits: logits, precision: precision)[0]
    }

    /// New tokens of one sequence in a batched forward call.
    public struct BatchInput {
        public var tokens: [Int]
        public var cache: KVCache
        public var hooks: Hooks?

        public init(_ tokens: [Int], cache: KVCache, hooks: Hooks? = nil) {
            self.tokens = tokens
            self.cache = cache
            self.hooks = hooks
        }
    }

    /// Advances several independent sequences in one call: each sequence's tokens run at the positions after those
    /// in its own cache, with its own hooks, and its logits come back as the one-sequence call would return them,
    /// bit for bit (see ForwardRun). The matrix products see all sequences' rows stacked, so each weight is read
    /// once per call rather than once per sequence.
    public func forward(_ batch: [BatchInput], logits: Logits = .last, precision: Precision = .exact) throws -> [Tensor] {
        let c = config
        var sequences: [ForwardRun.Sequence] = []
        var row = 0
        for (b, input) in batch.enumerated() {
            guard !input.tokens.isEmpty else {
                throw VaneError("sequence \(b) of the batch has no new tokens", hint: "leave it out of this step")
            }
            guard !sequences.contains(where: { $0.cache === input.cache }) else {
                throw VaneError("sequence \(b) of the batch shares its cache with another sequence",
                                hint: "give each sequence its own cache (makeCache)")
            }
            let p0 = input.cache.length
            guard p0 + input.tokens.count <= input.cache.capacity else {
                throw VaneError.contextOverflow(tokens: p0 + input.tokens.count, limit: input.cache.capacity)
            }
            if let bad = input.tokens.first(where: { $0 < 0 || $0 >= c.vocabSize }) {
                throw VaneError.badToken(bad, vocabSize: c.vocabSize)
            }
            input.hooks?.record(input.tokens, at: p0)
            sequences.append(ForwardRun.Sequence(rows: row..<(row + input.tokens.count), cache: input.cache,
                                                 hooks: input.hooks, p0: p0))
            row += input.tokens.count
        }
        guard !sequences.isEmpty else { return [] }
        let (R, d, V) = (row, c.hiddenSize, c.vocabSize)
        let run = ForwardRun(config: c, sequences: sequences, precision: precision, scratch: scratch,
                             ropeInvFreq: ropeInvFreq)

        let x = FloatBuffer(R * d)                      // the residual stream [R, d]
        for (t, id) in batch.flatMap(\.tokens).enumerated() { tokenEmbedding.row(id, into: x.p + t * d) }
        let embeddingScale = blockType.embeddingScale(c)
        if embeddingScale != 1 { for i in 0..<(R * d) { x.p[i] *= embeddingScale } }
        run.hook(.embed, x, [R, d])

        for (l, block) in blocks.enumerated() { block.forward(x, layer: l, run) }
        for s in sequences { s.cache.advance(by: s.rows.count) }

        let h = FloatBuffer(R * d)
        Kernels.rmsNorm(x.p, outputNorm, h.p, rows: R, dim: d, eps: c.rmsNormEps)
        run.hook(.lnFinal, h, [R, d])

        switch logits {
        case .none:
            return sequences.map { _ in Tensor(zeros: [0, V]) }
        case .last:
            // The last row of each sequence, gathered, and multiplied as the one-sequence call multiplies its one row.
            let B = sequences.count
            let last = FloatBuffer(B * d)
            for (b, s) in sequences.enumerated() { (last.p + b * d).update(from: h.p + (s.rows.upperBound - 1) * d, count: d) }
            var out = [Float](repeating: 0, count: B * V)
            out.withUnsafeMutableBufferPointer { o in
                output.applyRowwise(last.p, rows: B, into: o.baseAddress!, precision: precision, scratch: scratch)
                if let cap = c.finalLogitSoftcapping { Kernels.softcap(o.baseAddress!, count: o.count, cap: cap) }
            }
            withExtendedLifetime(last) {}
            return (0..<B).map { Tensor(shape: [1, V], data: Array(out[($0 * V)..<(($0 + 1) * V)])) }
        case .all:
            return sequences.map { s in
                var out = [Float](repeating: 0, count: s.rows.count * V)
                out.withUnsafeMutableBufferPointer { o in
                    output.apply(h.p + s.rows.lowerBound * d, rows: s.rows.count, into: o.baseAddress!,
                                 precision: precision, scratch: scratch)
                    if let cap = c.finalLogitSoftcapping { Kernels.softcap(o.baseAddress!, count: o.count, cap: cap) }
                }
                return Tensor(shape: [s.rows.count, V], data: out)
            }
        }
    }
}

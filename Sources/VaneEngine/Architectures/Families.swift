import VaneModelIO

/// The engine's half of the architecture registry: for each family of ArchitectureSpec.registry, the block that
/// runs it. A family whose spec exists but has no block here cannot be run (it may still be converted or edited).
enum Families {
    static let blocks: [String: any DecoderBlock.Type] = [
        ArchitectureSpec.llama.name: LlamaBlock.self,
        ArchitectureSpec.qwen2.name: LlamaBlock.self,
        ArchitectureSpec.qwen3.name: Qwen3Block.self,
        ArchitectureSpec.olmo2.name: Olmo2Block.self,
        // Gemma 2/3, Phi-3
        ArchitectureSpec.gemma2.name: GemmaBlock.self,
        ArchitectureSpec.gemma3.name: GemmaBlock.self,
        ArchitectureSpec.phi3.name: Phi3Block.self,
        // Mixture-of-experts families.
        ArchitectureSpec.qwen2moe.name: MoEBlock.self,
        ArchitectureSpec.qwen3moe.name: MoEBlock.self,
        ArchitectureSpec.olmoe.name: MoEBlock.self,
        ArchitectureSpec.mixtral.name: MoEBlock.self,
    ]

    static func block(_ spec: ArchitectureSpec) throws -> any DecoderBlock.Type {
        guard let block = blocks[spec.name] else {
            throw VaneError("architecture \"\(spec.name)\" can be read but not run",
                            hint: "Vane runs: \(blocks.keys.sorted().joined(separator: ", "))")
        }
        return block
    }
}

/// One transformer block of a family: its weights, and its part of the forward pass, which reads and updates the
/// residual stream x [T, d] in place and calls the hooks at its points.
protocol DecoderBlock: Sendable {
    /// Binds layer `layer`'s tensors (`blk.{layer}.*`).
    init(_ bind: inout TensorBinder, layer: Int, config: ModelConfig) throws
    func forward(_ x: FloatBuffer, layer: Int, _ run: ForwardRun)
    /// The shape of one row (one position) of each hook point the block calls.
    static func rowShape(_ point: HookPoint, _ config: ModelConfig) -> [Int]
    /// The factor the frame multiplies token embeddings by before the first block (Gemma: √d).
    static func embeddingScale(_ config: ModelConfig) -> Float
}

extension DecoderBlock {
    static func embeddingScale(_ config: ModelConfig) -> Float { 1 }
}

extension DecoderBlock {
    /// The row shapes of a block with llama's hook points. attn.hook_pattern has no row per token ([H, T, S]): one
    /// query's row is [H, S], S growing with the position, given here as [H, context].
    static func rowShape(_ point: HookPoint, _ c: ModelConfig) -> [Int] {
        switch point {
        case .attnQ, .attnRotQ, .attnZ: [c.numAttentionHeads, c.headDim]
        case .attnK, .attnV, .attnRotK: [c.numKeyValueHeads, c.headDim]
        case .attnPattern: [c.numAttentionHeads, c.maxPositionEmbeddings]
        case .attnResult: [c.numAttentionHeads, c.hiddenSize]
        case .mlpPost: [c.intermediateSize]
        case .routerLogits, .expertWeights: [c.moe?.experts ?? 0]
        case .expertOut: [c.moe?.experts ?? 0, c.hiddenSize]
        case .embed, .residPre, .attnOut, .residMid, .mlpOut, .residPost, .lnFinal: [c.hiddenSize]
        }
    }
}

/// Hands out a model's tensors by name, each exactly once, then reports any that nobody took.
struct TensorBinder {
    private var remaining: [String: StoredTensor]
    let source: String

    init(_ files: ModelFiles) {
        remaining = files.tensors
        source = files.url.path
    }

    mutating func take(_ name: String) throws -> StoredTensor {
        guard let t = remaining.removeValue(forKey: name) else {
            throw VaneError("\(source): tensor \(name) is missing")
        }
        return t
    }

    func has(_ name: String) -> Bool { remaining[name] != nil }

    /// A norm or bias vector of `n` values, as f32.
    mutating func vector(_ name: String, _ n: Int) throws -> [Float] {
        let t = try take(name)
        guard t.count == n else { throw VaneError("\(source): \(name) has \(t.count) values, expected \(n)") }
        return dequantize(t).data
    }

    /// A bias present in the file, or required by the config.
    mutating func bias(_ name: String, _ n: Int, required: Bool) throws -> [Float]? {
        required || has(name) ? try vector(name, n) : nil
    }

    /// A weight matrix [rows, cols] in its stored type.
    mutating func matrix(_ name: String, _ rows: Int, _ cols: Int) throws -> Linear {
        let t = try take(name)
        guard t.shape == [rows, cols] else {
            throw VaneError("\(source): \(name) has shape \(t.shape), expected [\(rows), \(cols)]")
        }
        return try Linear(t)
    }

    func finish() throws {
        guard remaining.isEmpty else {
            let names = remaining.keys.sorted()
            throw VaneError("\(source): \(names.count) unexpected tensor(s): "
                                 + names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", …" : ""),
                                 hint: "the file holds weights this architecture does not use")
        }
    }
}

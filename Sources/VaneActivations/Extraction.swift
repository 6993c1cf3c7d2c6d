import Foundation
import VaneEngine
import VaneModelIO
import VaneStore

/// Settings of one extraction run.
public struct ExtractionOptions: Sendable {
    /// Hook names; `*` matches any run of characters (`blocks.*.hook_resid_post`).
    public var hooks: [String]
    public var positions: PositionMode
    public var span: SpanRule
    /// Examples per flush.
    public var batch: Int
    /// Deflate level 1…9, or 0 for none.
    public var deflate: Int
    /// Skip lines that do not parse (with a warning and a count) instead of failing.
    public var skipBad: Bool
    /// The command line, recorded in the store.
    public var commandLine: String

    public init(hooks: [String], positions: PositionMode = .last, span: SpanRule = .auto, batch: Int = 32,
                deflate: Int = 0, skipBad: Bool = false, commandLine: String = "") {
        self.hooks = hooks
        self.positions = positions
        self.span = span
        self.batch = batch
        self.deflate = deflate
        self.skipBad = skipBad
        self.commandLine = commandLine
    }
}

/// What a finished run did.
public struct ExtractionSummary: Sendable {
    public var examples: Int
    /// Examples already in the store when the run resumed.
    public var resumedAt: Int
    public var tokens: Int
    public var seconds: Double
    public var fileBytes: Int
    /// With `compareForward`: seconds spent in the plain forward calls, which `seconds` excludes.
    public var forwardSeconds: Double?

    public var tokensPerSecond: Double { Double(tokens) / max(seconds, 1e-9) }
    /// With `compareForward`: tokens/s of the plain forward calls over the same examples.
    public var forwardTokensPerSecond: Double? { forwardSeconds.map { Double(tokens) / max($0, 1e-9) } }
}

/// Runs a JSONL dataset through a model and stores chosen hook points at chosen positions (StoreLayout.swift).
///
/// Each example is one forward call over its tokens (up to the end of its span: later tokens cannot change
/// earlier activations), in exact f32 precision. Hooks pool as the activation passes — a row copy for `last` and
/// `index:K`, a running sum for `mean` — so only what is stored is ever copied. "Batch" is examples per flush:
/// the engine's KV cache holds one sequence.
///
/// The store is written to OUTPUT.partial and renamed to OUTPUT when complete; a killed run leaves
/// OUTPUT.partial holding every flushed batch, which `resume` continues.
public final class Extraction {
    public let model: LanguageModel
    public let input: ExtractionInput
    public let points: [HookPoint]
    public let options: ExtractionOptions
    public let provenance: StoreProvenance

    /// Loads and checks everything before any compute: the input (every line), the hooks, the settings.
    public init(model: LanguageModel, data: URL, options: ExtractionOptions) throws {
        guard options.batch >= 1 else { throw StoreError("--batch must be at least 1") }
        guard (0...9).contains(options.deflate) else { throw StoreError("deflate level must be 0…9") }
        self.model = model
        self.options = options
        model.transformer.precision = .exact
        points = try HookPoint.matching(options.hooks, layers: model.config.numHiddenLayers)
        input = try ExtractionInput(url: data, model: model, span: options.span, positions: options.positions,
                                    skipBad: options.skipBad)
        provenance = StoreProvenance(
            tool: "extract", modelPath: model.files.url.path, modelSHA256: try modelSHA256(model.files),
            architecture: model.config.architecture, dims: modelDims(model.config),
            tokenizer: tokenizerDescription(model), chatTemplate: input.usedChatTemplate ? model.chatTemplate?.source ?? "" : "",
            hooks: points.map(\.description), positions: options.positions, span: options.span,
            inputPath: data.path, inputSHA256: try SHA256.hex(ofFile: data), batch: options.batch,
            deflate: options.deflate, commandLine: options.commandLine)
    }

    /// OUTPUT.partial, where an unfinished run lives.
    public static func partialURL(for output: URL) -> URL { URL(fileURLWithPath: output.path + ".partial") }

    /// Extracts into `output`. With `resume`, continues OUTPUT.partial (refusing other settings), or reports a
    /// finished OUTPUT with the same settings as done; without it, an existing OUTPUT.partial is an error.
    /// With `compareForward`, each example also runs once as a plain forward call (no hooks, no file) just before
    /// its extraction, timed apart: the two speeds are then measured under the same machine load. `progress` hears
    /// of each example (examples and tokens).
    public func run(output: URL, resume: Bool, compareForward: Bool = false,
                    progress: (ProgressEvent) -> Void = { _ in }) throws -> ExtractionSummary {
        try checkWritable(output)
        let partial = Self.partialURL(for: output)
        let fm = FileManager.default
        let writer: ActivationWriter
        if fm.fileExists(atPath: partial.path) {
            guard resume else {
                let done = (try? ActivationStore(url: partial).count).map { "\($0) examples" } ?? "an unreadable run"
                throw StoreError("\(partial.path) holds an interrupted extraction (\(done)); pass --resume to "
                    + "continue it, or delete it to start over")
            }
            writer = try ActivationWriter.resume(at: partial, provenance: provenance)
        } else if resume, fm.fileExists(atPath: output.path) {
            let store = try ActivationStore(url: output)
            try store.provenance.checkResumable(as: provenance, url: output)
            guard store.count == input.examples.count else {
                throw StoreError("\(output.path) holds \(store.count) of \(input.examples.count) examples but no "
                    + "\(partial.lastPathComponent) to resume; delete it and extract again")
            }
            return ExtractionSummary(examples: store.count, resumedAt: store.count, tokens: 0, seconds: 0,
                                     fileBytes: fileSize(output))
        } else {
            writer = try ActivationWriter.create(at: partial, provenance: provenance,
                                                 rowShapes: points.map { rowShape($0, model.config) })
        }
        let resumedAt = writer.count
        progress(ProgressEvent(task: "extract", done: resumedAt, total: input.examples.count, tokens: 0))
        let start = Date()
        var tokens = 0
        let collector = Collector(points: points, positions: options.positions)
        let hooks = collector.hooks()
        let cache = model.transformer.makeCache(capacity: input.examples.map { $0.span.upperBound }.max())
        var batch: [ExtractedExample] = []
        var forwardSeconds = 0.0
        for (index, example) in input.examples.enumerated().dropFirst(resumedAt) {
            if compareForward {
                let forwardStart = Date()
                cache.truncate(to: 0)
                _ = try model.transformer.forward(Array(example.tokens[..<example.span.upperBound]), cache: cache,
                                                  logits: .none)
                forwardSeconds += Date().timeIntervalSince(forwardStart)
            }
            let rows = try collector.run(example, model: model, cache: cache, hooks: hooks)
            tokens += example.span.upperBound
            batch.append(ExtractedExample(text: example.text, label: example.label, pair: example.pair,
                                          line: example.line, tokens: example.tokens,
                                          promptTokens: example.promptTokens, span: example.span, activations: rows))
            if batch.count == options.batch || index == input.examples.count - 1 {
                try writer.append(batch)
                batch.removeAll(keepingCapacity: true)
            }
            progress(ProgressEvent(task: "extract", done: index + 1, total: input.examples.count, tokens: tokens))
        }
        try writer.close()
        try replace(output, with: partial)
        return ExtractionSummary(examples: input.examples.count, resumedAt: resumedAt, tokens: tokens,
                                 seconds: Date().timeIntervalSince(start) - forwardSeconds,
                                 fileBytes: fileSize(output), forwardSeconds: compareForward ? forwardSeconds : nil)
    }
}

/// The hooks of a run: each pools its activation into the current example's row buffer as the forward pass goes.
final class Collector {
    let points: [HookPoint]
    let positions: PositionMode
    private var span = 0..<0
    private var sums: [[Double]] = []
    private var rows: [[Float]] = []

    init(points: [HookPoint], positions: PositionMode) {
        self.points = points
        self.positions = positions
    }

    func hooks() -> Hooks {
        let hooks = Hooks()
        for (h, point) in points.enumerated() {
            hooks.add(point) { [unowned self] activation in take(h, activation) }
        }
        return hooks
    }

    /// Runs one example and returns its rows per hook.
    func run(_ example: InputExample, model: LanguageModel, cache: KVCache, hooks: Hooks) throws -> [[Float]] {
        span = example.span
        rows = Array(repeating: [], count: points.count)
        sums = Array(repeating: [], count: points.count)
        cache.truncate(to: 0)
        _ = try model.transformer.forward(Array(example.tokens[..<example.span.upperBound]), cache: cache,
                                          hooks: hooks, logits: .none)
        if positions == .mean {
            let n = Double(span.count)
            rows = sums.map { sum in sum.map { Float($0 / n) } }
        }
        return rows
    }

    private func take(_ h: Int, _ activation: Hooks.Activation) {
        let width = activation.rowWidth
        let base = activation.positions.lowerBound
        switch positions {
        case .last:
            rows[h] = Array(activation.row(span.upperBound - 1 - base))
        case .index(let k):
            rows[h] = Array(activation.row((k >= 0 ? span.lowerBound + k : span.upperBound + k) - base))
        case .all:
            rows[h] = Array(activation.values[((span.lowerBound - base) * width)..<((span.upperBound - base) * width)])
        case .mean:
            var sum = [Double](repeating: 0, count: width)
            for t in span {
                let row = activation.row(t - base)
                for i in 0..<width { sum[i] += Double(row[i]) }
            }
            sums[h] = sum
        }
    }
}

/// The shape of one row of a hook: [d], or [H, hd] / [H, d] for the per-head hooks.
func rowShape(_ point: HookPoint, _ config: ModelConfig) -> [Int] {
    switch point {
    case .attnZ: [config.numAttentionHeads, config.headDim]
    case .attnResult: [config.numAttentionHeads, config.hiddenSize]
    default: [config.hiddenSize]
    }
}

func modelDims(_ c: ModelConfig) -> [Int] {
    [c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.vocabSize]
}

/// sha256 of a .gguf file; for an HF folder, of the newline-joined sha256 digests of config.json and each shard.
func modelSHA256(_ files: ModelFiles) throws -> String {
    switch files.source {
    case .gguf(let file):
        return try SHA256.hex(ofFile: file.url)
    case .hfFolder(let folder, let shards):
        let parts = [folder.appendingPathComponent("config.json")] + shards.map(\.url)
        let digests = try parts.map { try SHA256.hex(ofFile: $0) }
        return SHA256.hex(of: Data(digests.joined(separator: "\n").utf8))
    }
}

func tokenizerDescription(_ model: LanguageModel) -> String {
    let source = model.files.isGGUF ? "GGUF tokenizer.ggml.*" : "tokenizer.json"
    return "byte-level BPE, \(model.tokenizer.vocabSize) tokens, from \(source); BOS "
        + (model.tokenizer.addsBOS ? "added" : "not added")
}

/// Refuses an output path whose folder is missing or not writable, before any compute.
func checkWritable(_ output: URL) throws {
    let folder = output.deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw StoreError("cannot write \(output.path): folder \(folder) does not exist; create it first")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else {
        throw StoreError("cannot write \(output.path): folder \(folder) is not writable")
    }
}

/// Renames `source` over `destination` in one step (rename(2) replaces atomically).
func replace(_ destination: URL, with source: URL) throws {
    guard rename(source.path, destination.path) == 0 else {
        throw StoreError("cannot rename \(source.path) to \(destination.path): \(String(cString: strerror(errno)))")
    }
}

func fileSize(_ url: URL) -> Int {
    (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
}

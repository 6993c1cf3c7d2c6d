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
    /// Input positions 0..<skipFirst are left out of every span (nil: `positions.defaultSkipFirst`).
    public var skipFirst: Int?
    /// Examples per flush.
    public var batch: Int
    /// Deflate level 1…9, or 0 for none.
    public var deflate: Int
    /// Skip lines that do not parse (with a warning and a count) instead of failing.
    public var skipBad: Bool
    /// The command line, recorded in the store.
    public var commandLine: String
    /// Extract only this shard of the input lines (ExtractionInput.swift), recorded in the store for merging.
    public var shard: Shard?

    public init(hooks: [String], positions: PositionMode = .last, span: SpanRule = .auto, skipFirst: Int? = nil,
                batch: Int = 32, deflate: Int = 0, skipBad: Bool = false, commandLine: String = "",
                shard: Shard? = nil) {
        self.hooks = hooks
        self.positions = positions
        self.span = span
        self.skipFirst = skipFirst
        self.batch = batch
        self.deflate = deflate
        self.skipBad = skipBad
        self.commandLine = commandLine
        self.shard = shard
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
    /// With `mean`: per hook point, the examples in which one position carried more than half of the mean.
    public var dominance: [SpanPooler.Dominance] = []

    public var tokensPerSecond: Double { Double(tokens) / max(seconds, 1e-9) }
    /// With `compareForward`: tokens/s of the plain forward calls over the same examples.
    public var forwardTokensPerSecond: Double? { forwardSeconds.map { Double(tokens) / max($0, 1e-9) } }
}

/// Runs a JSONL dataset through a model and stores chosen hook points at chosen positions (StoreLayout.swift).
///
/// Each example is one exact forward call over its tokens up to the end of its span, pooled as it passes
/// (SpanPooler), so only what is stored is ever copied. "Batch" is examples per flush:
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
        guard (1...Self.maxBatch).contains(options.batch) else { throw VaneError("--batch \(options.batch): give 1…\(Self.maxBatch)") }
        guard (0...9).contains(options.deflate) else { throw VaneError("deflate level must be 0…9") }
        let skipFirst = options.skipFirst ?? options.positions.defaultSkipFirst
        guard skipFirst >= 0 else { throw VaneError("--skip-first \(skipFirst): give 0 or more positions") }
        self.model = model
        self.options = options
        points = try HookPoint.matching(options.hooks, layers: model.config.numHiddenLayers, experts: model.config.routes)
        try checkPerToken(points)
        input = try ExtractionInput(url: data, model: model, span: options.span, positions: options.positions,
                                    skipFirst: skipFirst, skipBad: options.skipBad, shard: options.shard)
        provenance = StoreProvenance(
            tool: "extract", modelPath: model.files.url.path, modelSHA256: try ModelIdentity(files: model.files).sha256(),
            architecture: model.config.architecture, dims: modelDims(model.config),
            tokenizer: tokenizerDescription(model), chatTemplate: input.usedChatTemplate ? model.chatTemplate?.source ?? "" : "",
            hooks: points.map(\.description), positions: options.positions, span: options.span, skipFirst: skipFirst,
            inputPath: data.path, inputSHA256: try SHA256.hex(ofFile: data), batch: options.batch,
            deflate: options.deflate, commandLine: options.commandLine, shard: options.shard)
    }

    /// Examples per flush at most: a batch is one HDF5 chunk of rows, and a chunk must stay under 4 GiB.
    public static let maxBatch = 65536

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
                throw VaneError("\(partial.path) holds an interrupted extraction (\(done)); pass --resume to "
                    + "continue it, or delete it to start over")
            }
            writer = try ActivationWriter.resume(at: partial, provenance: provenance)
        } else if resume, fm.fileExists(atPath: output.path) {
            let store = try ActivationStore(url: output)
            try store.provenance.checkResumable(as: provenance, url: output)
            guard store.count == input.examples.count else {
                throw VaneError("\(output.path) holds \(store.count) of \(input.examples.count) examples but no "
                    + "\(partial.lastPathComponent) to resume; delete it and extract again")
            }
            return ExtractionSummary(examples: store.count, resumedAt: store.count, tokens: 0, seconds: 0,
                                     fileBytes: fileSize(output))
        } else {
            do {
                writer = try ActivationWriter.create(at: partial, provenance: provenance,
                                                     rowShapes: points.map(model.transformer.rowShape))
            } catch {
                try? fm.removeItem(at: partial)
                throw error
            }
        }
        do {
            return try extract(into: writer, output: output, partial: partial, compareForward: compareForward,
                               progress: progress)
        } catch {
            // A run that flushed nothing leaves nothing behind; flushed batches stay for --resume, which an error
            // that has nothing to do with the data (a full disk) does not make wrong.
            let kept = writer.count
            try? writer.close()
            guard kept > 0 else {
                try? fm.removeItem(at: partial)
                throw error
            }
            throw VaneError((error as? VaneError)?.message ?? "\(error)", hint: "\(partial.path) keeps the \(kept) examples flushed before the error: rerun "
                + "with --resume once the cause is fixed, or delete it to start over")
        }
    }

    private func extract(into writer: ActivationWriter, output: URL, partial: URL, compareForward: Bool,
                         progress: (ProgressEvent) -> Void) throws -> ExtractionSummary {
        let resumedAt = writer.count
        progress(ProgressEvent(task: "extract", done: resumedAt, total: input.examples.count, tokens: 0))
        let start = Date()
        var tokens = 0
        let capacity = input.examples.map { $0.span.upperBound }.max() ?? 1
        let pooler = SpanPooler(model: model, points: points, positions: options.positions, capacity: capacity)
        let cache = model.transformer.makeCache(capacity: compareForward ? capacity : 1)
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
            let rows = try pooler.run(example.tokens, span: example.span)
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
                                 fileBytes: fileSize(output), forwardSeconds: compareForward ? forwardSeconds : nil,
                                 dominance: options.positions == .mean ? pooler.dominance : [])
    }
}

func modelDims(_ c: ModelConfig) -> [Int] {
    [c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.vocabSize]
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
        throw VaneError("cannot write \(output.path): folder \(folder) does not exist; create it first")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else {
        throw VaneError("cannot write \(output.path): folder \(folder) is not writable")
    }
}

/// Renames `source` over `destination` in one step (rename(2) replaces atomically).
func replace(_ destination: URL, with source: URL) throws {
    guard rename(source.path, destination.path) == 0 else {
        throw VaneError("cannot rename \(source.path) to \(destination.path): \(String(cString: strerror(errno)))")
    }
}

func fileSize(_ url: URL) -> Int {
    (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
}

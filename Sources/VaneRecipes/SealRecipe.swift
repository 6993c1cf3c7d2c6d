import Foundation
import VaneActivations
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTokenizer

/// SEAL's calibration direction (after "SEAL: Steerable Reasoning Calibration of Large Language Models for Free"):
/// the model's own reasoning traces are split into thoughts at a separator ("\n\n"), and each thought is labelled
/// by keywords — transition (it switches approach: "alternatively", "another way", …), else reflection (it checks
/// or doubts: "wait", "verify", "let me check", …), else execution. A keyword matches case-insensitively anywhere
/// in the thought; transition wins over reflection.
///
/// The activation read for a thought is at the token in which the separator ending it ends (the thought boundary,
/// where `--steer-positions at:\n\n` steers), in a teacher-forced pass over prompt + trace. Boundaries go to an
/// activation store, label 1 for reflection and transition and 0 for execution (positions "last": each example's
/// span ends at its boundary), and the vector is their mean-diff per layer: mean(R ∪ T) − mean(E). Adding it makes
/// reflection and transition more likely; SEAL calibrates with the opposite sign (a negative scale at the
/// boundaries). Beside the store, OUT.thoughts.jsonl lists every thought with its label and boundary position.
public struct SealRecipe {
    public enum Thought: String, Codable, Sendable, CaseIterable { case execution, reflection, transition }

    /// The keyword lists, SEAL's by default; a JSON file {"reflection": [...], "transition": [...]} replaces them.
    public struct Keywords: Codable, Equatable, Sendable {
        public var reflection: [String]
        public var transition: [String]

        public init(reflection: [String], transition: [String]) {
            (self.reflection, self.transition) = (reflection, transition)
        }

        public static let seal = Keywords(
            reflection: ["wait", "verify", "make sure", "hold on", "think again", "'s correct", "'s incorrect",
                         "let me check", "seems right"],
            transition: ["alternatively", "think differently", "another way", "another approach", "another method",
                         "another solution", "another strategy", "another technique"])

        public func label(_ thought: String) -> Thought {
            let text = thought.lowercased()
            if transition.contains(where: { text.contains($0.lowercased()) }) { return .transition }
            if reflection.contains(where: { text.contains($0.lowercased()) }) { return .reflection }
            return .execution
        }
    }

    /// A thought of a trace: its text (separator excluded) and the generated token in which the separator after it
    /// ends; the last thought, with no separator after it, has no boundary and is not stored.
    public struct Boundary: Sendable, Equatable {
        public var text: String
        public var token: Int
    }

    /// The thoughts of generated `tokens` that end at `separator`, found on the decoded bytes.
    public static func boundaries(_ tokens: [Int], separator: String, tokenizer: BPETokenizer) -> [Boundary] {
        var bytes: [UInt8] = [], ends: [Int] = []
        for t in tokens {
            bytes += tokenizer.bytes(of: t)
            ends.append(bytes.count)
        }
        let sep = Array(separator.utf8)
        var out: [Boundary] = [], start = 0, i = 0
        while i + sep.count <= bytes.count {
            guard bytes[i..<(i + sep.count)].elementsEqual(sep) else { i += 1; continue }
            let end = i + sep.count
            let token = ends.firstIndex { $0 >= end }!
            out.append(Boundary(text: String(decoding: bytes[start..<i], as: UTF8.self), token: token))
            start = end
            i = end
        }
        return out
    }

    public struct Report: Sendable {
        public var traces: Int
        public var counts: [Thought: Int]
        public var seconds: Double
    }

    public let model: LanguageModel
    public var samples = 1
    public var temperature: Float = 0
    public var maxTokens = 512
    public var seed: UInt64 = 0
    public var layers: [Int]
    public var separator = "\n\n"
    public var keywords = Keywords.seal
    public var batchSize = 16

    public init(model: LanguageModel) {
        self.model = model
        layers = Array(1..<model.config.numHiddenLayers)
    }

    public static func thoughtsURL(forStore store: URL) -> URL {
        store.deletingPathExtension().appendingPathExtension("thoughts.jsonl")
    }

    struct ThoughtRecord: Codable {
        var line: Int
        var sample: Int
        var position: Int
        var label: Thought
        var text: String
    }

    /// Generates the traces, labels their thoughts, writes the store (STORE.partial, renamed when complete) and
    /// the thoughts file, and returns the vector with the label counts.
    public func run(_ questions: PromptSet, storeURL: URL, commandLine: String, inputURL: URL,
                    progress: (ProgressEvent) -> Void = { _ in }) throws -> (vector: ControlVector, report: Report) {
        try LayerList.check(layers, modelLayers: model.config.numHiddenLayers)
        try ControlVector.refuseLayerZero(layers)
        guard !separator.isEmpty else { throw VaneError("the thought separator is empty") }
        let start = Date()
        let c = model.config
        let points = layers.map { SteerHook.residPost.point($0) }
        let provenance = StoreProvenance(
            tool: "recipe seal", modelPath: model.files.url.path, modelSHA256: try ModelIdentity(files: model.files).sha256(),
            architecture: c.architecture,
            dims: [c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.vocabSize],
            tokenizer: model.files.url.lastPathComponent, chatTemplate: model.chatTemplate?.source ?? "",
            hooks: points.map(\.description), positions: .last, span: .completion, inputPath: inputURL.path,
            inputSHA256: try SHA256.hex(ofFile: inputURL), batch: 16, deflate: 0, commandLine: commandLine)

        var requests: [BatchGenerator.Request] = []
        var prompts: [[Int]] = []
        for (q, item) in questions.items.enumerated() {
            let ids = try PromptSet.tokens(item, model: model)
            prompts.append(ids)
            for s in 0..<samples {
                let sampling = temperature == 0 ? SamplingOptions.greedy
                    : SamplingOptions(temperature: temperature, topK: 40, topP: 0.95, minP: 0.05, seed: seed &+ UInt64(q * samples + s))
                requests.append(BatchGenerator.Request(promptTokens: ids, options: GenerationOptions(maxTokens: maxTokens, sampling: sampling)))
            }
        }
        var done = 0, tokens = 0
        let task = "seal: generating"
        progress(ProgressEvent(task: task, done: 0, total: requests.count, tokens: 0))
        let traces = try Generator(model).generate(requests, batchSize: batchSize) { _, r in
            done += 1
            tokens += r.tokens.count
            progress(ProgressEvent(task: task, done: done, total: requests.count, tokens: tokens))
        }

        let partial = URL(fileURLWithPath: storeURL.path + ".partial")
        try? FileManager.default.removeItem(at: partial)
        let writer = try ActivationWriter.create(at: partial, provenance: provenance, rowShapes: points.map { _ in [c.hiddenSize] })
        var records: [ThoughtRecord] = []
        var counts: [Thought: Int] = [:]
        progress(ProgressEvent(task: "seal: reading boundaries", done: 0, total: traces.count))
        for (i, trace) in traces.enumerated() {
            let q = i / samples, prompt = prompts[q]
            let found = Self.boundaries(trace.tokens, separator: separator, tokenizer: model.tokenizer)
            if !found.isEmpty {
                let all = prompt + trace.tokens
                let capture = Capture()
                let hooks = Hooks()
                capture.attach(to: hooks, points: points)
                _ = try model.transformer.forward(all, cache: model.transformer.makeCache(capacity: all.count), hooks: hooks,
                                                  logits: .none)
                var batch: [ExtractedExample] = []
                for b in found {
                    let label = keywords.label(b.text)
                    counts[label, default: 0] += 1
                    let position = prompt.count + b.token
                    records.append(ThoughtRecord(line: q + 1, sample: i % samples, position: position, label: label, text: b.text))
                    batch.append(ExtractedExample(
                        text: b.text, label: label == .execution ? 0 : 1, pair: -1, line: q + 1, tokens: all,
                        promptTokens: prompt.count, span: prompt.count..<(position + 1),
                        activations: points.map { Array(capture.tensors[$0]!.row(position)) }))
                }
                try writer.append(batch)
            }
            progress(ProgressEvent(task: "seal: reading boundaries", done: i + 1, total: traces.count))
        }
        try writer.close()
        let positive = (counts[.reflection] ?? 0) + (counts[.transition] ?? 0), negative = counts[.execution] ?? 0
        guard positive >= 1, negative >= 1 else {
            try? FileManager.default.removeItem(at: partial)
            throw VaneError("the traces have \(positive) reflection or transition and \(negative) execution thoughts; the "
                + "direction needs both", hint: "use more questions, longer traces (--max-tokens), or keywords that match (--keywords)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let lines = try records.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        try AtomicFile.write(Self.thoughtsURL(forStore: storeURL)) { try $0.write(contentsOf: Data(lines.utf8)) }
        guard rename(partial.path, storeURL.path) == 0 else {
            throw VaneError("cannot rename \(partial.path) to \(storeURL.path): \(String(cString: strerror(errno)))")
        }
        let vector = try VectorBuilder(store: try ActivationStore(url: storeURL)).compute(
            .meanDiff, hook: .residPost, layers: layers, commandLine: commandLine,
            modelName: model.files.url.lastPathComponent, modelHint: c.architecture, progress: progress)
        return (vector, Report(traces: traces.count, counts: counts, seconds: Date().timeIntervalSince(start)))
    }
}

import Foundation
import VaneBake
import VaneActivations
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneSteer

/// One generated response with its reasoning length. As a line of the responses file (JSON Lines, readable by
/// `vane extract` and `vane heads`):
///
///     {"messages": [{"role": "user", "content": Q}], "completion": R, "label": 1 | 0 | -1,
///      "reasoning_tokens": N, "response_tokens": M, "tagged": bool, "stop": "endOfTurn" | "maxTokens" | …,
///      "answer": A, "correct": bool}
///
/// label 1 = long (> --long-above), 0 = short (< --short-below), −1 = neither. When the run measures think blocks,
/// R is cut where the reasoning ends and closed with `</think>` if generation stopped inside it, so that the
/// span markers `<think>` … `</think>` select exactly the reasoning tokens.
public struct ReasoningSample: Sendable {
    public var item: PromptSet.Item
    public var response: String
    public var responseTokens: Int
    public var reasoningTokens: Int
    public var tagged: Bool
    public var stop: String
    public var correct: Bool?
    public var label: Int

    public init(item: PromptSet.Item, response: String, responseTokens: Int, reasoningTokens: Int, tagged: Bool,
                stop: String, correct: Bool?, label: Int = -1) {
        self.item = item
        self.response = response
        self.responseTokens = responseTokens
        self.reasoningTokens = reasoningTokens
        self.tagged = tagged
        self.stop = stop
        self.correct = correct
        self.label = label
    }
}

/// ThinkEdit ("ThinkEdit: Interpretable Weight Editing to Mitigate Overly Short Thinking in Reasoning Models"), on
/// any llama/qwen2 model:
///
///  1. generate a response per question with the model's own sampling settings; measure reasoning length;
///     label long (> longAbove) 1 and short (< shortBelow) 0;
///  2. teacher-force question + response and average `hook_resid_mid` (`hook_resid_post` for the mlp site) and
///     every head's `attn.hook_result` over the reasoning tokens (an activation store, `vane extract`'s layout);
///     the direction per layer d_L = mean(long) − mean(short) (mean-diff; layers 1…L−1, as vector files hold);
///  3. score every head on the short examples (HeadAttribution) and take the top k;
///  4. project v = −d̂_L out of those heads' o_proj columns (Bake.heads).
public struct ThinkEdit {
    public enum Site: String, Sendable, CaseIterable { case attn, mlp }

    public struct Report: Sendable {
        public var samples: [ReasoningSample]
        public var longCut: Double
        public var shortCut: Double
        public var tagged: Bool
        public var sampling: String
        public var vector: ControlVector
        public var scores: [HeadScore]
        public var heads: [HeadScore]
        public var seconds: Double
    }

    public let model: LanguageModel
    public var maxTokens = 256
    public var sampling: SamplingOptions
    public var samplingSource: String
    public var seed: UInt64 = 0
    public var longAbove = LengthThreshold.percentile(70)
    public var shortBelow = LengthThreshold.percentile(30)
    public var site = Site.attn
    /// Heads to edit; nil: 4% of the heads scored, at least one.
    public var topK: Int?
    /// Responses decoded together in step 1 (BatchGenerator); they do not depend on it with `.exact` decoding.
    public var batchSize = 16

    public init(model: LanguageModel) {
        self.model = model
        (sampling, samplingSource) = ModelSampling.defaults(model.files)
    }

    // MARK: Step 1

    /// Generates one response per question and labels each by its reasoning length.
    public func generate(_ questions: PromptSet, log: (String) -> Void = { _ in },
                         progress: (ProgressEvent) -> Void = { _ in }) throws
        -> (samples: [ReasoningSample], longCut: Double, shortCut: Double, tagged: Bool) {
        let task = "thinkedit: generating", total = questions.items.count
        var tokens = 0
        progress(ProgressEvent(task: task, done: 0, total: total, tokens: 0))
        let requests = try questions.items.enumerated().map { q, item in
            var s = sampling
            s.seed = seed &+ UInt64(q)
            return BatchGenerator.Request(promptTokens: try PromptSet.tokens(item, model: model),
                                          options: GenerationOptions(maxTokens: maxTokens, sampling: s))
        }
        var done = 0
        let results = try Generator(model).generate(requests, batchSize: batchSize) { _, r in
            done += 1
            tokens += r.tokens.count
            progress(ProgressEvent(task: task, done: done, total: total, tokens: tokens))
        }
        var samples: [ReasoningSample] = zip(questions.items, results).map { item, r in
            let (span, tagged) = ReasoningLength.span(of: r.tokens, tokenizer: model.tokenizer)
            return ReasoningSample(item: item, response: r.text, responseTokens: r.tokens.count,
                                   reasoningTokens: span.count, tagged: tagged, stop: r.stopReason.rawValue,
                                   correct: item.answer.map { AnswerChecker.isCorrect(r.text, answer: $0) })
        }
        let tagged = samples.filter(\.tagged).count * 2 > samples.count
        let lengths = samples.filter { $0.tagged == tagged }.map(\.reasoningTokens)
        let longCut = longAbove.tokens(over: lengths), shortCut = shortBelow.tokens(over: lengths)
        guard shortCut <= longCut else {
            throw VaneError("the short cut (\(shortBelow) = \(shortCut) tokens) lies above the long cut (\(longAbove) = \(longCut) tokens)",
                            hint: "give --short-below at most --long-above")
        }
        for i in samples.indices where samples[i].tagged == tagged {
            let n = Double(samples[i].reasoningTokens)
            samples[i].label = n > longCut ? 1 : n < shortCut ? 0 : -1
        }
        let long = samples.filter { $0.label == 1 }.count, short = samples.filter { $0.label == 0 }.count
        log(String(format: "%d responses (%@), long > %.1f tokens: %d, short < %.1f tokens: %d",
                   samples.count, tagged ? "think blocks" : "whole responses", longCut, long, shortCut, short))
        guard long >= 1, short >= 1 else {
            throw VaneError("the split left \(long) long and \(short) short responses; the direction needs both",
                            hint: "move --long-above / --short-below, or use more questions")
        }
        return (samples, longCut, shortCut, tagged)
    }

    /// The responses file (see ReasoningSample).
    public static func writeResponses(_ samples: [ReasoningSample], tagged: Bool, to url: URL) throws {
        var out = Data()
        for s in samples {
            var messages: [[String: String]] = []
            if let system = s.item.system { messages.append(["role": "system", "content": system]) }
            messages.append(["role": "user", "content": s.item.text])
            var completion = s.response
            if tagged && s.tagged {
                if let close = completion.range(of: ReasoningLength.close) {
                    completion = String(completion[..<close.upperBound])
                } else {
                    completion += ReasoningLength.close
                }
            }
            var object: [String: Any] = ["messages": messages, "completion": completion, "label": s.tagged == tagged ? s.label : -1,
                                         "reasoning_tokens": s.reasoningTokens, "response_tokens": s.responseTokens,
                                         "tagged": s.tagged, "stop": s.stop]
            if let a = s.item.answer { object["answer"] = a }
            if let c = s.correct { object["correct"] = c }
            out += try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            out += Data("\n".utf8)
        }
        try AtomicFile.write(url) { try $0.write(contentsOf: out) }
    }

    // MARK: Steps 2–3

    /// Extracts the store for the direction and the attribution from the responses file.
    public func extract(responses: URL, tagged: Bool, store: URL, commandLine: String,
                        progress: (ProgressEvent) -> Void = { _ in }) throws {
        let hook = site == .attn ? "blocks.*.hook_resid_mid" : "blocks.*.hook_resid_post"
        let options = ExtractionOptions(hooks: [hook, "blocks.*.attn.hook_result"], positions: .mean,
                                        span: tagged ? .markers(start: ReasoningLength.open, end: ReasoningLength.close) : .completion,
                                        batch: 16, commandLine: commandLine)
        let partial = Extraction.partialURL(for: store)
        try? FileManager.default.removeItem(at: partial)
        try? FileManager.default.removeItem(at: store)
        _ = try Extraction(model: model, data: responses, options: options).run(output: store, resume: false, progress: progress)
    }

    /// mean(long) − mean(short) per layer at the site, and the head scores on the short examples.
    public func direction(store url: URL, commandLine: String,
                          progress: (ProgressEvent) -> Void = { _ in }) throws -> (vector: ControlVector, scores: [HeadScore]) {
        let store = try ActivationStore(url: url)
        let vector = try VectorBuilder(store: store).compute(
            .meanDiff, hook: site == .attn ? .residMid : .residPost, commandLine: commandLine,
            modelName: model.files.url.lastPathComponent, modelHint: model.config.architecture, progress: progress)
        return (vector, try HeadAttribution.scores(store: store, directions: vector.directions, label: 0))
    }

    // MARK: The whole recipe

    /// Runs steps 1–4: writes OUT (the edited model) and beside it STEM.responses.jsonl, STEM.h5 (the store),
    /// STEM.direction.gguf, STEM.heads.json and STEM.heads.svg.
    public func run(_ questions: PromptSet, questionsURL: URL, output: OutputOptions, commandLine: String,
                    log: (String) -> Void = { _ in }, progress: (ProgressEvent) -> Void = { _ in }) throws -> Report {
        let start = Date()
        let input = try ModelInput(url: model.files.url)
        try output.validateEarly(inputs: [input.url])
        let stem = output.url.deletingPathExtension().path
        func side(_ suffix: String) -> URL { URL(fileURLWithPath: stem + suffix) }

        let (samples, longCut, shortCut, tagged) = try generate(questions, log: log, progress: progress)
        try Self.writeResponses(samples, tagged: tagged, to: side(".responses.jsonl"))
        log("extracting \(site == .attn ? "hook_resid_mid" : "hook_resid_post") and attn.hook_result over the reasoning tokens")
        try extract(responses: side(".responses.jsonl"), tagged: tagged, store: side(".h5"), commandLine: commandLine,
                    progress: progress)
        let (vector, scores) = try direction(store: side(".h5"), commandLine: commandLine, progress: progress)
        let vectorURL = side(".direction.gguf")
        try vector.write(to: vectorURL)
        try AtomicFile.write(side(".heads.json")) { try $0.write(contentsOf: try HeadAttribution.json(scores)) }
        try HeadAttribution.heatmap(scores, title: "ThinkEdit head scores (toward short reasoning)").write(to: side(".heads.svg"))

        let k = topK ?? max(1, Int((0.04 * Double(scores.count)).rounded()))
        let chosen = try HeadAttribution.top(k, of: scores)
        log("editing \(k) heads: " + chosen.map(\.name).joined(separator: ", "))
        if let note = Bake.headEditNote(input) { log(note) }
        let direction = DirectionEdits.Direction(vector: vector, url: vectorURL, sha256: try SHA256.hex(ofFile: vectorURL))
        try DirectionEdits.heads(input, direction: direction, heads: chosen.map { ($0.layer, $0.head) }, to: output,
                                 recipe: "thinkedit", command: commandLine,
                                 extra: ["edit.questions": questionsURL.lastPathComponent,
                                         "edit.long_above": String(format: "%g", longCut),
                                         "edit.short_below": String(format: "%g", shortCut),
                                         "edit.site": site.rawValue],
                                 progress: progress)
        return Report(samples: samples, longCut: longCut, shortCut: shortCut, tagged: tagged, sampling: samplingSource,
                      vector: vector, scores: scores, heads: chosen, seconds: Date().timeIntervalSince(start))
    }
}

extension OutputOptions {
    /// The output checks that can run before hours of generation: not the input's own path, an existing folder.
    func validateEarly(inputs: [URL]) throws {
        let out = url.standardizedFileURL.resolvingSymlinksInPath().path
        for input in inputs where input.standardizedFileURL.resolvingSymlinksInPath().path == out {
            throw VaneError("the output \(url.path) would overwrite the input \(input.path)", hint: "write the edited model to another path")
        }
        let parent = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent) else {
            throw VaneError("cannot write \(url.path): folder \(parent) does not exist")
        }
    }
}

import Foundation
import VaneBake
import VaneSteer
import VaneActivations
import VaneEngine
import VaneModelIO

/// The efficiency direction (after "Exploring and Exploiting the Inherent Efficiency within Large Reasoning
/// Models"): the model's own short correct answers against its own long correct answers.
///
/// For each question with a numeric answer: sample `samples` responses from the model (chat template, the given
/// temperature with llama.cpp's default filters top-k 40, top-p 0.95, min-p 0.05, seeds derived from `seed`), keep
/// those that end their turn and whose last number equals the answer, and — when at least two correct responses
/// differ in length — pair the shortest (label 1) with the longest (label 0). Each kept response is teacher-forced
/// after its prompt and the activation at every chosen `hook` point is averaged over the response's tokens. The
/// pairs go to an activation store (positions "mean", span "completion"), and the vector is `mean-diff` over them
/// per layer, positive = short: adding it shortens, subtracting lengthens.
///
/// Two files record a run: the store, built in STORE.partial and renamed when done, and a samples log (JSON Lines:
/// a header with the settings, then one line per finished question with every sample's text, length, stop reason
/// and verdict), rewritten atomically after each question. The log is what `resume` continues from: finished
/// questions are skipped, and since each sample's seed depends only on the question and sample index, a question
/// interrupted midway is sampled again with the same result.
public struct EfficiencyRecipe {
    public struct Report: Sendable {
        public var questions: Int
        public var correctSamples: Int
        public var totalSamples: Int
        public var pairs: Int
        public var meanShortLength: Double
        public var meanLongLength: Double
        /// Questions taken from the samples log of an interrupted run.
        public var resumedQuestions: Int
        public var seconds: Double
    }

    /// The samples log's first line: a run may only be resumed with the same settings.
    struct Settings: Codable, Equatable {
        var recipe = "efficiency"
        var modelSHA256: String
        var inputSHA256: String
        var samples: Int
        var temperature: Float
        var topK: Int
        var topP: Float
        var minP: Float
        var maxTokens: Int
        var seed: UInt64
        var hook: String
        var layers: [Int]

        enum CodingKeys: String, CodingKey {
            case recipe, samples, temperature, seed, hook, layers
            case modelSHA256 = "model_sha256", inputSHA256 = "input_sha256", topK = "top_k", topP = "top_p"
            case minP = "min_p", maxTokens = "max_tokens"
        }
    }

    /// One finished question in the samples log.
    struct QuestionRecord: Codable {
        struct Sample: Codable {
            var seed: UInt64
            var tokens: Int
            var stop: String
            var correct: Bool
            var text: String
        }
        var line: Int
        var answer: Double
        var samples: [Sample]
        /// Indices into `samples` of the shortest and longest correct responses, when they made a pair.
        var pair: [Int]?
    }

    public let model: LanguageModel
    public var samples = 6
    public var temperature: Float = 0.8
    public var maxTokens = 192
    public var seed: UInt64 = 0
    public var layers: [Int]
    public var hook = SteerHook.residPost
    public var method = DirectionMethod.meanDiff
    /// Samples decoded together (across questions); the samples do not depend on it with `.exact` decoding.
    public var batchSize = 16

    public init(model: LanguageModel) {
        self.model = model
        layers = Array(1..<model.config.numHiddenLayers)
    }

    /// The samples log written beside a store.
    public static func samplesURL(forStore store: URL) -> URL {
        store.deletingPathExtension().appendingPathExtension("samples.jsonl")
    }

    /// Runs the recipe: writes the store to `storeURL` and the samples log beside it, and returns the vector (not
    /// yet written) and a report. With `resume`, continues an interrupted run from its samples log and
    /// STORE.partial; without it, an existing STORE.partial is an error.
    public func run(_ questions: PromptSet, storeURL: URL, resume: Bool = false, commandLine: String, inputURL: URL,
                    log: (String) -> Void = { _ in },
                    progress: (ProgressEvent) -> Void = { _ in }) throws -> (vector: ControlVector, report: Report) {
        try LayerList.check(layers, modelLayers: model.config.numHiddenLayers)
        try ControlVector.refuseLayerZero(layers)
        guard questions.items.allSatisfy({ $0.answer != nil }) else {
            throw VaneError("\(inputURL.path): every question needs an \"answer\" to check the samples against")
        }
        let start = Date()
        let identity = ModelIdentity(files: model.files)
        let c = model.config
        let points = layers.map { hook.point($0).description }
        let modelSHA256 = try identity.sha256(), inputSHA256 = try SHA256.hex(ofFile: inputURL)
        let settings = Settings(modelSHA256: modelSHA256, inputSHA256: inputSHA256, samples: samples,
                                temperature: temperature, topK: 40, topP: 0.95, minP: 0.05, maxTokens: maxTokens,
                                seed: seed, hook: hook.rawValue, layers: layers)
        let provenance = StoreProvenance(
            tool: "recipe efficiency", modelPath: model.files.url.path, modelSHA256: modelSHA256,
            architecture: c.architecture,
            dims: [c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.vocabSize],
            tokenizer: model.files.url.lastPathComponent, chatTemplate: model.chatTemplate?.source ?? "",
            hooks: points, positions: .mean, span: .completion, inputPath: inputURL.path,
            inputSHA256: inputSHA256, batch: 2, deflate: 0, commandLine: commandLine)
        let partial = URL(fileURLWithPath: storeURL.path + ".partial")
        let samplesURL = Self.samplesURL(forStore: storeURL)
        var records: [QuestionRecord] = []
        // A kill between a pair's store append and the log rewrite leaves that question's pair stored but not
        // logged: it is sampled again (same seeds, same result) but not appended twice.
        var storedLines: Set<Int> = []
        let writer: ActivationWriter
        if FileManager.default.fileExists(atPath: partial.path) {
            guard resume else {
                throw VaneError("\(partial.path) holds an interrupted run",
                                hint: "pass --resume to continue it, or delete it to start over")
            }
            records = try Self.readLog(samplesURL, expecting: settings)
            guard records.count <= questions.items.count,
                  records.enumerated().allSatisfy({ $0.element.line == $0.offset + 1 }) else {
                throw VaneError("cannot resume: \(samplesURL.path) does not record the first questions of \(inputURL.path) in order",
                                hint: "delete it and the .partial store to start over")
            }
            storedLines = Set(try ActivationStore(url: partial).examples.lines)
            writer = try ActivationWriter.resume(at: partial, provenance: provenance)
        } else {
            writer = try ActivationWriter.create(at: partial, provenance: provenance,
                                                 rowShapes: points.map { _ in [c.hiddenSize] })
            try Self.writeLog(samplesURL, settings: settings, records: [])
        }
        let resumedQuestions = records.count
        var correctSoFar = records.reduce(0) { $0 + $1.correctCount }
        let task = "efficiency: sampling", total = questions.items.count * samples
        var sampled = records.count * samples, tokens = 0
        progress(ProgressEvent(task: task, done: sampled, total: total, tokens: 0))
        // All remaining samples go through one batched generator; each question is logged and stored, in order,
        // as soon as its samples and those of the questions before it are done (so --resume works as before).
        let pending = Array(questions.items.enumerated().dropFirst(records.count))
        var requests: [BatchGenerator.Request] = []
        var seeds: [UInt64] = []
        var prompts: [[Int]] = []
        for (q, item) in pending {
            let ids = try PromptSet.tokens(item, model: model)
            prompts.append(ids)
            for s in 0..<samples {
                let sampleSeed = seed &+ UInt64(q * samples + s)
                seeds.append(sampleSeed)
                requests.append(BatchGenerator.Request(promptTokens: ids, options: GenerationOptions(
                    maxTokens: maxTokens, sampling: SamplingOptions(temperature: temperature, topK: 40, topP: 0.95,
                                                                    minP: 0.05, seed: sampleSeed))))
            }
        }
        var finished = [GenerationResult?](repeating: nil, count: requests.count)
        var nextQuestion = 0
        func finishQuestion(_ k: Int) throws {
            let (q, item) = pending[k]
            let ids = prompts[k]
            let results = (0..<samples).map { finished[k * samples + $0]! }
            var record = QuestionRecord(line: q + 1, answer: item.answer!, samples: [], pair: nil)
            for (s, r) in results.enumerated() {
                let correct = r.stopReason == .endOfTurn && AnswerChecker.isCorrect(r.text, answer: item.answer!)
                record.samples.append(.init(seed: seeds[k * samples + s], tokens: r.tokens.count,
                                            stop: r.stopReason.rawValue, correct: correct, text: r.text))
            }
            let correct = record.samples.indices.filter { record.samples[$0].correct }
            if let short = correct.min(by: { results[$0].tokens.count < results[$1].tokens.count }),
               let long = correct.max(by: { results[$0].tokens.count < results[$1].tokens.count }),
               results[short].tokens.count < results[long].tokens.count {
                record.pair = [short, long]
                if !storedLines.contains(q + 1) {
                    let rendered = model.tokenizer.decode(ids)
                    var batch: [ExtractedExample] = []
                    for (label, r) in [(1, results[short]), (0, results[long])] {
                        batch.append(ExtractedExample(
                            text: rendered + r.text, label: label, pair: writer.count / 2, line: q + 1,
                            tokens: ids + r.tokens, promptTokens: ids.count,
                            span: ids.count..<(ids.count + r.tokens.count), activations: try responseMeans(ids, r.tokens)))
                    }
                    try writer.append(batch)
                }
                log("question \(q + 1): \(correct.count)/\(samples) correct, pair \(results[short].tokens.count) vs \(results[long].tokens.count) tokens")
            } else {
                log("question \(q + 1): \(correct.count)/\(samples) correct, no pair")
            }
            records.append(record)
            try Self.writeLog(samplesURL, settings: settings, records: records)
        }
        _ = try Generator(model).generate(requests, batchSize: batchSize) { i, r in
            finished[i] = r
            sampled += 1
            tokens += r.tokens.count
            if r.stopReason == .endOfTurn, AnswerChecker.isCorrect(r.text, answer: pending[i / samples].element.answer!) {
                correctSoFar += 1
            }
            progress(ProgressEvent(task: task, done: sampled, total: total, tokens: tokens, note: "\(correctSoFar) correct"))
            while nextQuestion < pending.count, (0..<samples).allSatisfy({ finished[nextQuestion * samples + $0] != nil }) {
                try finishQuestion(nextQuestion)
                nextQuestion += 1
            }
        }
        try writer.close()
        let pairs = records.filter { $0.pair != nil }
        guard pairs.count >= 2 else {
            throw VaneError("only \(pairs.count) question(s) gave two correct answers of different lengths (\(correctSoFar) of \(questions.items.count * samples) samples were correct)",
                            hint: "use easier questions, more --samples, or a larger --max-tokens")
        }
        guard rename(partial.path, storeURL.path) == 0 else {
            throw VaneError("cannot rename \(partial.path) to \(storeURL.path): \(String(cString: strerror(errno)))")
        }
        let vector = try VectorBuilder(store: try ActivationStore(url: storeURL)).compute(
            method, hook: hook, layers: layers, commandLine: commandLine, modelName: model.files.url.lastPathComponent,
            modelHint: c.architecture, progress: progress)
        func mean(_ x: [Int]) -> Double { Double(x.reduce(0, +)) / Double(max(x.count, 1)) }
        return (vector, Report(questions: questions.items.count,
                               correctSamples: correctSoFar,
                               totalSamples: questions.items.count * samples, pairs: pairs.count,
                               meanShortLength: mean(pairs.map { $0.samples[$0.pair![0]].tokens }),
                               meanLongLength: mean(pairs.map { $0.samples[$0.pair![1]].tokens }),
                               resumedQuestions: resumedQuestions, seconds: Date().timeIntervalSince(start)))
    }

    static func writeLog(_ url: URL, settings: Settings, records: [QuestionRecord]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(settings) + Data("\n".utf8)
        for record in records { data += try encoder.encode(record) + Data("\n".utf8) }
        try AtomicFile.write(url) { try $0.write(contentsOf: data) }
    }

    /// The finished questions of an interrupted run's samples log, which must have been made with `settings`.
    static func readLog(_ url: URL, expecting settings: Settings) throws -> [QuestionRecord] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw VaneError("cannot resume: \(url.path), the samples log of the interrupted run, is missing or unreadable",
                            hint: "delete the .partial store to start over")
        }
        let decoder = JSONDecoder()
        let lines = text.split(separator: "\n")
        guard let first = lines.first, let old = try? decoder.decode(Settings.self, from: Data(first.utf8)) else {
            throw VaneError("\(url.path):1: not a samples-log header", hint: "delete it and the .partial store to start over")
        }
        guard old == settings else {
            throw VaneError("cannot resume: \(url.path) was made with other settings (\(old.differences(from: settings)))",
                            hint: "rerun with the original settings, or delete it and the .partial store to start over")
        }
        return try lines.dropFirst().enumerated().map { i, line in
            do { return try decoder.decode(QuestionRecord.self, from: Data(line.utf8)) } catch {
                throw VaneError("\(url.path):\(i + 2): not a question record (\(error))")
            }
        }
    }

    /// Per hook point, the mean activation over the response tokens of prompt + response run in one pass.
    func responseMeans(_ prompt: [Int], _ response: [Int]) throws -> [[Float]] {
        let tokens = prompt + response
        return try SpanPooler(model: model, points: layers.map(hook.point), positions: .mean, capacity: tokens.count)
            .run(tokens, span: prompt.count..<tokens.count)
    }
}

extension EfficiencyRecipe.QuestionRecord {
    var correctCount: Int { samples.filter(\.correct).count }
}

extension EfficiencyRecipe.Settings {
    /// "samples 4 → 8, seed 0 → 1": the settings that differ, for the resume error.
    func differences(from other: Self) -> String {
        let mine = Mirror(reflecting: self).children, theirs = Mirror(reflecting: other).children
        return zip(mine, theirs).compactMap { a, b in
            let (x, y) = ("\(a.value)", "\(b.value)")
            return x == y ? nil : "\(a.label ?? "?") \(x) → \(y)"
        }.joined(separator: ", ")
    }
}

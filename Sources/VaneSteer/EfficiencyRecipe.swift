import Foundation
import VaneActivations
import VaneEngine
import VaneModelIO

/// The efficiency direction (after "Exploring and Exploiting the Inherent Efficiency within Large Reasoning
/// Models"): the model's own short correct answers against its own long correct answers.
///
/// For each question with a numeric answer: sample `samples` responses from the model (chat template, the given
/// temperature with llama.cpp's default filters top-k 40, top-p 0.95, min-p 0.05, seeds derived from `seed`), keep those whose last number equals the answer, and — when at least
/// two correct responses differ in length — pair the shortest (label 1) with the longest (label 0). Each kept
/// response is teacher-forced after its prompt and the activation at every chosen `hook` point is averaged over
/// the response's tokens. The pairs go to an activation store (positions "mean", span "completion"), and the
/// vector is `mean-diff` over them per layer, positive = short: adding it shortens, subtracting lengthens.
public struct EfficiencyRecipe {
    public struct Report: Sendable {
        public var questions: Int
        public var correctSamples: Int
        public var totalSamples: Int
        public var pairs: Int
        public var meanShortLength: Double
        public var meanLongLength: Double
        public var seconds: Double
    }

    public let model: LanguageModel
    public var samples = 6
    public var temperature: Float = 0.8
    public var maxTokens = 192
    public var seed: UInt64 = 0
    public var layers: [Int]
    public var hook = SteerHook.residPost
    public var method = DirectionMethod.meanDiff

    public init(model: LanguageModel) {
        self.model = model
        layers = Array(1..<model.config.numHiddenLayers)
    }

    /// Runs the recipe: writes the store to `storeURL` and returns the vector (not yet written) and a report.
    public func run(_ questions: PromptSet, storeURL: URL, commandLine: String, inputURL: URL,
                    log: (String) -> Void = { _ in }) throws -> (vector: ControlVector, report: Report) {
        try LayerList.check(layers, modelLayers: model.config.numHiddenLayers)
        guard questions.items.allSatisfy({ $0.answer != nil }) else {
            throw VaneError("\(inputURL.path): every question needs an \"answer\" to check the samples against")
        }
        let start = Date()
        let identity = ModelIdentity(files: model.files)
        let c = model.config
        let points = layers.map { hook.point($0).description }
        let provenance = StoreProvenance(
            tool: "recipe efficiency", modelPath: model.files.url.path, modelSHA256: try identity.sha256(),
            architecture: c.architecture,
            dims: [c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.vocabSize],
            tokenizer: model.files.url.lastPathComponent, chatTemplate: model.chatTemplate?.source ?? "",
            hooks: points, positions: .mean, span: .completion, inputPath: inputURL.path,
            inputSHA256: try SHA256.hex(ofFile: inputURL), batch: 2, deflate: 0, commandLine: commandLine)
        let writer = try ActivationWriter.create(at: storeURL, provenance: provenance,
                                                 rowShapes: points.map { _ in [c.hiddenSize] })
        let progress = TaskProgress("efficiency: sampling", total: questions.items.count * samples)
        var correctCount = 0, pairs = 0, shortLengths: [Double] = [], longLengths: [Double] = []
        for (q, item) in questions.items.enumerated() {
            let ids = try PromptSet.tokens(item, model: model)
            var correct: [GenerationResult] = []
            for s in 0..<samples {
                let options = GenerationOptions(maxTokens: maxTokens, sampling: SamplingOptions(
                    temperature: temperature, topK: 40, topP: 0.95, minP: 0.05, seed: seed &+ UInt64(q * samples + s)))
                let r = try Generator(model).generate(promptTokens: ids, options: options)
                if r.stopReason == .endOfTurn, AnswerChecker.isCorrect(r.text, answer: item.answer!) { correct.append(r) }
                progress.advance(note: "\(correctCount + correct.count) correct")
            }
            correctCount += correct.count
            guard let short = correct.min(by: { $0.tokens.count < $1.tokens.count }),
                  let long = correct.max(by: { $0.tokens.count < $1.tokens.count }),
                  short.tokens.count < long.tokens.count else {
                log("question \(q + 1): \(correct.count)/\(samples) correct, no pair")
                continue
            }
            let rendered = model.tokenizer.decode(ids)
            var batch: [ExtractedExample] = []
            for (label, r) in [(1, short), (0, long)] {
                batch.append(ExtractedExample(
                    text: rendered + r.text, label: label, pair: pairs, line: q + 1, tokens: ids + r.tokens,
                    promptTokens: ids.count, span: ids.count..<(ids.count + r.tokens.count),
                    activations: try responseMeans(ids, r.tokens)))
            }
            try writer.append(batch)
            pairs += 1
            shortLengths.append(Double(short.tokens.count))
            longLengths.append(Double(long.tokens.count))
            log("question \(q + 1): \(correct.count)/\(samples) correct, pair \(short.tokens.count) vs \(long.tokens.count) tokens")
        }
        try writer.close()
        guard pairs >= 2 else {
            throw VaneError("only \(pairs) question(s) gave two correct answers of different lengths (\(correctCount) of \(questions.items.count * samples) samples were correct)",
                             hint: "use easier questions, more --samples, or a larger --max-tokens")
        }
        let vector = try VectorBuilder(store: try ActivationStore(url: storeURL)).compute(
            method, hook: hook, layers: layers, commandLine: commandLine, modelName: model.files.url.lastPathComponent,
            modelHint: c.architecture)
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }
        return (vector, Report(questions: questions.items.count, correctSamples: correctCount,
                               totalSamples: questions.items.count * samples, pairs: pairs,
                               meanShortLength: mean(shortLengths), meanLongLength: mean(longLengths),
                               seconds: Date().timeIntervalSince(start)))
    }

    /// Per hook point, the mean activation over the response tokens of prompt + response run in one pass.
    func responseMeans(_ prompt: [Int], _ response: [Int]) throws -> [[Float]] {
        let hooks = Hooks()
        let d = model.config.hiddenSize
        var sums = [[Double]](repeating: [Double](repeating: 0, count: d), count: layers.count)
        for (k, l) in layers.enumerated() {
            hooks.add(hook.point(l)) { a in
                for (t, position) in a.positions.enumerated() where position >= prompt.count {
                    let row = a.row(t)
                    for i in 0..<d { sums[k][i] += Double(row[i]) }
                }
            }
        }
        let tokens = prompt + response
        _ = try model.transformer.forward(tokens, cache: model.transformer.makeCache(capacity: tokens.count),
                                          hooks: hooks, logits: .none)
        return sums.map { $0.map { Float($0 / Double(response.count)) } }
    }
}

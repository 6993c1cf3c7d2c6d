import Foundation
import VanePlot
import VaneEngine
import VaneModelIO

/// The effect of a steering intervention at several scales over a prompt set, greedy decoding throughout.
///
/// Per prompt, the unsteered greedy continuation c (up to `maxTokens`, stopping at end of turn) is generated
/// first. Then, for each scale s, with the steering multiplied by s:
///
///     length          number of tokens the steered greedy decoding generates (end-of-turn token excluded)
///     first_token_kl  KL(P_unsteered ‖ P_steered) of the next-token distribution after the prompt, in nats
///     mean_kl         the same KL averaged over the positions of the unsteered continuation, teacher-forced
///                     (prompt + c through both models; the positions predicting c's tokens and the one after)
///     entropy_bits    mean entropy of the steered next-token distribution along its own greedy continuation
///     accuracy        share of prompts with an "answer" whose steered text ends in that number
///
/// Rows average over prompts (length also as the median). Scale 0 registers no hook, so its KL is exactly 0.
public struct SteerEval {
    public struct Row: Sendable, Codable, Equatable {
        public var scale: Double
        public var meanLength: Double
        public var medianLength: Double
        public var firstTokenKL: Double
        public var meanKL: Double
        public var entropyBits: Double
        public var accuracy: Double?

        enum CodingKeys: String, CodingKey {
            case scale, meanLength = "mean_length", medianLength = "median_length", firstTokenKL = "first_token_kl"
            case meanKL = "mean_kl", entropyBits = "entropy_bits", accuracy
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(scale, forKey: .scale)
            try c.encode(meanLength, forKey: .meanLength)
            try c.encode(medianLength, forKey: .medianLength)
            try c.encode(firstTokenKL, forKey: .firstTokenKL)
            try c.encode(meanKL, forKey: .meanKL)
            try c.encode(entropyBits, forKey: .entropyBits)
            try c.encode(accuracy, forKey: .accuracy)
        }
    }

    public let model: LanguageModel
    public let steering: Steering
    public var maxTokens: Int
    public var plain: Bool

    public init(model: LanguageModel, steering: Steering, maxTokens: Int = 128, plain: Bool = false) {
        self.model = model
        self.steering = steering
        self.maxTokens = maxTokens
        self.plain = plain
    }

    /// Runs the sweep; `onPrompt(i, texts)` sees each prompt's steered texts, one per scale. `progress` hears of
    /// each generation (the unsteered one and one per scale, per prompt).
    public func run(_ prompts: PromptSet, scales: [Float], onPrompt: (Int, [String]) -> Void = { _, _ in },
                    progress: (ProgressEvent) -> Void = { _ in }) throws -> [Row] {
        let total = prompts.items.count * (scales.count + 1)
        var done = 0, tokens = 0
        func advance(_ generated: Int, _ note: String) {
            done += 1
            tokens += generated
            progress(ProgressEvent(task: "steer-eval", done: done, total: total, tokens: tokens, note: note))
        }
        progress(ProgressEvent(task: "steer-eval", done: 0, total: total, tokens: 0))
        let layers = model.config.numHiddenLayers
        var lengths = [[Double]](repeating: [], count: scales.count)
        var firstKL = lengths, meanKL = lengths, entropy = lengths, correct = lengths
        let options = GenerationOptions(maxTokens: maxTokens, sampling: SamplingOptions(temperature: 0))
        for (p, item) in prompts.items.enumerated() {
            let ids = try PromptSet.tokens(item, model: model, plain: plain)
            let base = try Generator(model).generate(promptTokens: ids, options: options)
            let baseLogits = try teacherForced(ids + base.tokens, from: ids.count, hooks: nil)
            advance(base.tokens.count, "unsteered")
            var texts: [String] = []
            for (k, scale) in scales.enumerated() {
                let hooks = Hooks()
                try steering.scaled(by: scale).install(on: hooks, promptLength: ids.count, modelLayers: layers)
                let steered = hooks.isEmpty ? base : try Generator(model).generate(promptTokens: ids, options: options, hooks: hooks)
                let ownLogits = hooks.isEmpty ? baseLogits : try teacherForced(ids + steered.tokens, from: ids.count, hooks: hooks)
                let forcedLogits = hooks.isEmpty ? baseLogits : try teacherForced(ids + base.tokens, from: ids.count, hooks: hooks)
                let kls = zip(baseLogits, forcedLogits).map { Metrics.kl($0, $1) }
                lengths[k].append(Double(steered.tokens.count))
                firstKL[k].append(kls[0])
                meanKL[k].append(kls.reduce(0, +) / Double(kls.count))
                entropy[k].append(ownLogits.map(Metrics.entropyBits).reduce(0, +) / Double(ownLogits.count))
                if let answer = item.answer { correct[k].append(AnswerChecker.isCorrect(steered.text, answer: answer) ? 1 : 0) }
                texts.append(steered.text)
                advance(steered.tokens.count, "scale \(scale)")
            }
            onPrompt(p, texts)
        }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }
        return scales.indices.map { k in
            Row(scale: Double(scales[k]), meanLength: mean(lengths[k]), medianLength: Stats.median(lengths[k]),
                firstTokenKL: mean(firstKL[k]), meanKL: mean(meanKL[k]), entropyBits: mean(entropy[k]),
                accuracy: correct[k].isEmpty ? nil : mean(correct[k]))
        }
    }

    /// Log-probabilities at positions start−1 … T−1 of `tokens` run in one forward pass.
    func teacherForced(_ tokens: [Int], from start: Int, hooks: Hooks?) throws -> [[Double]] {
        let cache = model.transformer.makeCache(capacity: tokens.count)
        let logits = try model.transformer.forward(tokens, cache: cache, hooks: hooks, logits: .all, precision: model.decoding)
        let v = logits.cols
        return ((start - 1)..<tokens.count).map { Metrics.logSoftmax(logits.data[($0 * v)..<(($0 + 1) * v)]) }
    }

    /// The table as text, one row per scale.
    public static func table(_ rows: [Row]) -> String {
        var s = "scale    mean_len  median_len  first_kl   mean_kl   entropy_bits  accuracy\n"
        for r in rows {
            s += String(format: "%6.2f  %9.1f  %10.1f  %8.4f  %8.4f  %12.3f  %@\n", r.scale, r.meanLength, r.medianLength,
                        r.firstTokenKL, r.meanKL, r.entropyBits, r.accuracy.map { String(format: "%8.3f", $0) } ?? "       –")
        }
        return s
    }

    /// Spearman's ρ between scale and mean length.
    public static func lengthSpearman(_ rows: [Row]) -> Double {
        Stats.spearman(rows.map(\.scale), rows.map(\.meanLength))
    }

    public static func plot(_ rows: [Row], title: String) -> SVGPlot {
        let x = rows.map(\.scale)
        return SVGPlot([
            SVGPlot.Panel(title: "\(title): generated length", xLabel: "scale", yLabel: "tokens", x: x,
                          series: [.init("mean", rows.map(\.meanLength)), .init("median", rows.map(\.medianLength))]),
            SVGPlot.Panel(title: "\(title): divergence from unsteered", xLabel: "scale", yLabel: "KL (nats)", x: x,
                          series: [.init("first token", rows.map(\.firstTokenKL)), .init("mean per token", rows.map(\.meanKL))]),
        ])
    }
}

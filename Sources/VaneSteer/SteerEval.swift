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
///     accuracy        share of prompts with an "answer" whose steered text ends in that number, with its Wilson
///                     95% interval
///     projection      with `projection`: mean of h·v̂ over the generated tokens' activations at its hook point,
///                     read in the steered teacher-forced pass after the steering hooks (prompts that generate
///                     nothing are left out)
///     regex           with `regex`: share of steered texts with a match, and matches per text
///     condition_fired with a gate (`--steer-if`): share of prompts whose condition let the steering act
///     trigger_fired   with segment triggers (positions inside:/after:/first-of-segment:): share of generations in
///                     which a trigger steered at least one generated token, and trigger_positions the mean number
///                     of generated tokens it steered
///
/// Rows average over prompts (length also as the median). Scale 0 registers no hook, so its KL is exactly 0.
public struct SteerEval {
    public struct Row: Sendable, Encodable, Equatable {
        /// The sweep scale, rounded to the decimals the sweep was written with.
        public var scale: Double
        public var meanLength: Double
        public var medianLength: Double
        public var firstTokenKL: Double
        public var meanKL: Double
        public var entropyBits: Double
        /// Prompts with an answer (0: accuracy not measured).
        public var answered: Int
        public var accuracy: Double?
        public var accuracyLow: Double?
        public var accuracyHigh: Double?
        public var projection: Double?
        public var regexShare: Double?
        public var regexMatches: Double?
        /// With a gate: the share of prompts on which it fired (nil at scales that steer nothing).
        public var conditionFired: Double?
        /// With segment triggers: the share of generations in which one fired, and the generated tokens it steered.
        public var triggerFired: Double?
        public var triggerPositions: Double?

        public init(scale: Double, meanLength: Double, medianLength: Double, firstTokenKL: Double, meanKL: Double,
                    entropyBits: Double, answered: Int, accuracy: Double? = nil, accuracyLow: Double? = nil,
                    accuracyHigh: Double? = nil, projection: Double? = nil, regexShare: Double? = nil,
                    regexMatches: Double? = nil, conditionFired: Double? = nil) {
            (self.scale, self.meanLength, self.medianLength, self.firstTokenKL) = (scale, meanLength, medianLength, firstTokenKL)
            (self.meanKL, self.entropyBits, self.answered, self.accuracy) = (meanKL, entropyBits, answered, accuracy)
            (self.accuracyLow, self.accuracyHigh, self.projection) = (accuracyLow, accuracyHigh, projection)
            (self.regexShare, self.regexMatches, self.conditionFired) = (regexShare, regexMatches, conditionFired)
        }

        /// Adds the segment-trigger counts (one number of steered generated tokens per generation).
        func with(triggerCounts counts: [Double]) -> Row {
            guard !counts.isEmpty else { return self }
            var r = self
            r.triggerFired = counts.map { $0 > 0 ? 1 : 0 }.reduce(0, +) / Double(counts.count)
            r.triggerPositions = counts.reduce(0, +) / Double(counts.count)
            return r
        }

        enum CodingKeys: String, CodingKey {
            case scale, meanLength = "mean_length", medianLength = "median_length", firstTokenKL = "first_token_kl"
            case meanKL = "mean_kl", entropyBits = "entropy_bits", answered, accuracy
            case accuracyLow = "accuracy_low", accuracyHigh = "accuracy_high", projection
            case regexShare = "regex_share", regexMatches = "regex_matches", conditionFired = "condition_fired"
            case triggerFired = "trigger_fired", triggerPositions = "trigger_positions"
        }

        /// Every key, null where not measured; `condition_fired` only with a gate, `trigger_*` only with triggers.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(scale, forKey: .scale)
            try c.encode(meanLength, forKey: .meanLength)
            try c.encode(medianLength, forKey: .medianLength)
            try c.encode(firstTokenKL, forKey: .firstTokenKL)
            try c.encode(meanKL, forKey: .meanKL)
            try c.encode(entropyBits, forKey: .entropyBits)
            try c.encode(answered, forKey: .answered)
            try c.encode(accuracy, forKey: .accuracy)
            try c.encode(accuracyLow, forKey: .accuracyLow)
            try c.encode(accuracyHigh, forKey: .accuracyHigh)
            try c.encode(projection, forKey: .projection)
            try c.encode(regexShare, forKey: .regexShare)
            try c.encode(regexMatches, forKey: .regexMatches)
            try c.encodeIfPresent(conditionFired, forKey: .conditionFired)
            try c.encodeIfPresent(triggerFired, forKey: .triggerFired)
            try c.encodeIfPresent(triggerPositions, forKey: .triggerPositions)
        }
    }

    /// One steered text: what `--texts` writes, a line per prompt and scale.
    public struct Sample: Sendable, Encodable {
        public var promptIndex: Int
        public var prompt: String
        public var scale: Double
        public var text: String
        public var tokens: Int
        public var stop: String
        public var correct: Bool?
        public var projection: Double?
        public var regexMatches: Int?
        /// With a gate: cos(h̄, c) of the prompt and whether the condition fired.
        public var conditionScore: Double?
        public var conditionFired: Bool?
        /// With segment triggers: the generated tokens they steered.
        public var triggerPositions: Int?

        enum CodingKeys: String, CodingKey {
            case promptIndex = "prompt_index", prompt, scale, text, tokens, stop, correct, projection
            case regexMatches = "regex_matches", conditionScore = "condition_score", conditionFired = "condition_fired"
            case triggerPositions = "trigger_positions"
        }
    }

    /// Spearman's ρ, or why there is none.
    public struct Correlation: Sendable, Encodable, Equatable {
        public var rho: Double?
        public var reason: String?

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rho, forKey: .rho)
            try c.encodeIfPresent(reason, forKey: .reason)
        }
        enum CodingKeys: String, CodingKey { case rho, reason }
    }

    /// A unit direction read at one hook point.
    public struct Projection: Sendable {
        public var point: HookPoint
        public var unit: [Float]

        /// The vector's direction at `layer`; nil: the layer with the highest recorded AUROC, else the middle one.
        public init(vector: ControlVector, layer: Int?) throws {
            let chosen = layer ?? vector.scores.max { $0.auroc < $1.auroc }?.layer ?? vector.layers[vector.layers.count / 2]
            guard let d = vector.directions[chosen] else {
                throw VaneError("the projection vector has no direction at layer \(chosen); it has \(vector.layers.map(String.init).joined(separator: ","))")
            }
            let norm = d.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { throw VaneError("the projection vector's direction at layer \(chosen) is zero") }
            point = vector.hook.point(chosen)
            unit = d.map { $0 / norm }
        }
    }

    public let model: LanguageModel
    public let steering: Steering
    public var maxTokens: Int
    public var plain: Bool
    public var projection: Projection?
    public var regex: NSRegularExpression?
    /// Generations decoded together (BatchGenerator); the results do not depend on it with `.exact` decoding.
    public var batchSize: Int
    /// Budget forcing for every generation of the sweep (a baseline beside the steering).
    public var thinking: ThinkingControl?

    public init(model: LanguageModel, steering: Steering, maxTokens: Int = 128, plain: Bool = false,
                projection: Projection? = nil, regex: NSRegularExpression? = nil, batchSize: Int = 16) {
        self.model = model
        self.steering = steering
        self.maxTokens = maxTokens
        self.plain = plain
        self.projection = projection
        self.regex = regex
        self.batchSize = batchSize
    }

    /// Runs the sweep; `onSample` sees each steered text. `progress` hears of each generation (the unsteered one
    /// and one per scale, per prompt, `batchSize` at a time), then of each prompt scored.
    public func run(_ prompts: PromptSet, scales: [Double], onSample: (Sample) throws -> Void = { _ in },
                    progress: (ProgressEvent) -> Void = { _ in }) throws -> [Row] {
        let layers = model.config.numHiddenLayers
        var options = GenerationOptions(maxTokens: maxTokens, sampling: SamplingOptions(temperature: 0))
        options.thinking = thinking
        // Every generation of the sweep, prompt by prompt: the unsteered one, then one per scale that steers at all.
        let ids = try prompts.items.map { try PromptSet.tokens($0, model: model, plain: plain) }
        var requests: [BatchGenerator.Request] = []
        var steered = [[Int?]](repeating: [], count: ids.count)      // request index per (prompt, scale)
        var outcomes = [[ConditionOutcome?]](repeating: [], count: ids.count)
        var triggerLogs = [[TriggerLog]](repeating: [], count: ids.count)
        var scaledSteering: [Steering] = []
        for k in scales.indices { scaledSteering.append(steering.scaled(by: Float(scales[k]))) }
        for (p, prompt) in ids.enumerated() {
            requests.append(BatchGenerator.Request(promptTokens: prompt, options: options))
            for scaled in scaledSteering {
                let hooks = Hooks()
                let log = TriggerLog()
                outcomes[p].append(try scaled.install(on: hooks, promptLength: prompt.count, modelLayers: layers,
                                                      tokenizer: model.tokenizer, triggers: log))
                triggerLogs[p].append(log)
                steered[p].append(hooks.isEmpty ? nil : requests.count)
                if !hooks.isEmpty { requests.append(BatchGenerator.Request(promptTokens: prompt, options: options, hooks: hooks)) }
            }
        }
        var done = 0, tokens = 0
        progress(ProgressEvent(task: "steer-eval: generating", done: 0, total: requests.count, tokens: 0))
        let generated = try Generator(model).generate(requests, batchSize: batchSize) { _, result in
            done += 1
            tokens += result.tokens.count
            progress(ProgressEvent(task: "steer-eval: generating", done: done, total: requests.count, tokens: tokens))
        }

        var lengths = [[Double]](repeating: [], count: scales.count)
        var firstKL = lengths, meanKL = lengths, entropy = lengths, correct = lengths, projected = lengths
        var matches = lengths, fired = lengths, triggered = lengths
        var base = 0
        progress(ProgressEvent(task: "steer-eval: scoring", done: 0, total: ids.count))
        for (p, item) in prompts.items.enumerated() {
            let prompt = ids[p]
            let unsteered = generated[base]
            let baseRun = try teacherForced(prompt: prompt, [unsteered.tokens], steering: nil)[0]
            for (k, scale) in scales.enumerated() {
                let request = steered[p][k]
                let result = request.map { generated[$0] } ?? unsteered
                var (own, forced) = (baseRun, baseRun)
                if request != nil {
                    let runs = try teacherForced(prompt: prompt, [result.tokens, unsteered.tokens], steering: scaledSteering[k])
                    (own, forced) = (runs[0], runs[1])
                }
                let kls = zip(baseRun.logProbs, forced.logProbs).map { Metrics.kl($0, $1) }
                lengths[k].append(Double(result.tokens.count))
                firstKL[k].append(kls[0])
                meanKL[k].append(kls.reduce(0, +) / Double(kls.count))
                entropy[k].append(own.logProbs.map(Metrics.entropyBits).reduce(0, +) / Double(own.logProbs.count))
                let isCorrect = item.answer.map { AnswerChecker.isCorrect(result.text, answer: $0) }
                if let isCorrect { correct[k].append(isCorrect ? 1 : 0) }
                if let projection = own.projection { projected[k].append(projection) }
                let count = regex.map { $0.numberOfMatches(in: result.text, range: NSRange(result.text.startIndex..., in: result.text)) }
                if let count { matches[k].append(Double(count)) }
                let outcome = outcomes[p][k]
                if let outcome { fired[k].append(outcome.fired ? 1 : 0) }
                let log = triggerLogs[p][k]
                if !log.isEmpty { triggered[k].append(Double(log.firedGenerated)) }
                try onSample(Sample(promptIndex: p, prompt: item.text, scale: scale, text: result.text,
                                    tokens: result.tokens.count, stop: result.stopReason.rawValue, correct: isCorrect,
                                    projection: own.projection, regexMatches: count, conditionScore: outcome?.score,
                                    conditionFired: outcome?.fired, triggerPositions: log.isEmpty ? nil : log.firedGenerated))
            }
            base += 1 + steered[p].compactMap { $0 }.count
            progress(ProgressEvent(task: "steer-eval: scoring", done: p + 1, total: ids.count))
        }
        func mean(_ x: [Double]) -> Double? { x.isEmpty ? nil : x.reduce(0, +) / Double(x.count) }
        return scales.indices.map { k in
            let wilson = correct[k].isEmpty ? nil : Stats.wilson(successes: Int(correct[k].reduce(0, +)), trials: correct[k].count)
            return Row(scale: scales[k], meanLength: mean(lengths[k]) ?? 0, medianLength: Stats.median(lengths[k]),
                       firstTokenKL: mean(firstKL[k]) ?? 0, meanKL: mean(meanKL[k]) ?? 0, entropyBits: mean(entropy[k]) ?? 0,
                       answered: correct[k].count, accuracy: mean(correct[k]), accuracyLow: wilson?.low,
                       accuracyHigh: wilson?.high, projection: mean(projected[k]),
                       regexShare: regex == nil ? nil : mean(matches[k].map { $0 > 0 ? 1 : 0 }),
                       regexMatches: regex == nil ? nil : mean(matches[k]), conditionFired: mean(fired[k]))
                .with(triggerCounts: triggered[k])
        }
    }

    /// Teacher-forced log-probabilities of continuations of one prompt under one steering: the prompt runs once,
    /// then each continuation after it, the cache cut back to the prompt in between (the prompt's rows, and a gate's
    /// decision on its last row, are the same for every continuation). Per continuation c: the log-probabilities at
    /// positions P−1 … P+|c|−1 (the prompt's last, shared, then c's own); with `projection`, for the first
    /// continuation only (the steered text's own), the mean of h·v̂ over its positions (nil when it is empty).
    func teacherForced(prompt: [Int], _ continuations: [[Int]], steering: Steering?) throws
        -> [(logProbs: [[Double]], projection: Double?)] {
        let hooks = Hooks()
        try steering?.install(on: hooks, promptLength: prompt.count, modelLayers: model.config.numHiddenLayers,
                              tokenizer: model.tokenizer)
        var sum = 0.0, count = 0, reading = false
        if let projection {
            let start = prompt.count
            hooks.add(projection.point) { a in
                guard reading else { return }
                for (t, position) in a.positions.enumerated() where position >= start {
                    var dot = 0.0
                    for (x, u) in zip(a.row(t), projection.unit) { dot += Double(x) * Double(u) }
                    sum += dot
                    count += 1
                }
            }
        }
        let (transformer, hooked, v) = (model.transformer, hooks.isEmpty ? nil : hooks, model.config.vocabSize)
        let cache = transformer.makeCache(capacity: prompt.count + (continuations.map(\.count).max() ?? 0))
        let last = try transformer.forward(prompt, cache: cache, hooks: hooked, logits: .last, precision: model.decoding)
        let first = Metrics.logSoftmax(last.data[0..<v])
        return try continuations.enumerated().map { i, c in
            cache.truncate(to: prompt.count)
            (sum, count, reading) = (0, 0, i == 0)
            guard !c.isEmpty else { return ([first], nil) }
            let logits = try transformer.forward(c, cache: cache, hooks: hooked, logits: .all, precision: model.decoding).data
            return ([first] + c.indices.map { Metrics.logSoftmax(logits[($0 * v)..<(($0 + 1) * v)]) },
                    count > 0 ? sum / Double(count) : nil)
        }
    }

    /// The table as text, one row per scale, scales with `decimals` places; the columns of options not used are left out.
    public static func table(_ rows: [Row], decimals: Int) -> String {
        let width = max(6, rows.map { Sweep.format($0.scale, decimals).count }.max() ?? 0)
        let hasAccuracy = rows.contains { $0.accuracy != nil }
        let hasProjection = rows.contains { $0.projection != nil }
        let hasRegex = rows.contains { $0.regexShare != nil }
        let hasCondition = rows.contains { $0.conditionFired != nil }
        let hasTrigger = rows.contains { $0.triggerFired != nil }
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        var s = pad("scale", width) + "  mean_len  median_len  first_kl   mean_kl  entropy_bits"
            + (hasAccuracy ? "  accuracy  (95% CI)      " : "") + (hasProjection ? "  projection" : "")
            + (hasRegex ? "  regex_share  regex_matches" : "") + (hasCondition ? "  condition_fired" : "")
            + (hasTrigger ? "  trigger_fired  trigger_positions" : "") + "\n"
        func cell(_ x: Double?, _ format: String, _ n: Int) -> String {
            pad(x.map { String(format: format, $0) } ?? "–", n)
        }
        for r in rows {
            s += pad(Sweep.format(r.scale, decimals), width)
                + String(format: "  %8.1f  %10.1f  %8.4f  %8.4f  %12.3f", r.meanLength, r.medianLength, r.firstTokenKL,
                         r.meanKL, r.entropyBits)
            if hasAccuracy {
                var ci = "–"
                if let low = r.accuracyLow, let high = r.accuracyHigh { ci = String(format: "[%.3f, %.3f]", low, high) }
                let accuracy: String = cell(r.accuracy, "%.3f", 8)
                s += "  " + accuracy + "  " + ci.padding(toLength: 14, withPad: " ", startingAt: 0)
            }
            if hasProjection { s += "  " + cell(r.projection, "%.3f", 10) }
            if hasRegex {
                let share: String = cell(r.regexShare, "%.3f", 11), matches: String = cell(r.regexMatches, "%.2f", 13)
                s += "  " + share + "  " + matches
            }
            if hasCondition { s += "  " + cell(r.conditionFired, "%.3f", 15) }
            if hasTrigger {
                let share: String = cell(r.triggerFired, "%.3f", 13), count: String = cell(r.triggerPositions, "%.1f", 17)
                s += "  " + share + "  " + count
            }
            s += "\n"
        }
        return s
    }

    /// Spearman's ρ between scale and mean length, or why it is undefined.
    public static func lengthSpearman(_ rows: [Row]) -> Correlation {
        guard rows.count >= 2 else { return Correlation(rho: nil, reason: "fewer than 2 scales") }
        let lengths = rows.map(\.meanLength)
        if Set(lengths).count == 1 {
            return Correlation(rho: nil, reason: "mean length is \(String(format: "%.1f", lengths[0])) at every scale "
                + "(nothing to rank; with --max-tokens reached everywhere, raise it)")
        }
        return Correlation(rho: Stats.spearman(rows.map(\.scale), lengths), reason: nil)
    }

    /// What `--json` prints: the rows and the Spearman correlation of scale and mean length, keys sorted.
    public static func json(_ rows: [Row]) throws -> Data {
        struct Report: Encodable {
            var rows: [Row]
            var spearmanScaleMeanLength: Correlation
            enum CodingKeys: String, CodingKey { case rows, spearmanScaleMeanLength = "spearman_scale_mean_length" }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(Report(rows: rows, spearmanScaleMeanLength: lengthSpearman(rows)))
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

import Foundation
import VaneActivations
import VaneBake
import VanePlot
import VaneEngine
import VaneSteer
import VaneModelIO

/// An edited model against its original on one question set, greedy decoding for both (the same precision):
/// per question, each model's reasoning length (ReasoningLength) and, where the question has an answer, whether
/// the response's last number equals it. "Originally short" questions are those whose original reasoning is
/// shorter than `shortBelow` (a percentile resolves over the original's lengths); the ThinkEdit question is
/// whether their share drops and their accuracy rises after the edit.
public struct EditComparison {
    public struct Side: Sendable, Codable, Equatable {
        public var meanLength: Double
        public var medianLength: Double
        /// Reasoning length at the 10th, 25th, 50th, 75th and 90th percentiles.
        public var quantiles: [Double]
        public var shortShare: Double
        public var truncatedShare: Double
        public var accuracy: Double?
        /// Accuracy on the originally short questions.
        public var shortAccuracy: Double?
        public var shortMeanLength: Double

        enum CodingKeys: String, CodingKey {
            case meanLength = "mean_length", medianLength = "median_length", quantiles
            case shortShare = "short_share", truncatedShare = "truncated_share", accuracy
            case shortAccuracy = "short_accuracy", shortMeanLength = "short_mean_length"
        }
    }

    public struct Report: Sendable, Codable {
        public var questions: Int
        public var shortCut: Double
        public var originallyShort: Int
        public var original: Side
        public var edited: Side
        /// Per question: original and edited reasoning lengths.
        public var lengths: [[Int]]

        enum CodingKeys: String, CodingKey {
            case questions, shortCut = "short_below_tokens", originallyShort = "originally_short", original, edited, lengths
        }
    }

    public let original: LanguageModel
    public let edited: LanguageModel
    public var maxTokens: Int
    public var plain: Bool
    /// Responses decoded together per model (BatchGenerator); they do not depend on it with `.exact` decoding.
    public var batchSize: Int

    public init(original: LanguageModel, edited: LanguageModel, maxTokens: Int = 128, plain: Bool = false,
                batchSize: Int = 16) {
        self.original = original
        self.edited = edited
        self.maxTokens = maxTokens
        self.plain = plain
        self.batchSize = batchSize
    }

    /// Runs both models; `onQuestion(i, originalText, editedText)` sees each pair of responses (once both models
    /// have answered every question), `progress` each response.
    public func run(_ questions: PromptSet, shortBelow: LengthThreshold,
                    onQuestion: (Int, String, String) -> Void = { _, _, _ in },
                    progress: (ProgressEvent) -> Void = { _ in }) throws -> Report {
        guard original.config.hiddenSize == edited.config.hiddenSize, original.config.vocabSize == edited.config.vocabSize else {
            throw VaneError("\(edited.files.url.lastPathComponent) is not an edit of \(original.files.url.lastPathComponent): their dimensions differ")
        }
        let total = questions.items.count * 2
        var tokens = 0
        progress(ProgressEvent(task: "edit-eval", done: 0, total: total, tokens: 0))
        let options = GenerationOptions(maxTokens: maxTokens, sampling: .greedy)
        // Each model answers every question, batchSize at a time.
        var done = 0
        let responses = try [original, edited].map { m in
            let requests = try questions.items.map {
                BatchGenerator.Request(promptTokens: try PromptSet.tokens($0, model: m, plain: plain), options: options)
            }
            return try Generator(m).generate(requests, batchSize: batchSize) { _, r in
                done += 1
                tokens += r.tokens.count
                progress(ProgressEvent(task: "edit-eval", done: done, total: total, tokens: tokens))
            }
        }
        var lengths: [[Int]] = [], correct: [[Bool?]] = [], truncated: [[Bool]] = []
        for (i, item) in questions.items.enumerated() {
            let pair = [(original, responses[0][i]), (edited, responses[1][i])]
            lengths.append(pair.map { m, r in ReasoningLength.span(of: r.tokens, tokenizer: m.tokenizer).range.count })
            correct.append(pair.map { _, r in item.answer.map { AnswerChecker.isCorrect(r.text, answer: $0) } })
            truncated.append(pair.map { _, r in r.stopReason == .maxTokens })
            onQuestion(i, pair[0].1.text, pair[1].1.text)
        }
        let cutTokens = shortBelow.tokens(over: lengths.map { $0[0] })
        let short = lengths.indices.filter { Double(lengths[$0][0]) < cutTokens }
        func side(_ k: Int) -> Side {
            let x = lengths.map { Double($0[k]) }
            func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
            func accuracy(_ idx: [Int]) -> Double? {
                let known = idx.compactMap { correct[$0][k] }
                return known.isEmpty ? nil : Double(known.filter { $0 }.count) / Double(known.count)
            }
            return Side(meanLength: mean(x), medianLength: LengthThreshold.quantile(x, 0.5),
                        quantiles: [0.1, 0.25, 0.5, 0.75, 0.9].map { LengthThreshold.quantile(x, $0) },
                        shortShare: Double(x.filter { $0 < cutTokens }.count) / Double(max(x.count, 1)),
                        truncatedShare: Double(truncated.filter { $0[k] }.count) / Double(max(x.count, 1)),
                        accuracy: accuracy(Array(lengths.indices)), shortAccuracy: accuracy(short),
                        shortMeanLength: mean(short.map { x[$0] }))
        }
        return Report(questions: lengths.count, shortCut: cutTokens, originallyShort: short.count,
                      original: side(0), edited: side(1), lengths: lengths)
    }

    public static func table(_ r: Report) -> String {
        func pct(_ v: Double?) -> String { v.map { String(format: "%6.1f%%", 100 * $0) } ?? "      –" }
        var s = String(format: "%d questions; short = reasoning < %.1f tokens under the original (%d questions)\n",
                       r.questions, r.shortCut, r.originallyShort)
        s += "model       mean_len  median  p10/p25/p75/p90              short_share  truncated  accuracy  short_acc  short_mean_len\n"
        for (name, x) in [("original", r.original), ("edited", r.edited)] {
            let q = x.quantiles
            s += String(format: "%@  %9.1f  %6.1f  %5.0f/%5.0f/%5.0f/%5.0f      %@    %@   %@    %@  %14.1f\n",
                        name.padding(toLength: 9, withPad: " ", startingAt: 0), x.meanLength, x.medianLength, q[0], q[1], q[3], q[4], pct(x.shortShare), pct(x.truncatedShare),
                        pct(x.accuracy), pct(x.shortAccuracy), x.shortMeanLength)
        }
        return s
    }

    /// Sorted reasoning lengths of both models (the empirical quantile functions).
    public static func plot(_ r: Report, title: String) -> SVGPlot {
        let n = r.lengths.count
        let x = (0..<n).map { n > 1 ? 100 * Double($0) / Double(n - 1) : 0 }
        return SVGPlot([
            SVGPlot.Panel(title: "\(title): reasoning length distribution", xLabel: "percentile of questions",
                          yLabel: "reasoning tokens", x: x,
                          series: [.init("original", r.lengths.map { Double($0[0]) }.sorted()),
                                   .init("edited", r.lengths.map { Double($0[1]) }.sorted())]),
        ])
    }
}

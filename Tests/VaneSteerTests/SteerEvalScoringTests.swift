import Foundation
import Testing
import VaneEngine
@testable import VaneSteer
import VaneTestSupport

/// steer-eval's teacher-forced scoring runs a prompt once and each continuation after it, the cache cut back in
/// between. Its log-probabilities and projection must be those of the plain computation: prompt + continuation in
/// one forward call with freshly installed steering, every row's logits, and h·v̂ read over the continuation's
/// positions (exact precision, ≤ 1e-4); in fast precision, whose products depend on a call's shape, the same two
/// calls on a fresh cache with fresh hooks (tolerance 0). Checked on SmolLM2 with steering at all positions and with
/// a segment trigger (whose tracker has to follow the cache back), continuations of different lengths and an empty one.
@Suite struct SteerEvalScoringTests {
    static let vectors = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("vectors")

    @Test(.enabled(if: Fixtures.smollm2 != nil), arguments: [Precision.exact, .fast])
    func sharedPromptEqualsOneCallPerContinuation(_ precision: Precision) throws {
        let model = try LanguageModel(url: Fixtures.smollm2!, decoding: precision)
        let vector = try ControlVector(contentsOf: Self.vectors.appendingPathComponent("efficiency-smollm2.gguf"))
        let prompt = model.tokenizer.encode("<|im_start|>user\nWhat is 17 times 23?<|im_end|>\n<|im_start|>assistant\n")
        let continuations = [model.tokenizer.encode("17 times 23 is 391.\n\nSo the answer is 391."),
                             model.tokenizer.encode("391"), []]
        let trigger = try #require(try SegmentTrigger(parsing: "after:\\n\\n"))
        var eval = SteerEval(model: model, steering: Steering(vectors: [(vector, 1)]))
        eval.projection = try SteerEval.Projection(vector: vector, layer: 12)
        let projection = try #require(eval.projection)
        let tolerance = precision == .exact ? 1e-4 : 0
        for steering in [Steering(vectors: [(vector, 0.15)]), Steering(vectors: [(vector, 0.3)], positions: .segment(trigger))] {
            // The plain computation of each continuation, from scratch: its log-probabilities and projection.
            let plain: [(logProbs: [[Double]], projection: Double?)] = try continuations.map { c in
                let hooks = Hooks()
                try steering.install(on: hooks, promptLength: prompt.count, modelLayers: model.config.numHiddenLayers,
                                     tokenizer: model.tokenizer)
                var dots: [Double] = []
                hooks.add(projection.point) { a in
                    for (t, position) in a.positions.enumerated() where position >= prompt.count {
                        dots.append(zip(a.row(t), projection.unit).reduce(0) { $0 + Double($1.0) * Double($1.1) })
                    }
                }
                let tokens = prompt + c, v = model.config.vocabSize
                let cache = model.transformer.makeCache(capacity: tokens.count)
                var logits: [Float]
                if precision == .exact {
                    logits = try model.transformer.forward(tokens, cache: cache, hooks: hooks, logits: .all, precision: precision).data
                    logits.removeFirst((prompt.count - 1) * v)
                } else {
                    // Fast products depend on the call's shape (tiles for batches, dots for a few rows): the same
                    // two calls, on a fresh cache with fresh hooks.
                    logits = try model.transformer.forward(prompt, cache: cache, hooks: hooks, logits: .last, precision: precision).data
                    if !c.isEmpty { logits += try model.transformer.forward(c, cache: cache, hooks: hooks, logits: .all, precision: precision).data }
                }
                return ((0...c.count).map { Metrics.logSoftmax(logits[($0 * v)..<(($0 + 1) * v)]) },
                        dots.isEmpty ? nil : dots.reduce(0, +) / Double(dots.count))
            }
            // Each continuation first once: the projection is read on the first only, and the others follow it
            // through the cut-back cache.
            for first in continuations.indices {
                let order = [first] + continuations.indices.filter { $0 != first }
                let runs = try eval.teacherForced(prompt: prompt, order.map { continuations[$0] }, steering: steering)
                for (r, i) in order.enumerated() {
                    let (got, want) = (runs[r], plain[i])
                    let label = "\(precision) \(steering.terms[0].positions) continuation \(i) at place \(r)"
                    try #require(got.logProbs.count == want.logProbs.count, "\(label): \(got.logProbs.count) positions, expected \(want.logProbs.count)")
                    var worst = (0.0, 0, 0)
                    for (p, (g, w)) in zip(got.logProbs, want.logProbs).enumerated() {
                        for j in w.indices where abs(g[j] - w[j]) > worst.0 { worst = (abs(g[j] - w[j]), p, j) }
                    }
                    #expect(worst.0 <= tolerance, "\(label): log-probability differs by \(worst.0) at position \(worst.1), token \(worst.2)")
                    if r == 0, let mean = want.projection {
                        let projected = try #require(got.projection, "\(label): no projection")
                        #expect(abs(projected - mean) <= tolerance * max(1, abs(mean)), "\(label): projection \(projected), expected \(mean)")
                    } else {
                        #expect(got.projection == nil, "\(label): a projection read outside the first continuation")
                    }
                }
            }
        }
    }
}

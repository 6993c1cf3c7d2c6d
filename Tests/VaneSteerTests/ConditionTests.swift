import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTensor
import VaneTestSupport

/// Conditional steering (CAST): the grid search recovers a planted condition, and the gate decides from the prompt
/// as its rule says and steers only the generations it lets through.
@Suite struct ConditionTests {
    /// Rows [N, d] with a common offset; label 1 rows carry `strength` × the planted unit direction.
    static func synthetic(n: Int, d: Int, planted: [Double], strength: Double, seed: UInt64) -> (rows: [Float], labels: [Int]) {
        var rng = TestRandom(seed: seed)
        let offset = (0..<d).map { _ in rng.normal() }
        var rows: [Float] = [], labels: [Int] = []
        for i in 0..<n {
            let label = i % 2
            labels.append(label)
            for c in 0..<d { rows.append(Float(offset[c] + rng.normal() + (label == 1 ? strength * planted[c] : 0))) }
        }
        return (rows, labels)
    }

    static func f1(rows: [Float], labels: [Int], d: Int, direction: [Float], threshold: Float,
                   comparator: SteerCondition.Comparator) -> Double {
        var tp = 0, fp = 0, fn = 0
        for i in labels.indices {
            let h = rows[(i * d)..<((i + 1) * d)]
            var ab = 0.0, aa = 0.0, bb = 0.0
            for (x, y) in zip(h, direction) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
            let cos = ab / (aa * bb).squareRoot()
            let fires = comparator == .ge ? cos >= Double(threshold) : cos <= Double(threshold)
            if fires && labels[i] == 1 { tp += 1 } else if fires { fp += 1 } else if labels[i] == 1 { fn += 1 }
        }
        return 2 * Double(tp) / Double(2 * tp + fp + fn)
    }

    @Test func searchRecoversAPlantedCondition() throws {
        let d = 48
        var rng = TestRandom(seed: 3)
        let planted = rng.unitVector(d)
        let train = Self.synthetic(n: 200, d: d, planted: planted, strength: 6, seed: 7)
        let (direction, _) = try Directions.compute(.meanDiff, rows: train.rows, width: d,
                                                    examples: ContrastiveExamples(labels: train.labels), layer: 1)
        let found = ConditionSearch.best(rows: train.rows, width: d, direction: direction, labels: train.labels, layer: 1)
        #expect(cosine(direction, planted) >= 0.9, "mean-diff direction vs planted: cos \(cosine(direction, planted))")
        #expect(found.f1 >= 0.95, "F1 on the search's own rows: \(found.f1)")
        // The rule found carries over to fresh rows of the same kind.
        let test = Self.synthetic(n: 200, d: d, planted: planted, strength: 6, seed: 8)
        let held = Self.f1(rows: test.rows, labels: test.labels, d: d, direction: direction, threshold: found.threshold,
                           comparator: found.comparator)
        #expect(held >= 0.95, "held-out F1 \(held) with \(found.comparator) \(found.threshold)")
        // Negating the labels flips the comparator.
        let flipped = ConditionSearch.best(rows: train.rows, width: d, direction: direction, labels: train.labels.map { 1 - $0 }, layer: 1)
        #expect(flipped.comparator != found.comparator && flipped.f1 >= 0.95)
    }

    @Test func gateFiresOnTheIntendedPromptOnly() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let t = model.transformer
        let a = model.encode("the cat sat on the mat"), b = model.encode("numbers: 1 2 3 4 5 6")
        // Pooled resid_post.2 of each prompt (mean from position 1), measured with a plain capture.
        func pooled(_ ids: [Int]) throws -> [Double] {
            let hooks = Hooks(), c = Capture()
            c.attach(to: hooks, points: [.residPost(2)])
            _ = try t.forward(ids, cache: t.makeCache(), hooks: hooks, logits: .none)
            let x = c.tensors[.residPost(2)]!
            return (0..<x.cols).map { col in (1..<x.rows).reduce(0.0) { $0 + Double(x.data[$1 * x.cols + col]) } / Double(x.rows - 1) }
        }
        let pa = try pooled(a), pb = try pooled(b)
        let direction = zip(pa, pb).map { Float($0 - $1) }
        let cosA = cosine(direction, pa), cosB = cosine(direction, pb)
        #expect(cosA > cosB)
        let condition = SteerCondition(layer: 2, threshold: Float((cosA + cosB) / 2), comparator: .ge, pooling: .mean(skipFirst: 1))
        let gateVector = ControlVector(directions: [2: direction], width: 64, modelHint: "llama", condition: condition)
        var rng = TestRandom(seed: 9)
        let behaviour = ControlVector(directions: [1: (0..<64).map { _ in Float(rng.normal()) }], width: 64, modelHint: "llama")

        /// Prompt logits and the logits of one decoded token, with the gated steering or none.
        func run(_ ids: [Int], gated: Bool) throws -> (prompt: [Float], next: [Float], outcome: ConditionOutcome?) {
            let hooks = Hooks()
            var outcome: ConditionOutcome?
            if gated {
                var steering = Steering(vectors: [(behaviour, 3)])
                steering.gate = SteerGate(vector: gateVector, condition: condition)
                outcome = try steering.install(on: hooks, promptLength: ids.count, modelLayers: 3)
            }
            let cache = t.makeCache()
            let prompt = try t.forward(ids, cache: cache, hooks: hooks, logits: .all).data
            let next = try t.forward([5], cache: cache, hooks: hooks, logits: .last).data
            return (prompt, next, outcome)
        }
        for (ids, cos, fires) in [(a, cosA, true), (b, cosB, false)] {
            let plain = try run(ids, gated: false), gated = try run(ids, gated: true)
            let outcome = try #require(gated.outcome)
            let score = try #require(outcome.score)
            #expect(abs(score - cos) <= 1e-6, "gate's cos \(score) vs measured \(cos)")
            #expect(outcome.fired == fires)
            #expect(gated.prompt == plain.prompt, "the prompt itself is never steered under a condition")
            #expect((gated.next == plain.next) == !fires, "decoded token steered: \(gated.next != plain.next), fired: \(fires)")
        }
    }

    /// steer-eval under a gate: the prompt it rejects generates as unsteered (KL 0), the one it accepts is steered,
    /// and the rows and samples record the decisions.
    @Test func steerEvalRecordsTheGate() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let texts = ["the cat sat on the mat", "numbers: 1 2 3 4 5 6"]
        func pooled(_ text: String) throws -> [Double] {
            let hooks = Hooks(), c = Capture()
            c.attach(to: hooks, points: [.residPost(2)])
            _ = try model.transformer.forward(model.encode(text), cache: model.transformer.makeCache(), hooks: hooks, logits: .none)
            let x = c.tensors[.residPost(2)]!
            return (0..<x.cols).map { col in (1..<x.rows).reduce(0.0) { $0 + Double(x.data[$1 * x.cols + col]) } / Double(x.rows - 1) }
        }
        let pa = try pooled(texts[0]), pb = try pooled(texts[1])
        let direction = zip(pa, pb).map { Float($0 - $1) }
        let condition = SteerCondition(layer: 2, threshold: Float((cosine(direction, pa) + cosine(direction, pb)) / 2),
                                       comparator: .ge, pooling: .mean(skipFirst: 1))
        var rng = TestRandom(seed: 4)
        let behaviour = ControlVector(directions: [1: (0..<64).map { _ in Float(rng.normal()) }], width: 64, modelHint: "llama")
        var steering = Steering(vectors: [(behaviour, 4)])
        steering.gate = SteerGate(vector: ControlVector(directions: [2: direction], width: 64, modelHint: "llama"),
                                  condition: condition)
        var samples: [SteerEval.Sample] = []
        let rows = try SteerEval(model: model, steering: steering, maxTokens: 6, plain: true)
            .run(PromptSet(items: texts.map { PromptSet.Item(text: $0) }), scales: [0, 1], onSample: { samples.append($0) })
        #expect(rows[0].conditionFired == nil, "scale 0 steers nothing, so no gate runs")
        #expect(rows[1].conditionFired == 0.5, "the gate fires on one prompt of two: \(String(describing: rows[1].conditionFired))")
        let steered = samples.filter { $0.scale == 1 }
        #expect(steered.map(\.conditionFired) == [true, false])
        let unsteered = samples.filter { $0.scale == 0 }
        #expect(steered[1].text == unsteered[1].text, "a rejected prompt generates as unsteered")
        let table = SteerEval.table(rows, decimals: 0)
        #expect(table.contains("condition_fired"), "\(table)")
    }

    @Test func conditionRoundTripsThroughTheVectorFile() throws {
        let dir = try scratch("condition-file")
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = SteerCondition(layer: 3, threshold: -0.125, comparator: .le, pooling: .mean(skipFirst: 1), f1: 0.875)
        let v = ControlVector(directions: [3: [1, 2, 3], 4: [0, 1, 0]], width: 3, modelHint: "llama", condition: c)
        let url = dir.appendingPathComponent("c.gguf")
        try v.write(to: url)
        #expect(try ControlVector(contentsOf: url).condition == c)
        let gate = try SteerGate(url.path + "@threshold=0.5,comparator=ge")
        #expect(gate.condition.threshold == 0.5 && gate.condition.comparator == .ge && gate.condition.layer == 3)
        #expect(throws: VaneError.self) { try SteerGate(url.path + "@layer=5") }
        #expect(throws: VaneError.self) { try SteerGate(url.path + "@threshold=2") }
    }
}

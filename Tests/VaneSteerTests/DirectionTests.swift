import Foundation
import Testing
import VaneSteer
import VaneTestSupport
import VaneModelIO

/// Synthetic pairs with a planted direction u: h⁻ᵢ = xᵢ + ε, h⁺ᵢ = xᵢ + aᵢ·u + ε′, where the shared xᵢ ~ N(0, I)
/// vary strongly along another direction w ⊥ u (so uncentred statistics of the raw activations would find w),
/// aᵢ ∈ [1, 3] (so the centred differences vary along u too, and the classes overlap: a separable set would let
/// the probe tilt towards noise), ε noise of sd 0.1.
func plantedPairs(d: Int = 48, pairs n: Int = 40, seed: UInt64 = 7) -> (rows: [Float], examples: ContrastiveExamples, u: [Double]) {
    var rng = TestRandom(seed: seed)
    let u = rng.unitVector(d), r = rng.unitVector(d)
    let ru = zip(r, u).reduce(0) { $0 + $1.0 * $1.1 }
    let wr = zip(r, u).map { $0 - ru * $1 }, wn = wr.reduce(0) { $0 + $1 * $1 }.squareRoot()
    let w = wr.map { $0 / wn }
    var rows: [Float] = [], labels: [Int] = [], pairIDs: [Int] = []
    for i in 0..<n {
        let g = 5 * rng.normal(), a = 1 + 2 * rng.uniform()
        let x = (0..<d).map { g * w[$0] + rng.normal() }
        rows += (0..<d).map { Float(x[$0] + a * u[$0] + 0.1 * rng.normal()) }
        rows += (0..<d).map { Float(x[$0] + 0.1 * rng.normal()) }
        labels += [1, 0]
        pairIDs += [i, i]
    }
    return (rows, ContrastiveExamples(labels: labels, pairs: pairIDs), u)
}

@Suite struct DirectionTests {
    @Test(arguments: DirectionMethod.allCases)
    func recoversPlantedDirection(_ method: DirectionMethod) throws {
        // Enough pairs, in few enough dimensions, that the probe's sampling error stays below 1 − 0.99.
        let (rows, examples, u) = plantedPairs(d: 16, pairs: 2000)
        let (v, score) = try Directions.compute(method, rows: rows, width: 16, examples: examples, layer: 3)
        let c = cosine(v, u)
        #expect(c >= 0.99, "\(method): cosine with the planted direction \(c), tolerance ≥ 0.99")
        #expect(score.auroc > 0.8, "\(method): AUROC \(score.auroc)")
        #expect(score.layer == 3)
    }

    /// mean-diff in closed form: two positives and two negatives with known means.
    @Test func meanDiffClosedForm() throws {
        let rows: [Float] = [1, 2, 3, 4, /* neg */ 0, 0, 2, 2]
        let (v, score) = try Directions.compute(.meanDiff, rows: rows, width: 2, examples: ContrastiveExamples(labels: [1, 1, 0, 0]), layer: 0)
        #expect(v == [1, 2])
        #expect(abs(score.norm - Float(5).squareRoot()) < 1e-6)
        // Projections on v/‖v‖: positives 5/√5, 11/√5; negatives 0, 6/√5 → 3 of 4 pairs ordered.
        #expect(score.auroc == 0.75)
        let (unit, _) = try Directions.compute(.meanDiff, rows: rows, width: 2, examples: ContrastiveExamples(labels: [1, 1, 0, 0]), normalize: true, layer: 0)
        #expect(compare(unit, [1 / Float(5).squareRoot(), 2 / Float(5).squareRoot()], atol: 1e-6, label: "normalized") == nil)
    }

    /// Every method against numpy / scikit-learn on the same data: planted synthetic pairs, and real activations
    /// from the tiny-llama fixture (HF transformers' resid_post of layer 1, token rows labelled by position parity,
    /// consecutive rows paired).
    @Test(.enabled(if: Python.available("numpy", "sklearn")), arguments: ["synthetic", "tiny-llama"])
    func agreesWithNumpyAndSklearn(_ data: String) throws {
        let (rows, examples, d) = try data == "synthetic" ? { let p = plantedPairs(); return (p.rows, p.examples, 48) }() : tinyLlamaRows()
        let dir = try temporaryDirectory()
        let input = dir.appendingPathComponent("in.json")
        let matrix = (0..<examples.labels.count).map { Array(rows[($0 * d)..<(($0 + 1) * d)]) }
        try JSONSerialization.data(withJSONObject: ["rows": matrix, "labels": examples.labels, "pairs": examples.pairs ?? []])
            .write(to: input)
        let ref = try #require(try Python.reference("directions", input: input) as? [String: [String: Any]])
        for method in DirectionMethod.allCases {
            let (v, score) = try Directions.compute(method, rows: rows, width: d, examples: examples, layer: 1)
            let r = try #require(ref[method.rawValue])
            let expected = try #require(r["direction"] as? [Double])
            let c = cosine(v, expected)
            // Same unit vector up to float rounding (probe: up to the optimiser's tolerance).
            #expect(c >= 0.9999, "\(data) \(method): cosine with the reference \(c), tolerance ≥ 0.9999")
            let auroc = try #require(r["auroc"] as? Double), cohen = try #require(r["cohens_d"] as? Double)
            #expect(abs(Double(score.auroc) - auroc) <= 1e-4, "\(data) \(method): AUROC \(score.auroc) vs sklearn \(auroc)")
            #expect(abs(Double(score.cohensD) - cohen) <= 1e-3 * max(1, abs(cohen)), "\(data) \(method): Cohen's d \(score.cohensD) vs numpy \(cohen)")
        }
    }

    @Test func pcaNeedsPairs() throws {
        let (rows, examples, _) = plantedPairs(pairs: 4)
        let unpaired = ContrastiveExamples(labels: examples.labels, pairs: nil)
        #expect(throws: VaneError.self) { try Directions.compute(.pcaDiff, rows: rows, width: 48, examples: unpaired, layer: 0) }
        _ = try Directions.compute(.meanDiff, rows: rows, width: 48, examples: unpaired, layer: 0)
        let unlabelled = ContrastiveExamples(labels: examples.labels.map { _ in -1 })
        let e = #expect(throws: VaneError.self) { try Directions.compute(.meanDiff, rows: rows, width: 48, examples: unlabelled, layer: 0) }
        #expect(e?.message.contains("positive (label 1) and negative (label 0)") == true)
    }

    @Test func statsAgainstHandComputedValues() {
        #expect(Stats.auroc([3, 4], [1, 2]) == 1)
        #expect(Stats.auroc([1, 2], [1, 2]) == 0.5)
        #expect(Stats.auroc([2], [1, 2, 3]) == 0.5)
        #expect(abs(Stats.spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) - 0.8208) < 1e-3)
        #expect(Stats.median([3, 1, 2, 10]) == 2.5)
    }
}

/// Token rows of the tiny-llama reference (HF transformers), layer 1, all 5 prompts: label = position parity,
/// rows 2k and 2k+1 of a prompt paired.
func tinyLlamaRows() throws -> ([Float], ContrastiveExamples, Int) {
    let ref = try loadReference(Fixtures.url("tiny-llama/reference.safetensors"))
    var rows: [Float] = [], labels: [Int] = [], pairs: [Int] = []
    var pair = 0
    for p in 0..<5 {
        let t = try #require(ref["p\(p).resid_post.1"])
        for r in 0..<(t.rows / 2 * 2) {
            rows += t.row(r)
            labels.append(r % 2 == 0 ? 1 : 0)
            pairs.append(pair + r / 2)
        }
        pair += t.rows / 2
    }
    return (rows, ContrastiveExamples(labels: labels, pairs: pairs), 64)
}

import Foundation
import Testing
@testable import VaneEdit
import VaneTensor
import VaneTestSupport

/// DARE and DELLA drop entries at random. mergekit draws from torch's generator and Vane from SplitMix64, so the
/// dropped entries differ; what must agree is the statistics: the share kept at each magnitude rank and the
/// rescaling. Reference: mergekit 0.1.5's `bernoulli` and `della_magprune` on the same task vector, 8 torch seeds
/// (Tests/Fixtures/merge-scale/random.json, written by make.py there).
@Suite struct MergeRandomTests {
    struct Reference: Decodable {
        var shape: [Int]
        var seeds: Int
        var methods: [String: Method]
        struct Method: Decodable {
            var density: Double
            var epsilon: Double?
            var kept_by_rank_decile: [Double]
            var l1_ratio: [Double]
        }
    }

    /// Tolerance for a decile's kept share: each holds 8 × 26,214 draws on either side, so the difference of two
    /// independent estimates has σ ≈ 0.0014 at p = 0.5; 0.006 is above 4σ. The L1 norm is matched to 1e-5.
    @Test(arguments: ["dare", "della"])
    func keptShareByRankAndRescaling(_ name: String) throws {
        let data = try Data(contentsOf: Fixtures.url("merge-scale/random.json"))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        let expected = try #require(reference.methods[name])
        let shape = reference.shape, n = shape.reduce(1, *), width = shape[1]
        // make.py: value(0, 1) − value(0, 0) + i·2⁻²⁴, so that magnitudes within a row (almost) never tie.
        let a = MergeScaleTests.value(tensor: 0, model: 1, count: n), b = MergeScaleTests.value(tensor: 0, model: 0, count: n)
        let delta = (0..<n).map { (a[$0] - b[$0]) + Float($0) * 0x1p-24 }
        var bin = [Int](repeating: 0, count: n)
        for row in 0..<shape[0] {
            let at = (row * width)..<(row * width + width)
            for (rank, i) in at.sorted(by: { (abs(delta[$0]), $0) < (abs(delta[$1]), $1) }).enumerated() { bin[i] = rank * 10 / width }
        }
        var kept = [Double](repeating: 0, count: 10), total = [Double](repeating: 0, count: 10)
        for seed in 0..<reference.seeds {
            var d = delta
            var rng = SplitMix64(seed: UInt64(seed), name: name, index: 0)
            try MergeMath.sparsify(&d, density: expected.density, method: name == "dare" ? .random : .rankedRandom,
                                   epsilon: expected.epsilon ?? 0, rows: Lanes.rows(shape), rescale: true, rng: &rng,
                                   name: name)
            for i in 0..<n {
                total[bin[i]] += 1
                if d[i] != 0 { kept[bin[i]] += 1 }
            }
            let ratio = d.reduce(0.0) { $0 + Double(abs($1)) } / delta.reduce(0.0) { $0 + Double(abs($1)) }
            #expect(abs(ratio - 1) < 1e-5, "\(name) seed \(seed): L1 after / before \(ratio)")
        }
        #expect(expected.l1_ratio.allSatisfy { abs($0 - 1) < 1e-5 }, "mergekit's own L1 ratios \(expected.l1_ratio)")
        for decile in 0..<10 {
            let share = kept[decile] / total[decile]
            #expect(abs(share - expected.kept_by_rank_decile[decile]) < 0.006,
                    "\(name) decile \(decile): Vane keeps \(share), mergekit \(expected.kept_by_rank_decile[decile])")
        }
    }
}

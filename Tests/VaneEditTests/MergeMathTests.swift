import Foundation
import Testing
@testable import VaneEdit
import VaneTestSupport
import VaneTensor

/// The merge arithmetic on small hand-checked cases (values worked out by hand from mergekit's definitions).
@Suite struct MergeMathTests {
    /// TIES on one 4-entry tensor: density 0.5 keeps the two largest |δ| per model; the sign vote is on Σ wᵢδᵢ.
    @Test func tiesByHand() throws {
        let base: [Float] = [0, 0, 0, 0]
        let a = MergeMath.TaskVector(delta: [1, -2, 0.5, 3], weight: 1, density: 0.5)   // keeps -2, 3
        let b = MergeMath.TaskVector(delta: [-4, 1, 0.1, -0.2], weight: 0.5, density: 0.5)  // keeps -4, 1 → ·0.5: -2, 0.5
        // weighted: a [0, -2, 0, 3], b [-2, 0.5, 0, 0]; Σ = [-2, -1.5, 0, 3] → majority [-, -, +, +]
        // kept: [b, a, none, a]; divisor (normalize): [0.5, 1, 1 (none), 1]
        var tasks = [a, b]
        let out = try MergeMath.taskArithmetic(base: base, tasks: &tasks, sparsification: .magnitude, consensus: true,
                                               normalize: true, rescale: false, lambda: 1,
                                               rng: { SplitMix64(seed: 0, name: "t", index: $0) }, name: "t")
        #expect(out == [-4, -2, 0, 3])
    }

    @Test func breadcrumbsDropsBothEnds() throws {
        var rng = SplitMix64(seed: 0)
        let d: [Float] = [5, -1, 0.5, 2, -3, 0.1, 4, -0.2, 1.5, 10]
        // n 10, density 0.5 → keep 5; gamma 0.1 → drop the largest (10), then the 4 smallest (0.1, -0.2, 0.5, -1).
        var out = d
        try MergeMath.sparsify(&out, density: 0.5, method: .outliers, gamma: 0.1, rescale: false, rng: &rng, name: "t")
        #expect(out == [5, 0, 0, 2, -3, 0, 4, 0, 1.5, 0])
    }

    /// DARE keeps about `density` of the entries, the same ones for the same seed, rescaled so that their L1
    /// norm is the whole task vector's (mergekit 0.1.5's `rescaled_masked_tensor`).
    @Test func dareIsSeededAndRescaled() throws {
        let d = [Float](repeating: 1, count: 10_000)
        var r1 = SplitMix64(seed: 3, name: "blk.0.ffn_up.weight", index: 0), r2 = r1
        var x = d, y = d
        try MergeMath.sparsify(&x, density: 0.3, method: .random, rescale: false, rng: &r1, name: "t")
        try MergeMath.sparsify(&y, density: 0.3, method: .random, rescale: false, rng: &r2, name: "t")
        #expect(x == y)
        let kept = x.filter { $0 != 0 }.count
        #expect(abs(kept - 3000) < 200, "kept \(kept)")
        var r3 = SplitMix64(seed: 3, name: "blk.0.ffn_up.weight", index: 0)
        var z = d
        try MergeMath.sparsify(&z, density: 0.3, method: .random, rescale: true, rng: &r3, name: "t")
        #expect(z.filter { $0 != 0 }.count == kept && z.allSatisfy { $0 == 0 || $0 == Float(10_000.0 / Double(kept)) })
    }

    @Test func slerpEndsAndColinearFallback() {
        let a: [Float] = [1, 0, 0], b: [Float] = [0, 2, 0]
        #expect(MergeMath.slerp(t: 0, a, b) == a)
        let mid = MergeMath.slerp(t: 0.5, a, b)
        #expect(compare(mid, [Float(0.5.squareRoot()), Float(2 * 0.5.squareRoot()), 0], atol: 1e-6) == nil)
        #expect(MergeMath.slerp(t: 0.25, [1, 1], [2, 2]) == [1.25, 1.25])
    }

    @Test func gradientParameters() {
        let p = MergeConfig.Parameter.gradient([0, 1, 0.5])
        #expect(p.number(tensor: "x", position: 0.25) == 0.5)
        #expect(p.number(tensor: "x", position: 0.75) == 0.75)
        let f = MergeConfig.Parameter.filtered([.init(filter: "self_attn", value: .number(0.2)), .init(filter: nil, value: .number(0.7))])
        #expect(f.number(tensor: "model.layers.0.self_attn.q_proj.weight", position: 0) == 0.2)
        #expect(f.number(tensor: "model.layers.0.mlp.up_proj.weight", position: 0) == 0.7)
    }
}

import Foundation
import Testing
import VaneEngine
import VaneTensor

/// Sampling filters on distributions whose surviving sets are known in closed form.
@Suite struct SamplerTests {
    // Probabilities ∝ exp(logit): 0.5, 0.25, 0.125, 0.0625, 0.0625 for logits ln of those.
    let logits: [Float] = [0.5, 0.25, 0.125, 0.0625, 0.0625].map { Float(log(Double($0))) }

    func draws(_ options: SamplingOptions, _ n: Int = 4000) -> [Int: Int] {
        var sampler = Sampler(options)
        var counts: [Int: Int] = [:]
        for _ in 0..<n { counts[sampler.sample(logits), default: 0] += 1 }
        return counts
    }

    @Test func greedyIsArgmax() {
        var s = Sampler(.greedy)
        #expect(s.sample([0.1, 3, 2, 3]) == 1)  // ties: the lower id
    }

    @Test func sameSeedSameDraws() {
        let o = SamplingOptions(temperature: 1, seed: 42)
        var a = Sampler(o), b = Sampler(o), c = Sampler(SamplingOptions(temperature: 1, seed: 43))
        let xs = (0..<64).map { _ in a.sample(logits) }
        #expect(xs == (0..<64).map { _ in b.sample(logits) })
        #expect(xs != (0..<64).map { _ in c.sample(logits) })
    }

    @Test func topKKeepsK() {
        let counts = draws(SamplingOptions(temperature: 1, topK: 2, seed: 1))
        #expect(Set(counts.keys) == [0, 1])
        // Renormalised: 2/3 vs 1/3.
        #expect(abs(Double(counts[0]!) / 4000 - 2.0 / 3) < 0.03)
    }

    @Test func topPKeepsSmallestSetReachingP() {
        // Cumulative 0.5, 0.75, 0.875: top-p 0.8 keeps the first three.
        #expect(Set(draws(SamplingOptions(temperature: 1, topP: 0.8, seed: 2)).keys) == [0, 1, 2])
    }

    @Test func minPDropsUnlikely() {
        // min-p 0.3 keeps p ≥ 0.15: ids 0 and 1.
        #expect(Set(draws(SamplingOptions(temperature: 1, minP: 0.3, seed: 3)).keys) == [0, 1])
    }

    @Test func temperatureSharpens() {
        let cold = draws(SamplingOptions(temperature: 0.25, seed: 4))
        // p ∝ p^4: 0.5^4 / Σ = 0.9336…
        #expect(abs(Double(cold[0]!) / 4000 - 0.9336) < 0.02)
    }

    /// The heap selection against sorting everything, with many ties (logits from a few values) and without.
    @Test(arguments: [1, 2, 40, 999, 1000])
    func topKEqualsSortingEverything(k: Int) {
        var rng = SplitMix64(seed: UInt64(k))
        for round in 0..<20 {
            let n = 1000
            let logits: [Float] = (0..<n).map { _ in
                round % 2 == 0 ? Float(rng.nextDouble() * 20 - 10) : Float(Int(rng.nextDouble() * 7)) }
            #expect(Sampler.topK(k, of: logits) == Sampler.topKNaive(k, of: logits), "k \(k) round \(round)")
        }
    }

    /// The lazily ordered draw against sorting the whole vocabulary, draw for draw (tolerance 0): peaked, Gaussian,
    /// tied, flat and partly masked (−∞) logits over 1,000 and 49,152 ids, with and without top-k, top-p, min-p, at
    /// temperatures 0.3 … 2.
    @Test(arguments: [1000, 49152])
    func lazyOrderEqualsSortingEverything(vocabulary n: Int) {
        var rng = SplitMix64(seed: UInt64(n))
        let shapes: [(String, () -> Float)] = [
            ("gaussian", { Float((rng.nextDouble() + rng.nextDouble() + rng.nextDouble() - 1.5) * 6) }),
            ("peaked", { rng.nextDouble() < 0.001 ? 25 : Float(rng.nextDouble() * 10 - 5) }),
            ("ties", { Float(Int(rng.nextDouble() * 5)) }),
            ("flat", { 1 }),
            ("masked", { rng.nextDouble() < 0.5 ? -.infinity : Float(rng.nextDouble() * 16) }),
        ]
        let settings: [(topK: Int, topP: Float, minP: Float)] = [(0, 1, 0), (0, 0.9, 0), (0, 1, 0.05), (0, 0.95, 0.1),
                                                                 (40, 1, 0), (40, 0.9, 0.05)]
        for (shape, value) in shapes {
            let logits = (0..<n).map { _ in value() }
            for (j, f) in settings.enumerated() {
                for t: Float in [0.3, 1, 2] {
                    let o = SamplingOptions(temperature: t, topK: f.topK, topP: f.topP, minP: f.minP, seed: UInt64(j) * 7 + 1)
                    var lazy = Sampler(o), naive = Sampler(o)
                    let a = (0..<12).map { _ in lazy.sample(logits) }, b = (0..<12).map { _ in naive.sampleNaive(logits) }
                    #expect(a == b, "\(shape) n \(n) top-k \(f.topK) top-p \(f.topP) min-p \(f.minP) T \(t)")
                }
            }
        }
    }
}

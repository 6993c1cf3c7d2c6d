import Foundation
import VaneTensor

/// Picks the next token from logits. Filters apply in llama.cpp's order — top-k, top-p, min-p — then temperature
/// and a draw from the renormalised distribution; temperature 0 is greedy (argmax, lowest id on ties).
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Float = 0.7
    public var topK: Int = 0          // 0: off
    public var topP: Float = 1        // 1: off
    public var minP: Float = 0        // 0: off
    public var seed: UInt64 = 0

    public init(temperature: Float = 0.7, topK: Int = 0, topP: Float = 1, minP: Float = 0, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.seed = seed
    }

    public static let greedy = SamplingOptions(temperature: 0)
}

public struct Sampler {
    public let options: SamplingOptions
    private var rng: SplitMix64

    public init(_ options: SamplingOptions) {
        self.options = options
        rng = SplitMix64(seed: options.seed)
    }

    @inlinable
    public static func argmax(_ logits: some Collection<Float>) -> Int {
        var best = 0, bestValue = -Float.infinity, i = 0
        for v in logits {
            if v > bestValue { best = i; bestValue = v }
            i += 1
        }
        return best
    }

    public mutating func sample(_ logits: [Float]) -> Int {
        if options.temperature <= 0 { return Sampler.argmax(logits) }
        // Candidates sorted by logit, highest first (ties: lower id first, for determinism).
        var ids = Array(logits.indices)
        if options.topK > 0 && options.topK < ids.count {
            ids = Array(ids.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }.prefix(options.topK))
        } else {
            ids.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        }
        // Probabilities at temperature 1 decide top-p and min-p, as in llama.cpp's default chain.
        var probs = softmax(ids.map { logits[$0] })
        if options.topP < 1 {
            var cum: Float = 0, keep = ids.count
            for (i, p) in probs.enumerated() {
                cum += p
                if cum >= options.topP { keep = i + 1; break }
            }
            ids = Array(ids.prefix(keep))
            probs = Array(probs.prefix(keep))
        }
        if options.minP > 0, let top = probs.first {
            let keep = max(1, probs.firstIndex { $0 < options.minP * top } ?? probs.count)
            ids = Array(ids.prefix(keep))
        }
        let scaled = softmax(ids.map { logits[$0] / options.temperature })
        let r = Float(rng.nextDouble())
        var cum: Float = 0
        for (i, p) in scaled.enumerated() {
            cum += p
            if r < cum { return ids[i] }
        }
        return ids[ids.count - 1]
    }

    private func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { expf($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

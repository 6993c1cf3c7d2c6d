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
        var ids: [Int]
        if options.topK > 0 && options.topK < logits.count {
            ids = Sampler.topK(options.topK, of: logits)
        } else {
            ids = Array(logits.indices)
            ids.sort { Sampler.precedes($0, $1, logits) }
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

    /// The candidate order: higher logit first, then lower id.
    @inline(__always)
    static func precedes(_ a: Int, _ b: Int, _ logits: [Float]) -> Bool {
        logits[a] > logits[b] || (logits[a] == logits[b] && a < b)
    }

    /// The first k ids of the candidate order, in that order: a bounded heap over one pass (O(V log k)) instead of
    /// sorting the whole vocabulary (which costs more than a decoding step of a small model).
    public static func topK(_ k: Int, of logits: [Float]) -> [Int] {
        // A heap of the k best so far whose root is the worst of them.
        var heap: [Int] = []
        heap.reserveCapacity(k)
        func worse(_ a: Int, _ b: Int) -> Bool { precedes(b, a, logits) }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && worse(heap[l], heap[m]) { m = l }
                if r < heap.count && worse(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for id in logits.indices {
            if heap.count < k {
                heap.append(id)
                var i = heap.count - 1
                while i > 0, worse(heap[i], heap[(i - 1) / 2]) {
                    heap.swapAt(i, (i - 1) / 2)
                    i = (i - 1) / 2
                }
            } else if precedes(id, heap[0], logits) {
                heap[0] = id
                siftDown(0)
            }
        }
        return heap.sorted { precedes($0, $1, logits) }
    }

    /// topK by sorting every id: the reference the heap is tested against.
    public static func topKNaive(_ k: Int, of logits: [Float]) -> [Int] {
        Array(logits.indices.sorted { precedes($0, $1, logits) }.prefix(k))
    }

    private func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { expf($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

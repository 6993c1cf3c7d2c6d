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

    /// The next token. Candidates are sorted into the candidate order (`precedes`) only as far as the filters and
    /// the draw can reach, and every sum runs in that order, so the result equals `sampleNaive` (which sorts the
    /// whole vocabulary) for the same draws, bit for bit.
    public mutating func sample(_ logits: [Float]) -> Int {
        if options.temperature <= 0 { return Sampler.argmax(logits) }
        // A term exp(Δ) below 2⁻²⁴ (Δ < −16.6) cannot change a sum that is at least 1 (the first term), at
        // temperature 1 or at `temperature`; 17 nats leaves room for the rounding of Δ.
        var order = options.topK > 0 && options.topK < logits.count
            ? CandidateOrder(sorted: Sampler.topK(options.topK, of: logits))
            : CandidateOrder(logits, reach: 17 * max(1, options.temperature))
        // Probabilities at temperature 1 decide top-p and min-p, as in llama.cpp's default chain.
        let m = logits[order.id(0)!]
        var keep = order.count
        if options.topP < 1 || options.minP > 0 {
            let e = { (id: Int) in expf(logits[id] - m) }
            let s = order.sum(first: keep, e)
            if options.topP < 1 {
                var cum: Float = 0
                for i in 0..<keep {
                    cum += e(order.id(i)!) / s
                    if cum >= options.topP { keep = i + 1; break }
                }
            }
            if options.minP > 0 {
                let top = e(order.id(0)!) / s
                keep = max(1, (0..<keep).first { e(order.id($0)!) / s < options.minP * top } ?? keep)
            }
        }
        let t = options.temperature, mt = m / t
        let scaled = { (id: Int) in expf(logits[id] / t - mt) }
        let s = order.sum(first: keep, scaled)
        let r = Float(rng.nextDouble())
        var cum: Float = 0
        for i in 0..<keep {
            let id = order.id(i)!
            cum += scaled(id) / s
            if r < cum { return id }
        }
        return order.id(keep - 1)!
    }

    /// `sample` by sorting every candidate first: the reference the lazy order is tested against.
    public mutating func sampleNaive(_ logits: [Float]) -> Int {
        if options.temperature <= 0 { return Sampler.argmax(logits) }
        var ids: [Int]
        if options.topK > 0 && options.topK < logits.count {
            ids = Sampler.topKNaive(options.topK, of: logits)
        } else {
            ids = Array(logits.indices)
            ids.sort { Sampler.precedes($0, $1, logits) }
        }
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

    /// The candidates in the candidate order, sorted only as far as asked: a given sorted list (top-k), or the ids
    /// within `reach` nats of the largest logit, sorted, with the rest sorted only if a draw walks past them. Float
    /// sums over that head equal sums over every id (`sum`), and a vocabulary of 50–150k ids usually has a few
    /// hundred within reach.
    struct CandidateOrder {
        let logits: [Float]
        /// The candidates sorted so far, in order.
        private(set) var ids: [Int]
        /// The rest, unsorted; nil once sorted into `ids`.
        private var rest: [Int]?
        var count: Int { ids.count + (rest?.count ?? 0) }

        init(sorted: [Int]) {
            logits = []
            ids = sorted
        }

        init(_ logits: [Float], reach: Float) {
            self.logits = logits
            let cut = (logits.max() ?? 0) - reach
            var head: [Int] = [], tail: [Int] = []
            for (i, l) in logits.enumerated() {
                if l >= cut { head.append(i) } else { tail.append(i) }
            }
            ids = head.sorted { Sampler.precedes($0, $1, logits) }
            rest = tail.isEmpty ? nil : tail
        }

        /// The i-th candidate, nil past the last.
        mutating func id(_ i: Int) -> Int? {
            if i >= ids.count, let tail = rest {
                ids += tail.sorted { Sampler.precedes($0, $1, logits) }
                rest = nil
            }
            return i < ids.count ? ids[i] : nil
        }

        /// Σ term(id) over the first n candidates, in order, in Float: what the sequential sum over all n gives. Once a
        /// term is below half the spacing of Float above the sum, it and every later (no larger) term leave the sum
        /// unchanged, so the rest need not be sorted. Terms must not increase along the order.
        mutating func sum(first n: Int, _ term: (Int) -> Float) -> Float {
            var s: Float = 0
            for i in 0..<n {
                let x = term(id(i)!)
                if s > 0, s.isFinite, x < (s.nextUp - s) / 2 { break }
                s += x
            }
            return s
        }
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

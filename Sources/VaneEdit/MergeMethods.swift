import Foundation
import VaneModelIO
import VaneTensor

/// The per-tensor arithmetic of each merge method, on flat F32 arrays (docs/merge-methods.md gives the formulas).
/// Computation is in F32 as mergekit does for float32 models; norms and dot products accumulate in F64.
public enum MergeMath {
    /// Σ wᵢ·xᵢ, divided by Σ wᵢ when `normalize` (mergekit `linear`).
    public static func linear(_ xs: [[Float]], weights: [Float], normalize: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: xs[0].count)
        for (x, w) in zip(xs, weights) { for i in 0..<out.count { out[i] += w * x[i] } }
        if normalize {
            let total = weights.reduce(0, +)
            for i in 0..<out.count { out[i] /= total }
        }
        return out
    }

    /// Spherical interpolation from `a` (t = 0) to `b` (t = 1), treating each tensor as one vector; falls back to
    /// (1 − t)·a + t·b when the normalized vectors are nearly colinear (|cos| > 0.9995).
    public static func slerp(t: Double, _ a: [Float], _ b: [Float]) -> [Float] {
        let eps = 1e-8
        var aa = 0.0, bb = 0.0
        for i in 0..<a.count { aa += Double(a[i]) * Double(a[i]); bb += Double(b[i]) * Double(b[i]) }
        let na = aa.squareRoot() > eps ? aa.squareRoot() : 1, nb = bb.squareRoot() > eps ? bb.squareRoot() : 1
        var dot = 0.0
        for i in 0..<a.count { dot += (Double(a[i]) / na) * (Double(b[i]) / nb) }
        var out = [Float](repeating: 0, count: a.count)
        if abs(dot) > 0.9995 {
            let s0 = Float(1 - t), s1 = Float(t)
            for i in 0..<out.count { out[i] = s0 * a[i] + s1 * b[i] }
            return out
        }
        let theta = acos(dot), sinTheta = sin(theta)
        let s0 = Float(sin(theta - theta * t) / sinTheta), s1 = Float(sin(theta * t) / sinTheta)
        for i in 0..<out.count { out[i] = s0 * a[i] + s1 * b[i] }
        return out
    }

    public enum Sparsification: Sendable, Equatable {
        /// Keep the k = ⌊density·n⌋ entries of largest magnitude (TIES).
        case magnitude
        /// Keep each entry with probability density (DARE).
        case random
        /// Drop the ⌊gamma·n⌋ largest entries, then the smallest, keeping ⌊density·n⌋ (model breadcrumbs).
        case outliers(gamma: Double)
    }

    public struct TaskVector {
        public var delta: [Float]
        public var weight: Float
        public var density: Double
    }

    /// mergekit's generalized task arithmetic: sparsify each δᵢ, weight it, optionally keep only entries agreeing
    /// with the sign of Σ wᵢδᵢ (TIES "sum" consensus), sum, optionally divide by the weights that took part,
    /// scale by λ, add to the base.
    public static func taskArithmetic(base: [Float], tasks: [TaskVector], sparsification: Sparsification?,
                                      consensus: Bool, normalize: Bool, rescale: Bool, lambda: Double,
                                      rng: (Int) -> SplitMix64, name: String) throws -> [Float] {
        let n = base.count
        var weighted: [[Float]] = []
        for (k, task) in tasks.enumerated() {
            var d = task.delta
            if let sparsification, task.density < 1 {
                var random = rng(k)
                d = try sparsify(d, density: task.density, method: sparsification, rescale: rescale, rng: &random, name: name)
            }
            for i in 0..<n { d[i] *= task.weight }
            weighted.append(d)
        }
        var mixed = [Float](repeating: 0, count: n)
        var divisor = [Float](repeating: 0, count: n)
        if consensus {
            for i in 0..<n {
                var sum: Float = 0
                for d in weighted { sum += d[i] }
                let majority: Float = sum >= 0 ? 1 : -1
                for (k, d) in weighted.enumerated() where sign(d[i]) == majority {
                    mixed[i] += d[i]
                    divisor[i] += tasks[k].weight
                }
                if divisor[i] == 0 { divisor[i] = 1 }
            }
        } else {
            var total: Float = 0
            for t in tasks { total += t.weight }
            if abs(total) < 1e-8 { total = 1 }
            for d in weighted { for i in 0..<n { mixed[i] += d[i] } }
            for i in 0..<n { divisor[i] = total }
        }
        let l = Float(lambda)
        var out = base
        for i in 0..<n {
            var m = mixed[i]
            if normalize { m /= divisor[i] }
            if lambda != 1 { m *= l }
            out[i] += m
        }
        return out
    }

    static func sign(_ x: Float) -> Float { x > 0 ? 1 : x < 0 ? -1 : 0 }

    static func sparsify(_ d: [Float], density: Double, method: Sparsification, rescale: Bool,
                         rng: inout SplitMix64, name: String) throws -> [Float] {
        let n = d.count
        var out = [Float](repeating: 0, count: n)
        switch method {
        case .random:
            let scale = rescale ? Float(1 / density) : 1
            for i in 0..<n where rng.nextDouble() < density { out[i] = d[i] * scale }
            return out
        case .magnitude:
            let k = Int(density * Double(n))
            guard k > 0 else {
                throw VaneError("density \(density) keeps none of the \(n) values of \(name)", hint: "raise the density or exclude the tensor")
            }
            // The k-th largest magnitude; entries equal to it are kept in index order until k are kept.
            var mags = d.map { abs($0) }
            let threshold = kthLargest(&mags, k)
            var above = 0
            for x in d where abs(x) > threshold { above += 1 }
            var ties = k - above
            for i in 0..<n {
                let m = abs(d[i])
                if m > threshold { out[i] = d[i] } else if m == threshold && ties > 0 { out[i] = d[i]; ties -= 1 }
            }
        case .outliers(let gamma):
            let target = Int(density * Double(n))
            var top = Int(gamma * Double(n))
            var bottom = n - target - top
            if bottom < 0 { top += bottom; bottom = 0 }
            let order = (0..<n).sorted { (abs(d[$0]), $0) < (abs(d[$1]), $1) }
            for j in bottom..<(n - top) { out[order[j]] = d[order[j]] }
        }
        if rescale {
            // Match the L1 norm of the unsparsified delta.
            var before = 0.0, after = 0.0
            for i in 0..<n { before += Double(abs(d[i])); after += Double(abs(out[i])) }
            if before >= 1e-7 && after >= 1e-7 {
                let s = Float(before / after)
                for i in 0..<n { out[i] *= s }
            }
        }
        return out
    }

    /// The k-th largest value (1-based) of `a`, by quickselect; reorders `a`.
    static func kthLargest(_ a: inout [Float], _ k: Int) -> Float {
        var lo = 0, hi = a.count - 1
        let target = k - 1
        while lo < hi {
            let pivot = a[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }
}

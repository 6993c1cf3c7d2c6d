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
        case outliers
    }

    public struct TaskVector {
        public var delta: [Float]
        public var weight: Float
        public var density: Double
        /// Share of the largest entries `outliers` drops; per model, as mergekit declares it.
        public var gamma = 0.01
    }

    /// mergekit's generalized task arithmetic: sparsify each δᵢ, weight it, optionally keep only entries agreeing
    /// with the sign of Σ wᵢδᵢ (TIES "sum" consensus), sum, optionally divide by the weights that took part,
    /// scale by λ, add to the base. Works in place on the task deltas and the base, so a tensor costs its inputs
    /// and one magnitude copy, not a copy per step.
    public static func taskArithmetic(base: consuming [Float], tasks: inout [TaskVector], sparsification: Sparsification?,
                                      consensus: Bool, normalize: Bool, rescale: Bool, lambda: Double,
                                      rng: (Int) -> SplitMix64, name: String) throws -> [Float] {
        let n = base.count
        for k in tasks.indices {
            if let sparsification, tasks[k].density < 1 {
                var random = rng(k)
                try sparsify(&tasks[k].delta, density: tasks[k].density, method: sparsification, gamma: tasks[k].gamma,
                             rescale: rescale, rng: &random, name: name)
            }
            let w = tasks[k].weight
            tasks[k].delta.withUnsafeMutableBufferPointer { d in for i in 0..<n { d[i] *= w } }
        }
        var total: Float = tasks.reduce(0) { $0 + $1.weight }
        if abs(total) < 1e-8 { total = 1 }
        let l = Float(lambda)
        var out = base
        for i in 0..<n {
            var mixed: Float = 0, divisor: Float = total
            if consensus {
                var sum: Float = 0
                for t in tasks { sum += t.delta[i] }
                let majority: Float = sum >= 0 ? 1 : -1
                divisor = 0
                for t in tasks where sign(t.delta[i]) == majority {
                    mixed += t.delta[i]
                    divisor += t.weight
                }
                if divisor == 0 { divisor = 1 }
            } else {
                for t in tasks { mixed += t.delta[i] }
            }
            if normalize { mixed /= divisor }
            if lambda != 1 { mixed *= l }
            out[i] += mixed
        }
        return out
    }

    static func sign(_ x: Float) -> Float { x > 0 ? 1 : x < 0 ? -1 : 0 }

    /// Zeroes the entries of `d` that `method` drops.
    static func sparsify(_ d: inout [Float], density: Double, method: Sparsification, gamma: Double = 0.01, rescale: Bool,
                         rng: inout SplitMix64, name: String) throws {
        let n = d.count
        var before = 0.0
        switch method {
        case .random:
            let scale = rescale ? Float(1 / density) : 1
            for i in 0..<n { d[i] = rng.nextDouble() < density ? d[i] * scale : 0 }
            return
        case .magnitude:
            let k = Int(density * Double(n))
            guard k > 0 else {
                throw VaneError("density \(density) keeps none of the \(n) values of \(name)", hint: "raise the density or exclude the tensor")
            }
            if rescale { for x in d { before += Double(abs(x)) } }
            // The k-th largest magnitude; entries equal to it are kept in index order until k are kept.
            var mags = d.map { abs($0) }
            let threshold = kthLargest(&mags, k)
            mags = []
            var above = 0
            for x in d where abs(x) > threshold { above += 1 }
            var ties = k - above
            for i in 0..<n {
                let m = abs(d[i])
                if m > threshold { continue }
                if m == threshold && ties > 0 { ties -= 1 } else { d[i] = 0 }
            }
        case .outliers:
            if rescale { for x in d { before += Double(abs(x)) } }
            let target = Int(density * Double(n))
            var top = Int(gamma * Double(n))
            var bottom = n - target - top
            if bottom < 0 { top += bottom; bottom = 0 }
            let order = (0..<n).sorted { (abs(d[$0]), $0) < (abs(d[$1]), $1) }
            for j in 0..<bottom { d[order[j]] = 0 }
            for j in (n - top)..<n { d[order[j]] = 0 }
        }
        if rescale {
            // Match the L1 norm of the unsparsified delta.
            var after = 0.0
            for x in d { after += Double(abs(x)) }
            if before >= 1e-7 && after >= 1e-7 {
                let s = Float(before / after)
                for i in 0..<n { d[i] *= s }
            }
        }
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

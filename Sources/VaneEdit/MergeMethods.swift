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
        /// Keep the k = max(1, ⌊density·n⌋) entries of largest magnitude (TIES).
        case magnitude
        /// Keep each entry with probability density (DARE).
        case random
        /// Drop the ⌊gamma·n⌋ largest entries, then the smallest, keeping ⌊density·n⌋ (model breadcrumbs).
        case outliers
        /// Keep each entry with a probability from density − epsilon (smallest magnitude of its row) to
        /// density + epsilon (largest), linear in its magnitude rank (DELLA's MAGPRUNE).
        case rankedRandom
    }

    public struct TaskVector {
        public var delta: [Float]
        public var weight: Float
        public var density: Double
        /// Share of the largest entries `outliers` drops; per model, as mergekit declares it.
        public var gamma = 0.01
        /// Half-width of the keep probabilities of `rankedRandom`; per model.
        public var epsilon = 0.15
    }

    /// mergekit's generalized task arithmetic: sparsify each δᵢ, weight it, optionally keep only entries agreeing
    /// with the sign of Σ wᵢδᵢ (TIES "sum" consensus), sum, optionally divide by the weights that took part,
    /// scale by λ, add to the base. Works in place on the task deltas and the base, so a tensor costs its inputs
    /// and one magnitude copy, not a copy per step. `shape` gives `rankedRandom` its rows.
    public static func taskArithmetic(base: consuming [Float], tasks: inout [TaskVector], sparsification: Sparsification?,
                                      consensus: Bool, normalize: Bool, rescale: Bool, lambda: Double,
                                      shape: [Int]? = nil, rng: (Int) -> SplitMix64, name: String) throws -> [Float] {
        let n = base.count
        for k in tasks.indices {
            if let sparsification, tasks[k].density < 1 {
                var random = rng(k)
                try sparsify(&tasks[k].delta, density: tasks[k].density, method: sparsification, gamma: tasks[k].gamma,
                             epsilon: tasks[k].epsilon, rows: Lanes.rows(shape ?? [n]), rescale: rescale, rng: &random,
                             name: name)
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
                let majority = majoritySign(tasks.lazy.map { $0.delta[i] })
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

    /// TIES's elected sign: +1 where the sum is ≥ 0 (a zero sum elects +), else −1.
    static func majoritySign<S: Sequence<Float>>(_ xs: S) -> Float {
        var sum: Float = 0
        for x in xs { sum += x }
        return sum >= 0 ? 1 : -1
    }

    /// Zeroes the entries of `d` that `method` drops. Among equal magnitudes, `magnitude` and `outliers` keep the
    /// ones torch's sort keeps (TorchOrder), so a merge selects exactly the entries mergekit selects.
    static func sparsify(_ d: inout [Float], density: Double, method: Sparsification, gamma: Double = 0.01,
                         epsilon: Double = 0.15, rows: Lanes? = nil, rescale: Bool, rng: inout SplitMix64,
                         name: String) throws {
        let n = d.count
        var before = 0.0
        if rescale { for x in d { before += Double(abs(x)) } }
        switch method {
        case .random:
            for i in 0..<n where !(rng.nextDouble() < density) { d[i] = 0 }
        case .magnitude:
            // mergekit keeps at least one entry of a non-empty tensor.
            keepOnly(&d, TorchOrder.sorted(d.map { abs($0) }, descending: true, positions: 0..<min(n, max(1, Int(density * Double(n))))))
        case .outliers:
            // Ascending by magnitude: skip the smallest, keep ⌊density·n⌋; the ⌊gamma·n⌋ largest are what is left
            // over (fewer when density + gamma > 1).
            let target = Int(density * Double(n))
            let bottom = max(0, n - target - Int(gamma * Double(n)))
            keepOnly(&d, TorchOrder.sorted(d.map { abs($0) }, descending: false, positions: bottom..<(bottom + target)))
        case .rankedRandom:
            guard density - epsilon > 0 && density + epsilon < 1 else {
                throw VaneError("della on \(name): density \(density) ± epsilon \(epsilon) leaves (0, 1)",
                                hint: "choose epsilon below both density and 1 − density")
            }
            let lanes = rows ?? Lanes.rows([n])
            var keep = [Double](repeating: 0, count: n)
            for lane in 0..<lanes.count {
                let at = lanes.positions(lane)
                // Rank within the row, smallest magnitude first (equal magnitudes in index order).
                let order = at.indices.sorted { (abs(d[at[$0]]), $0) < (abs(d[at[$1]]), $1) }
                let span = Double(max(1, at.count - 1))
                for (rank, j) in order.enumerated() {
                    // A one-entry row has no rank spread: it is kept with probability density.
                    let r = at.count > 1 ? Double(rank) / span : 0.5
                    keep[at[j]] = (density - epsilon) + r * 2 * epsilon
                }
            }
            for i in 0..<n where !(rng.nextDouble() < keep[i]) { d[i] = 0 }
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

    /// Zeroes every entry of `d` but those at `kept`.
    static func keepOnly(_ d: inout [Float], _ kept: ArraySlice<Int32>) {
        var mask = [Bool](repeating: false, count: d.count)
        for i in kept { mask[Int(i)] = true }
        for i in 0..<d.count where !mask[i] { d[i] = 0 }
    }

    // MARK: methods that are not task arithmetic

    /// Model Stock: with offsets oᵢ = θᵢ − θ₀ of N models, c the mean pairwise cosine of the offsets, t = N·c / (1 +
    /// (N − 1)·c) (0 where the denominator is below 1e-6 in magnitude); θ = t·mean(θᵢ) + (1 − t)·θ₀. Per tensor, or
    /// per row when `lanes` are rows (filter_wise).
    public static func modelStock(base: [Float], _ xs: [[Float]], lanes: Lanes) -> [Float] {
        let count = xs.count
        var out = [Float](repeating: 0, count: base.count)
        for lane in 0..<lanes.count {
            let at = lanes.positions(lane)
            let offsets = xs.map { x in at.map { x[$0] - base[$0] } }
            let norms = offsets.map { Float(norm($0)) }
            var cosines: [Float] = []
            for a in 0..<count {
                for b in (a + 1)..<count {
                    let product = max(norms[a] * norms[b], 1e-6)
                    cosines.append(min(max(Float(dot(offsets[a], offsets[b])) / product, -1), 1))
                }
            }
            let cosine = cosines.reduce(0, +) / Float(cosines.count)
            let denominator = 1 + Float(count - 1) * cosine
            let t: Float = abs(denominator) < 1e-6 ? 0 : Float(count) * cosine / denominator
            for i in at {
                var sum: Float = 0
                for x in xs { sum += x[i] }
                out[i] = t * (sum / Float(count)) + (1 - t) * base[i]
            }
        }
        return out
    }

    /// NuSLERP: spherical interpolation from `a` (t = 0) to `b` (t = 1) along each lane — the whole tensor when
    /// flattened, else each row or column:
    ///     cos Ω = â·b̂ (â = a/max(‖a‖, 1e-7)),  θ = (sin((1 − t)Ω)·a + sin(tΩ)·b) / sin Ω,
    /// and (1 − t)·a + t·b where 1 − cos²Ω ≤ 1e-16.
    public static func nuslerp(t: Double, _ a: [Float], _ b: [Float], lanes: Lanes) -> [Float] {
        var out = [Float](repeating: 0, count: a.count)
        let t0 = Float(1 - t), t1 = Float(t)
        for lane in 0..<lanes.count {
            let at = lanes.positions(lane)
            let na = max(Float(norm(at.lazy.map { a[$0] })), 1e-7), nb = max(Float(norm(at.lazy.map { b[$0] })), 1e-7)
            var c = 0.0
            for i in at { c += Double((a[i] / na) * (b[i] / nb)) }
            let cosine = min(max(Float(c), -1), 1)
            if 1 - cosine * cosine <= 1e-16 {
                for i in at { out[i] = t0 * a[i] + t1 * b[i] }
                continue
            }
            let theta = Float(acos(Double(cosine)))
            let s0 = Float(sin(Double(t0 * theta))), s1 = Float(sin(Double(t1 * theta))), s = Float(sin(Double(theta)))
            for i in at { out[i] = (s0 * a[i] + s1 * b[i]) / s }
        }
        return out
    }

    /// Multi-SLERP (mergekit `multislerp`): a weighted mean of the models on the unit sphere, through the tangent
    /// space at their weighted Euclidean mean, scaled back by the weighted mean of their norms. With a base, on the
    /// task vectors θᵢ − θ₀, and θ₀ added back.
    public static func multislerp(base: [Float]?, _ xs: [[Float]], weights: [Float], normalizeWeights: Bool,
                                  eps: Double, name: String) throws -> [Float] {
        if xs.count == 1 { return xs[0] }
        let n = xs[0].count
        var w = weights
        if normalizeWeights {
            let total = w.reduce(0, +)
            w = w.map { $0 / total }
        }
        let e = Float(eps)
        let vs = base.map { b in xs.map { x in (0..<n).map { x[$0] - b[$0] } } } ?? xs
        let norms = vs.map { Float(norm($0)) }
        let units = zip(vs, norms).map { v, nv in v.map { $0 / (nv + e) } }
        var mean = [Float](repeating: 0, count: n)
        for i in 0..<n { for (u, wi) in zip(units, w) { mean[i] += u[i] * wi } }
        let meanNorm = Float(norm(mean))
        var out: [Float]
        if meanNorm < e {
            guard vs.count == 2 else {
                throw VaneError("multislerp on \(name): the weighted mean of the models' directions is zero (opposite models with balancing weights)",
                                hint: "change the weights")
            }
            out = (0..<n).map { vs[0][$0] * w[0] + vs[1][$0] * w[1] }
        } else {
            for i in 0..<n { mean[i] /= meanNorm }
            var tangent = [Float](repeating: 0, count: n)
            for (u, wi) in zip(units, w) {
                let along = Float(dot(u, mean))
                for i in 0..<n { tangent[i] += (u[i] - along * mean[i]) * wi }
            }
            let angle = Float(norm(tangent)) + e
            let c = Float(cos(Double(angle))), s = Float(sin(Double(angle))) / angle
            var scale: Float = 0
            for (nv, wi) in zip(norms, w) { scale += nv * wi }
            out = (0..<n).map { (mean[$0] * c + tangent[$0] * s) * scale }
        }
        if let base { for i in 0..<n { out[i] += base[i] } }
        return out
    }

    /// SCE: keep the `selectTopK` share of entries whose task vectors vary most across the models (population
    /// variance; k = ⌊nonzero·share⌋, ties as torch.topk picks them), elect signs as TIES does, and average the
    /// agreeing task vectors weighted by each model's mean squared task vector (its share of their sum).
    public static func sce(base: [Float], _ xs: [[Float]], selectTopK: Double) -> [Float] {
        let n = base.count, m = xs.count
        var tvs = xs.map { x in (0..<n).map { x[$0] - base[$0] } }
        if selectTopK < 1 {
            let mask = sceSelection(tvs, share: selectTopK)
            for j in 0..<m { for i in 0..<n where !mask[i] { tvs[j][i] = 0 } }
        }
        var weights = tvs.map { Float(dot($0, $0) / Double(n)) }
        let total = weights.reduce(0, +)
        weights = abs(total) < 1e-6 ? [Float](repeating: 1 / Float(m), count: m) : weights.map { $0 / total }
        var out = base
        for i in 0..<n {
            let majority = majoritySign(tvs.lazy.map { $0[i] })
            var merged: Float = 0, divisor: Float = 0
            for (tv, w) in zip(tvs, weights) where sign(tv[i]) == majority {
                merged += tv[i] * w
                divisor += w
            }
            out[i] += merged / max(divisor, 1e-6)
        }
        return out
    }

    /// The entries SCE keeps: the ⌊nonzero·share⌋ of largest variance across the task vectors `tvs`.
    static func sceSelection(_ tvs: [[Float]], share: Double) -> [Bool] {
        let n = tvs[0].count, m = Double(tvs.count)
        var variance = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var mean = 0.0
            for tv in tvs { mean += Double(tv[i]) }
            mean /= m
            var v = 0.0
            for tv in tvs { v += (Double(tv[i]) - mean) * (Double(tv[i]) - mean) }
            variance[i] = Float(v / m)
        }
        let nonzero = variance.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        // torch multiplies the int64 count by the share in float32.
        let k = share <= 0 ? 0 : Int(Float(nonzero) * Float(share))
        var mask = [Bool](repeating: false, count: n)
        for i in TorchOrder.topK(variance, k) { mask[Int(i)] = true }
        return mask
    }

    /// Karcher mean: the point on the unit sphere minimizing the squared geodesic distances to the models'
    /// directions (equal weights), found by at most `maxIter` Riemannian gradient steps (stopping when the step
    /// falls below `tol`), scaled by the mean of the models' norms. Models with norm ≤ tol take no part in the
    /// direction.
    public static func karcher(_ xs: [[Float]], maxIter: Int, tol: Double) -> [Float] {
        if xs.count == 1 { return xs[0] }
        let n = xs[0].count
        let alpha = 1 / Double(xs.count)
        let norms = xs.map { Float(norm($0)) }
        let units = zip(xs, norms).map { x, nx in nx == 0 ? [Float](repeating: 0, count: n) : x.map { $0 / nx } }
        let valid = norms.indices.filter { Double(norms[$0]) > tol }
        guard !valid.isEmpty else { return [Float](repeating: 0, count: n) }
        let a = Float(alpha / (alpha * Double(valid.count)))
        var mean = [Float](repeating: 0, count: n)
        for j in valid { for i in 0..<n { mean[i] += a * units[j][i] } }
        let meanNorm = Float(norm(mean))
        if Double(meanNorm) < tol { mean = units[valid[0]] } else { for i in 0..<n { mean[i] /= meanNorm } }
        for _ in 0..<maxIter {
            var tangent = [Float](repeating: 0, count: n)
            for j in valid {
                let d = min(max(Float(dot(mean, units[j])), -1), 1)
                let theta = Float(acos(Double(d)))
                if Double(theta) < tol { continue }
                let c = a * (theta / Float(sin(Double(theta))))
                for i in 0..<n { tangent[i] += c * (units[j][i] - d * mean[i]) }
            }
            let step = Float(norm(tangent))
            if Double(step) < tol { break }
            let c = Float(cos(Double(step))), s = Float(sin(Double(step)))
            for i in 0..<n { mean[i] = c * mean[i] + s * (tangent[i] / step) }
            let unit = Float(norm(mean))
            if Double(unit) > tol { for i in 0..<n { mean[i] /= unit } }
        }
        var scale: Float = 0
        for nx in norms { scale += Float(alpha) * nx }
        return mean.map { scale * $0 }
    }

    /// Euclidean norm, accumulated in F64.
    static func norm<S: Sequence<Float>>(_ x: S) -> Double {
        var s = 0.0
        for v in x { s += Double(v) * Double(v) }
        return s.squareRoot()
    }

    static func dot(_ x: [Float], _ y: [Float]) -> Double {
        var s = 0.0
        for i in 0..<x.count { s += Double(x[i]) * Double(y[i]) }
        return s
    }
}

/// Vectors along one axis of a row-major tensor (torch's `dim`): `count` lanes of `length` entries, `stride`
/// apart.
public struct Lanes: Sendable {
    public let count: Int, length: Int, stride: Int

    public init(shape: [Int], axis: Int) {
        let total = shape.reduce(1, *)
        length = shape.isEmpty ? total : shape[axis]
        stride = shape.isEmpty ? 1 : shape[(axis + 1)...].reduce(1, *)
        count = length == 0 ? 0 : total / length
    }

    /// The whole tensor as one vector.
    public static func whole(_ n: Int) -> Lanes { Lanes(shape: [n], axis: 0) }

    /// mergekit's rows for DELLA: along axis 1, a 1-D tensor being one row.
    public static func rows(_ shape: [Int]) -> Lanes {
        shape.count < 2 ? .whole(shape.reduce(1, *)) : Lanes(shape: shape, axis: 1)
    }

    /// Flat positions of lane `lane`.
    public func positions(_ lane: Int) -> [Int] {
        let start = (lane / stride) * length * stride + lane % stride
        return (0..<length).map { start + $0 * stride }
    }
}

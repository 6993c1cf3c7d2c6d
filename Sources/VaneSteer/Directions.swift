import Foundation
import VaneModelIO

/// How a direction is computed from one layer's activations of positive (label 1) and negative (label 0)
/// examples. Write h⁺ᵢ, h⁻ᵢ for the two members of pair i, μ⁺, μ⁻ for the class means, δᵢ = h⁺ᵢ − h⁻ᵢ.
///
///     mean-diff       v = μ⁺ − μ⁻                                   (ThinkEdit; Højer's "R−C"; llama.cpp's
///                                                                    `--method mean` before it normalises)
///     pca-diff        û = PC1 of { δᵢ − mean(δ) }                  (repeng's default, pca_diff)
///     pca-center      û = PC1 of { h⁺ᵢ − cᵢ } ∪ { h⁻ᵢ − cᵢ },  cᵢ = (h⁺ᵢ + h⁻ᵢ)/2   (repeng's pca_center)
///     pca-uncentered  û = top right singular vector of { δᵢ }       (llama.cpp cvector-generator `--method pca`,
///                                                                    steering-vectors' pca aggregator)
///     probe           û = w/‖w‖, w from L2-regularised logistic regression (C = 1, intercept unpenalised, the
///                     scikit-learn defaults) of label on h − μ, μ the mean of all examples
///                                                                   (steering-vectors' logistic aggregator)
///
/// Every method is deterministic. PC1 and w are unit vectors with an arbitrary sign: Vane flips û so that
/// (μ⁺ − μ⁻)·û ≥ 0 — positives project higher — and gives it the class-mean gap as its length,
/// v = ((μ⁺ − μ⁻)·û) û, so that scale 1 moves an activation by about the distance between the classes for every
/// method alike. With `normalize`, every method returns the unit vector û = v/‖v‖ (repeng's and llama.cpp's
/// convention).
public enum DirectionMethod: String, Sendable, CaseIterable, CustomStringConvertible {
    case meanDiff = "mean-diff"
    case pcaDiff = "pca-diff"
    case pcaCenter = "pca-center"
    case pcaUncentered = "pca-uncentered"
    case probe

    public var description: String { rawValue }

    /// The PCA methods work on pairs; mean-diff and probe on labels alone.
    public var needsPairs: Bool { self == .pcaDiff || self == .pcaCenter || self == .pcaUncentered }
}

/// The examples of one activation store as the methods see them.
public struct ContrastiveExamples: Sendable {
    /// 1 positive, 0 negative, anything else (−1) left out.
    public var labels: [Int]
    /// Pair id per example, −1 for none; nil when the store has no pairs.
    public var pairs: [Int]?

    public init(labels: [Int], pairs: [Int]? = nil) {
        self.labels = labels
        self.pairs = pairs
    }

    public var positives: [Int] { labels.indices.filter { labels[$0] == 1 } }
    public var negatives: [Int] { labels.indices.filter { labels[$0] == 0 } }

    /// (positive, negative) example indices of each complete pair, in order of pair id.
    public func pairIndices() throws -> [(pos: Int, neg: Int)] {
        guard let pairs, pairs.contains(where: { $0 >= 0 }) else {
            throw VaneError("these examples have no pairs (/examples/pair is absent or all −1)",
                             hint: "use --method mean-diff or probe, or extract paired examples")
        }
        var members: [Int: (pos: [Int], neg: [Int])] = [:]
        for (i, p) in pairs.enumerated() where p >= 0 {
            switch labels[i] {
            case 1: members[p, default: ([], [])].pos.append(i)
            case 0: members[p, default: ([], [])].neg.append(i)
            default: throw VaneError("example \(i) is in pair \(p) but has label \(labels[i]); paired examples need label 1 or 0")
            }
        }
        return try members.keys.sorted().map { p in
            let m = members[p]!
            guard m.pos.count == 1, m.neg.count == 1 else {
                throw VaneError("pair \(p) has \(m.pos.count) positive and \(m.neg.count) negative examples; a pair needs one of each")
            }
            return (m.pos[0], m.neg[0])
        }
    }
}

public enum Directions {
    /// The direction of one layer from its activations `rows` [N, width], with its scores on the same examples.
    public static func compute(_ method: DirectionMethod, rows: [Float], width d: Int, examples: ContrastiveExamples,
                               normalize: Bool = false, layer: Int) throws -> (direction: [Float], score: LayerScore) {
        precondition(rows.count == examples.labels.count * d, "rows hold one activation per example")
        var pos = examples.positives, neg = examples.negatives
        if method.needsPairs {
            let pairs = try examples.pairIndices()
            guard pairs.count >= 2 else {
                throw VaneError("\(method) needs at least 2 complete pairs; the examples have \(pairs.count)")
            }
            pos = pairs.map(\.pos); neg = pairs.map(\.neg)
        }
        guard !pos.isEmpty, !neg.isEmpty else {
            throw VaneError("\(method) needs positive (label 1) and negative (label 0) examples; there are \(pos.count) and \(neg.count)",
                             hint: "extract with labels (or pairs) so that each example says which side it is on")
        }
        func row(_ i: Int) -> ArraySlice<Float> { rows[(i * d)..<((i + 1) * d)] }
        func mean(_ idx: [Int]) -> [Double] {
            var m = [Double](repeating: 0, count: d)
            for i in idx { for (c, x) in row(i).enumerated() { m[c] += Double(x) } }
            return m.map { $0 / Double(idx.count) }
        }
        let gap = zip(mean(pos), mean(neg)).map { $0 - $1 }

        var unit: [Double]
        switch method {
        case .meanDiff:
            unit = gap
        case .pcaDiff, .pcaUncentered:
            var deltas = zip(pos, neg).flatMap { p, n in zip(row(p), row(n)).map { Double($0) - Double($1) } }
            if method == .pcaDiff {
                for k in pos.indices { for c in 0..<d { deltas[k * d + c] -= gap[c] } }
            }
            unit = LinearAlgebra.topRightSingularVector(deltas, rows: pos.count, cols: d)
        case .pcaCenter:
            var m: [Double] = []
            m.reserveCapacity(2 * pos.count * d)
            for (p, n) in zip(pos, neg) {
                let half = zip(row(p), row(n)).map { (Double($0) - Double($1)) / 2 }
                m += half
                m += half.map { -$0 }
            }
            unit = LinearAlgebra.topRightSingularVector(m, rows: 2 * pos.count, cols: d)
        case .probe:
            let all = pos + neg
            let mu = mean(all)
            let x = all.flatMap { i in row(i).enumerated().map { Double($1) - mu[$0] } }
            unit = try logisticRegression(x, labels: pos.map { _ in 1.0 } + neg.map { _ in 0.0 }, width: d)
        }
        LinearAlgebra.normalize(&unit)
        let along = zip(gap, unit).reduce(0) { $0 + $1.0 * $1.1 }
        if along < 0 { unit = unit.map { -$0 } }
        let direction: [Float]
        if normalize {
            direction = unit.map(Float.init)
        } else if method == .meanDiff {
            direction = gap.map(Float.init)
        } else {
            direction = unit.map { Float(abs(along) * $0) }
        }
        return (direction, score(direction, rows: rows, width: d, positives: pos, negatives: neg, layer: layer))
    }

    /// Norm, AUROC and Cohen's d of the projections of positives and negatives on `direction`.
    public static func score(_ direction: [Float], rows: [Float], width d: Int, positives: [Int], negatives: [Int],
                             layer: Int) -> LayerScore {
        let norm = direction.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        func projection(_ i: Int) -> Double {
            var s = 0.0
            for c in 0..<d { s += Double(rows[i * d + c]) * Double(direction[c]) }
            return norm > 0 ? s / norm : 0
        }
        let a = positives.map(projection), b = negatives.map(projection)
        return LayerScore(layer: layer, norm: Float(norm), auroc: Float(Stats.auroc(a, b)), cohensD: Float(Stats.cohensD(a, b)))
    }

    /// Unit w of argmin ½‖w‖² + Σᵢ log(1 + exp(−sᵢ(w·xᵢ + b))), sᵢ = ±1 (scikit-learn's LogisticRegression with
    /// C = 1), by Newton's method with step halving; x [N, d] rows first, labels 1 or 0.
    static func logisticRegression(_ x: [Double], labels y: [Double], width d: Int) throws -> [Double] {
        let n = y.count, k = d + 1
        var theta = [Double](repeating: 0, count: k)        // w then b
        func loss(_ t: [Double]) -> Double {
            var l = 0.5 * (0..<d).reduce(0) { $0 + t[$1] * t[$1] }
            for i in 0..<n {
                var z = t[d]
                for c in 0..<d { z += t[c] * x[i * d + c] }
                let s = y[i] == 1 ? -z : z
                l += s > 30 ? s : log1p(exp(s))
            }
            return l
        }
        var current = loss(theta)
        for _ in 0..<100 {
            var grad = Array(theta[0..<d]) + [0]
            var hess = [Double](repeating: 0, count: k * k)
            for c in 0..<d { hess[c * k + c] = 1 }
            for i in 0..<n {
                var z = theta[d]
                for c in 0..<d { z += theta[c] * x[i * d + c] }
                let p = 1 / (1 + exp(-z)), w = p * (1 - p), r = p - y[i]
                for a in 0..<k {
                    let xa = a < d ? x[i * d + a] : 1
                    grad[a] += r * xa
                    if w == 0 || xa == 0 { continue }
                    for b in a..<k { hess[a * k + b] += w * xa * (b < d ? x[i * d + b] : 1) }
                }
            }
            for a in 0..<k { for b in 0..<a { hess[a * k + b] = hess[b * k + a] } }
            hess[d * k + d] += 1e-12
            let gnorm = grad.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if gnorm < 1e-9 * max(1, theta.reduce(0) { $0 + $1 * $1 }.squareRoot()) { break }
            guard let step = LinearAlgebra.choleskySolve(hess, grad, k) else {
                throw VaneError("probe: the logistic regression's Hessian is singular")
            }
            var t = 1.0, next = theta, nextLoss = current
            while t > 1e-10 {
                next = zip(theta, step).map { $0 - t * $1 }
                nextLoss = loss(next)
                if nextLoss <= current { break }
                t /= 2
            }
            if nextLoss > current { break }
            let improved = current - nextLoss
            theta = next; current = nextLoss
            if improved <= 1e-13 * max(1, current) { break }
        }
        return Array(theta[0..<d])
    }
}

/// Separation statistics and small summaries shared by scores and evaluations.
public enum Stats {
    /// P(a > b) + ½ P(a = b) over all pairs: the area under the ROC curve of "a is positive".
    public static func auroc(_ a: [Double], _ b: [Double]) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return .nan }
        let ranks = averageRanks(a + b)
        let rankSum = ranks[0..<a.count].reduce(0, +)
        let na = Double(a.count), nb = Double(b.count)
        return (rankSum - na * (na + 1) / 2) / (na * nb)
    }

    /// (mean a − mean b) / pooled standard deviation (n − 1 variances).
    public static func cohensD(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count + b.count > 2 else { return .nan }
        func mv(_ x: [Double]) -> (Double, Double) {
            let m = x.reduce(0, +) / Double(x.count)
            return (m, x.reduce(0) { $0 + ($1 - m) * ($1 - m) })
        }
        let (ma, sa) = mv(a), (mb, sb) = mv(b)
        let pooled = ((sa + sb) / Double(a.count + b.count - 2)).squareRoot()
        return pooled > 0 ? (ma - mb) / pooled : .nan
    }

    /// 1-based ranks, ties sharing their average rank.
    public static func averageRanks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var ranks = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let r = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = r }
            i = j + 1
        }
        return ranks
    }

    /// Spearman's rank correlation (Pearson's on average ranks).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        pearson(averageRanks(x), averageRanks(y))
    }

    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
    }

    public static func median(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return .nan }
        let s = x.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// The few dense linear-algebra steps the direction methods need, in Double, deterministic (no random starts).
enum LinearAlgebra {
    /// The unit right singular vector of the largest singular value of M [n, d] (rows first): the first principal
    /// axis of M's rows taken as they are (uncentred). Power iteration on the smaller Gram matrix (M·Mᵀ or
    /// Mᵀ·M), first squared a few times so that close eigenvalues separate, from a fixed generic start; the sign
    /// is left to the caller.
    static func topRightSingularVector(_ m: [Double], rows n: Int, cols d: Int) -> [Double] {
        let byRows = n <= d
        let k = byRows ? n : d
        var g = [Double](repeating: 0, count: k * k)
        if byRows {
            for i in 0..<n { for j in i..<n {
                var s = 0.0
                for c in 0..<d { s += m[i * d + c] * m[j * d + c] }
                g[i * k + j] = s; g[j * k + i] = s
            } }
        } else {
            for r in 0..<n {
                let row = r * d
                for i in 0..<d where m[row + i] != 0 {
                    let a = m[row + i]
                    for j in i..<d { g[i * k + j] += a * m[row + j] }
                }
            }
            for i in 0..<d { for j in 0..<i { g[i * k + j] = g[j * k + i] } }
        }
        // G^16 has the same eigenvectors, with the eigenvalue ratios raised to the 16th power.
        if k <= 256 {
            for _ in 0..<4 {
                let trace = (0..<k).reduce(0.0) { $0 + g[$1 * k + $1] }
                guard trace > 0 else { break }
                g = multiply(g, g, k).map { $0 / (trace * trace) }
            }
        }
        var v = (0..<k).map { 1 + Double($0) / Double(k) }
        normalize(&v)
        for _ in 0..<20_000 {
            var w = [Double](repeating: 0, count: k)
            for i in 0..<k {
                var s = 0.0
                for j in 0..<k { s += g[i * k + j] * v[j] }
                w[i] = s
            }
            guard normalize(&w) > 0 else { break }
            let change = zip(v, w).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            v = w
            if change < 1e-24 { break }
        }
        guard byRows else { return v }
        var u = [Double](repeating: 0, count: d)
        for i in 0..<n { for c in 0..<d { u[c] += v[i] * m[i * d + c] } }
        normalize(&u)
        return u
    }

    static func multiply(_ a: [Double], _ b: [Double], _ k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: k * k)
        for i in 0..<k { for l in 0..<k {
            let x = a[i * k + l]
            if x == 0 { continue }
            for j in 0..<k { c[i * k + j] += x * b[l * k + j] }
        } }
        return c
    }

    @discardableResult
    static func normalize(_ v: inout [Double]) -> Double {
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if n > 0 { for i in v.indices { v[i] /= n } }
        return n
    }

    /// Solves A·x = b for symmetric positive definite A [k, k] by Cholesky; nil if A is not positive definite.
    static func choleskySolve(_ a: [Double], _ b: [Double], _ k: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: k * k)
        for j in 0..<k {
            var s = a[j * k + j]
            for p in 0..<j { s -= l[j * k + p] * l[j * k + p] }
            guard s > 0 else { return nil }
            let diag = s.squareRoot()
            l[j * k + j] = diag
            for i in (j + 1)..<k {
                var t = a[i * k + j]
                for p in 0..<j { t -= l[i * k + p] * l[j * k + p] }
                l[i * k + j] = t / diag
            }
        }
        var y = b
        for i in 0..<k {
            for p in 0..<i { y[i] -= l[i * k + p] * y[p] }
            y[i] /= l[i * k + i]
        }
        for i in stride(from: k - 1, through: 0, by: -1) {
            for p in (i + 1)..<k { y[i] -= l[p * k + i] * y[p] }
            y[i] /= l[i * k + i]
        }
        return y
    }
}

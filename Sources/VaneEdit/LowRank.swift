import CBLAS
import VaneCore

/// Low-rank task vectors: the truncated SVD of a matrix Δ [m, n] (row-major) as LoRA-style factors,
/// Δ ≈ B·A with B [m, R] = U_R √S_R and A [R, n] = √S_R V_Rᵀ (the singular values split evenly, so neither factor
/// dwarfs the other), computed in double precision with LAPACK's dgesdd (OpenBLAS): a float32 SVD of a small delta
/// is off by about 1e-5 of its largest entry where singular values crowd, which the factors would carry.
public enum LowRank {
    /// [m, n] when a tensor of `shape` is worth storing as rank-`rank` factors: a matrix whose factors hold fewer
    /// values than itself (so R < min(m, n)); nil otherwise (it is stored whole).
    public static func factorable(_ shape: [Int], rank: Int) -> (Int, Int)? {
        guard shape.count == 2, rank >= 1 else { return nil }
        let (m, n) = (shape[0], shape[1])
        return rank * (m + n) < m * n ? (m, n) : nil
    }

    /// The rank-`rank` factors of Δ and the share of ‖Δ‖²_F they keep, Σ_{i<R} σᵢ² / Σ σᵢ² (1 for Δ = 0).
    public static func factors(_ delta: [Float], rows m: Int, cols n: Int, rank r: Int, name: String) throws
        -> (a: [Float], b: [Float], energy: Double) {
        precondition(delta.count == m * n && r <= min(m, n))
        guard m <= Int(Int32.max) / max(n, 1) else { throw VaneError("\(name): [\(m), \(n)] is too large for LAPACK's 32-bit sizes") }
        // Row-major Δ is the column-major n×m matrix Δᵀ = V S Uᵀ: LAPACK's "U" is our V, its "Vᵀ" our Uᵀ.
        let k = min(m, n)
        var work = delta.map(Double.init), s = [Double](repeating: 0, count: k)
        var v = [Double](repeating: 0, count: n * k), ut = [Double](repeating: 0, count: k * m)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var jobz = Int8(UInt8(ascii: "S")), rows = Int32(n), cols = Int32(m), lda = Int32(n), ldu = Int32(n), ldvt = Int32(k)
        var info: Int32 = 0, lwork: Int32 = -1, size = 0.0
        dgesdd_(&jobz, &rows, &cols, &work, &lda, &s, &v, &ldu, &ut, &ldvt, &size, &lwork, &iwork, &info)
        guard info == 0 else { throw VaneError("\(name): LAPACK dgesdd workspace query failed (info \(info))") }
        lwork = Int32(size)
        var space = [Double](repeating: 0, count: Int(lwork))
        dgesdd_(&jobz, &rows, &cols, &work, &lda, &s, &v, &ldu, &ut, &ldvt, &space, &lwork, &iwork, &info)
        guard info == 0 else {
            throw VaneError("\(name): the SVD did not converge (LAPACK dgesdd info \(info))",
                            hint: "leave this tensor out of the low-rank diff with --exclude, or diff without --rank")
        }
        var a = [Float](repeating: 0, count: r * n), b = [Float](repeating: 0, count: m * r)
        for j in 0..<r {
            let root = s[j].squareRoot()
            for c in 0..<n { a[j * n + c] = Float(root * v[c + j * n]) }
            for i in 0..<m { b[i * r + j] = Float(root * ut[j + i * k]) }
        }
        let total = s.reduce(0) { $0 + $1 * $1 }, kept = s.prefix(r).reduce(0) { $0 + $1 * $1 }
        return (a, b, total > 0 ? kept / total : 1)
    }

    /// B [m, R] · A [R, n], row-major.
    public static func product(b: [Float], a: [Float], rows m: Int, rank r: Int, cols n: Int) -> [Float] {
        var out = [Float](repeating: 0, count: m * n)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(r), 1, b, Int32(r), a, Int32(n), 0, &out, Int32(n))
        return out
    }
}

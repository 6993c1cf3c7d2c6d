import CBLAS
import CKernels
import Foundation

/// The float kernels of the forward pass. Each works on raw row-major buffers so the engine can run them in
/// place on its scratch memory; the naive reference of each fast kernel sits beside it and the tests compare them.
public enum Kernels {
    /// y[T, out] = x[T, in] · W[out, in]ᵀ with f32 weights (OpenBLAS sgemm; sgemv when T = 1, ~3× faster there).
    public static func matmulTransposed(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                        _ y: UnsafeMutablePointer<Float>, rows: Int, inner: Int, out: Int) {
        if rows == 1 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(out), Int32(inner), 1, w, Int32(inner), x, 1, 0, y, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(out), Int32(inner),
                        1, x, Int32(inner), w, Int32(inner), 0, y, Int32(out))
        }
    }

    /// y[T, out] (row stride ldy) = x[T, in] · W[out, in]ᵀ, for bands of a larger output.
    public static func matmulTransposedStrided(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                               _ y: UnsafeMutablePointer<Float>, rows: Int, inner: Int, out: Int,
                                               ldy: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(out), Int32(inner),
                    1, x, Int32(inner), w, Int32(inner), 0, y, Int32(ldy))
    }

    public static func matmulTransposedNaive(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                             _ y: UnsafeMutablePointer<Float>, rows: Int, inner: Int, out: Int) {
        for t in 0..<rows {
            for o in 0..<out {
                var s: Float = 0
                for i in 0..<inner { s += x[t * inner + i] * w[o * inner + i] }
                y[t * out + o] = s
            }
        }
    }

    /// RMSNorm over each row of x[T, d]: y = x / sqrt(mean(x²) + eps) · weight. The sum of squares is taken in
    /// Double: late-layer residuals reach thousands and float accumulation would lose digits.
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                               _ y: UnsafeMutablePointer<Float>, rows: Int, dim: Int, eps: Float) {
        for t in 0..<rows {
            let row = x + t * dim
            var ss: Double = 0
            for i in 0..<dim { ss += Double(row[i]) * Double(row[i]) }
            let scale = Float(1 / (ss / Double(dim) + Double(eps)).squareRoot())
            let out = y + t * dim
            for i in 0..<dim { out[i] = row[i] * scale * weight[i] }
        }
    }

    /// Rotary position embedding, in place, on x[T, heads, headDim], row t at absolute position positions[t]
    /// (rows of a batch belong to different sequences, each at its own position), pair i rotating by angle
    /// position · invFreq[i] (the model's table: θ^(−2i/headDim), scaled where the model scales RoPE), on the
    /// first 2·invFreq.count dims of each head (partial rotary leaves the rest as they are).
    /// `adjacent` rotates pairs (2i, 2i+1); otherwise pairs (i, i + invFreq.count) (NeoX / HF layout).
    /// Angles are computed in Double so long positions stay exact.
    public static func rope(_ x: UnsafeMutablePointer<Float>, positions: [Int], heads: Int, headDim: Int,
                            invFreq: [Double], adjacent: Bool) {
        let half = invFreq.count
        precondition(half <= headDim / 2, "RoPE table of \(half) frequencies for head_dim \(headDim)")
        var cosT = [Float](repeating: 0, count: half), sinT = [Float](repeating: 0, count: half)
        for (t, position) in positions.enumerated() {
            let p = Double(position)
            for i in 0..<half {
                let a = p * invFreq[i]
                cosT[i] = Float(cos(a))
                sinT[i] = Float(sin(a))
            }
            for h in 0..<heads {
                let v = x + (t * heads + h) * headDim
                for i in 0..<half {
                    let (j0, j1) = adjacent ? (2 * i, 2 * i + 1) : (i, i + half)
                    let a = v[j0], b = v[j1]
                    v[j0] = a * cosT[i] - b * sinT[i]
                    v[j1] = a * sinT[i] + b * cosT[i]
                }
            }
        }
    }

    /// Softmax of x[0..<n] in place (max-subtracted).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var m = -Float.infinity
        for i in 0..<n where x[i] > m { m = x[i] }
        var s: Float = 0
        for i in 0..<n {
            x[i] = expf(x[i] - m)
            s += x[i]
        }
        let inv = 1 / s
        for i in 0..<n { x[i] *= inv }
    }

    /// gate[i] = gelu_tanh(gate[i]) · up[i] — GeGLU's elementwise half (Gemma), with GELU's tanh form
    /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as `gelu_pytorch_tanh`.
    public static func geglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count n: Int) {
        let c = Float((2 / Double.pi).squareRoot())
        for i in 0..<n {
            let x = gate[i]
            gate[i] = 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x))) * up[i]
        }
    }

    /// x[i] = cap · tanh(x[i] / cap) — Gemma 2's soft-capping of attention scores and logits.
    public static func softcap(_ x: UnsafeMutablePointer<Float>, count n: Int, cap: Float) {
        for i in 0..<n { x[i] = cap * tanh(x[i] / cap) }
    }

    /// gate[i] = silu(gate[i]) · up[i] — SwiGLU's elementwise half.
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
        vane_dot_f32(a, b, n)
    }
}

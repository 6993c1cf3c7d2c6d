import CBLAS
import CKernels
import Foundation
import Synchronization
import VaneModelIO
import VaneTensor

/// How matrix products treat quantized weights.
public enum Precision: String, Sendable, CaseIterable {
    /// Weights dequantized to f32 and multiplied in f32: what a float reference over the dequantized weights
    /// computes. Traces, extraction and the correctness tests use it.
    case exact
    /// Products with quantized weights quantize each activation row to 8 bits and use integer dot products, as
    /// llama.cpp does (logits move by up to ~0.5 on Q4 models). Legacy types (Q4_0…Q8_0) run every product, from
    /// one token to a prompt, on rows repacked once in groups of 8 (vane_gemm_q_packed). K-quants take one dot per
    /// weight row for a few rows (and for the single new tokens of a batched decoding step, each weight block
    /// unpacked once for several sequences but each sequence's dot computed as it is alone), tiles of weight rows
    /// unpacked once for a whole prompt batch. F16/BF16 weights take f32 sgemm for batches.
    case fast
}

/// A weight matrix W[out, in] in its stored type, with y = x · Wᵀ over rows of x.
struct Linear {
    let tensor: StoredTensor
    let out: Int
    let inner: Int
    let rowBytes: Int

    init(_ t: StoredTensor) throws {
        guard t.shape.count == 2 else {
            throw VaneError("tensor \(t.name) has shape \(t.shape); a weight matrix needs 2 dims")
        }
        tensor = t
        out = t.shape[0]
        inner = t.shape[1]
        rowBytes = t.type.byteCount(inner)
    }

    /// Row `r` dequantized into `dst[0..<inner]` (an embedding lookup).
    func row(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        dequantize(tensor.type, tensor.bytes.baseAddress! + r * rowBytes, dst, count: inner)
    }

    /// y[rows, out] = x[rows, inner] · Wᵀ.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, precision: Precision,
               scratch: Scratch) {
        if tensor.type == .f32, Int(bitPattern: tensor.bytes.baseAddress!) % 4 == 0 {
            let w = tensor.bytes.baseAddress!.assumingMemoryBound(to: Float.self)
            Kernels.matmulTransposed(x, w, y, rows: rows, inner: inner, out: out)
        } else if precision == .fast, tensor.type != .f32,
                  rows <= 4 || vane_activation_type_for(Int32(tensor.type.rawValue)) > 0 {
            applyQuantized(x, rows: rows, into: y, scratch: scratch)
        } else {
            applyDequantized(x, rows: rows, into: y, scratch: scratch)
        }
    }

    /// y[rows, out] = x[rows, inner] · Wᵀ where each row's result is bit for bit what `apply` gives that row alone
    /// (rows of different sequences in one batched step). The integer products are per row already (packed or
    /// row-wise dots); the f32 path dequantizes each band of W once and runs the single-row product (sgemv) on it
    /// for every row, since sgemm's summation order differs from sgemv's.
    func applyRowwise(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, precision: Precision,
                      scratch: Scratch) {
        if tensor.type == .f32, Int(bitPattern: tensor.bytes.baseAddress!) % 4 == 0 {
            let w = tensor.bytes.baseAddress!.assumingMemoryBound(to: Float.self)
            for t in 0..<rows {
                Kernels.matmulTransposed(x + t * inner, w, y + t * out, rows: 1, inner: inner, out: out)
            }
        } else if precision == .fast, tensor.type != .f32 {
            applyQuantized(x, rows: rows, into: y, scratch: scratch, rowwise: true)
        } else {
            applyDequantized(x, rows: rows, into: y, scratch: scratch, rowwise: true)
        }
    }

    /// Dequantizes W in bands of rows into scratch memory and multiplies each band with sgemm (or, `rowwise`, with
    /// sgemv per row), so no full f32 copy of a large matrix (the output embedding) is ever held.
    private func applyDequantized(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>,
                                  scratch: Scratch, rowwise: Bool = false) {
        let band = max(1, min(out, Scratch.bandFloats / inner))
        let w = scratch.weights(band * inner)
        var r0 = 0
        while r0 < out {
            let n = min(band, out - r0)
            dequantize(tensor.type, tensor.bytes.baseAddress! + r0 * rowBytes, w, count: n * inner)
            if rows == 1 || rowwise {
                for t in 0..<rows {
                    Kernels.matmulTransposed(x + t * inner, w, y + t * out + r0, rows: 1, inner: inner, out: n)
                }
            } else {
                Kernels.matmulTransposedStrided(x, w, y + r0, rows: rows, inner: inner, out: n, ldy: out)
            }
            r0 += n
        }
    }

    /// Quantizes each activation row to the weight's partner type and runs the integer kernels (a dot per row
    /// and vector, or for batches the tiled product, whose float sums run in another order; `rowwise` keeps each
    /// vector's dot as it is alone: vane_gemm_q_dots), rows of W split across threads.
    private func applyQuantized(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>,
                                scratch: Scratch, rowwise: Bool = false) {
        let wType = Int32(tensor.type.rawValue)
        let aType = vane_activation_type_for(wType)
        let aRowBytes = GGMLType(rawValue: UInt32(aType))!.byteCount(inner)
        let xq = scratch.activations(aRowBytes * rows)
        for t in 0..<rows {
            vane_quantize_activation(aType, x + t * inner, xq + t * aRowBytes, Int64(inner))
        }
        let w = Unchecked(UnsafeRawPointer(tensor.bytes.baseAddress!))
        let xqc = Unchecked(UnsafeRawPointer(xq))
        let yp = Unchecked(y)
        // One part per thread, claimed by whichever thread is free: a thread the OS descheduled before it claimed
        // its part leaves it to the others (more, smaller parts measured slower: BENCHMARKS.md).
        let parts = min(out, Parallel.threads)
        if vane_packs(wType, Int64(out), Int64(inner)) != 0 {
            // Repacked on first use and kept with the mapping (one copy for a tied embedding and output), 256 rows
            // at a time, each slice's file pages dropped once packed: the copy replaces them rather than adding a
            // whole matrix to the peak.
            let t = tensor, rb = rowBytes, outN = out, innerN = inner
            let pw = Unchecked(t.owner.rearranged(t.bytes) { dst in
                for r0 in stride(from: 0, to: outN, by: 256) {
                    let n = min(256, outN - r0)
                    let src = UnsafeRawBufferPointer(start: t.bytes.baseAddress! + r0 * rb, count: n * rb)
                    _ = vane_pack_rows(wType, src.baseAddress!, Int64(n), Int64(innerN), dst + r0 * rb)
                    t.owner.dropPages(src)
                }
            })
            let per = ((out + parts - 1) / parts + 7) / 8 * 8
            Parallel.run(parts) { i in
                let r0 = i * per, r1 = min(outN, r0 + per)
                guard r0 < r1 else { return }
                vane_gemm_q_packed(wType, pw.value, Int64(outN), Int64(innerN), xqc.value, aRowBytes, Int64(rows),
                                   yp.value, Int64(r0), Int64(r1))
            }
            return
        }
        // Batches work on tiles of 8 weight rows: parts start at multiples of 8.
        let tiled = !rowwise && rows > Int(GEMM_TILED_MIN_VECS)
        let align = tiled ? 8 : 1
        let per = ((out + parts - 1) / parts + align - 1) / align * align
        let (outN, innerN, rb) = (out, inner, rowBytes)
        Parallel.run(parts) { i in
            let r0 = i * per, r1 = min(outN, r0 + per)
            guard r0 < r1 else { return }
            if tiled {
                vane_gemm_q(wType, w.value, rb, Int64(outN), Int64(innerN), xqc.value, aRowBytes, Int64(rows), yp.value,
                            Int64(r0), Int64(r1))
            } else {
                vane_gemm_q_dots(wType, w.value, rb, Int64(outN), Int64(innerN), xqc.value, aRowBytes, Int64(rows),
                                 yp.value, Int64(r0), Int64(r1))
            }
        }
    }
}

/// What does the arithmetic on this machine, for benchmark records: the quantized kernels' instruction set
/// (vane_kernel_set) and the kernels OpenBLAS chose when it loaded (f32 products: `--exact`, attention).
public enum Backend {
    public static var kernels: String { String(cString: vane_kernel_set()) }
    public static var blasCore: String { String(cString: openblas_get_corename()) }
}

/// Reusable scratch memory for dequantized weight bands and quantized activations.
final class Scratch {
    /// Floats of weights dequantized at a time (16 MB).
    static let bandFloats = 4 << 20

    private var weightBuffer: UnsafeMutablePointer<Float>
    private var weightCapacity = 0
    private var activationBuffer: UnsafeMutableRawPointer
    private var activationCapacity = 0

    init() {
        weightBuffer = .allocate(capacity: 1)
        activationBuffer = .allocate(byteCount: 1, alignment: 64)
    }

    deinit {
        weightBuffer.deallocate()
        activationBuffer.deallocate()
    }

    func weights(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > weightCapacity {
            weightBuffer.deallocate()
            weightBuffer = .allocate(capacity: count)
            weightCapacity = count
        }
        return weightBuffer
    }

    func activations(_ bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > activationCapacity {
            activationBuffer.deallocate()
            activationBuffer = .allocate(byteCount: bytes, alignment: 64)
            activationCapacity = bytes
        }
        return activationBuffer
    }
}

/// A pointer handed to worker threads, which read it or write disjoint ranges of it: unchecked because raw pointers
/// are not Sendable, and only the row split of the caller keeps the threads apart.
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Splits work over the machine's cores.
public enum Parallel {
    private static let count = Atomic(max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)))

    /// Worker count, set with `setThreads` (`--threads`); a forward pass reads it once per product.
    public static var threads: Int { count.load(ordering: .relaxed) }

    /// Uses `n` threads here and in OpenBLAS.
    public static func setThreads(_ n: Int) {
        count.store(n, ordering: .relaxed)
        openblas_set_num_threads(Int32(n))
    }

    /// Runs body(0 … parts−1) on the calling thread and the pool's `threads − 1` workers, each part claimed by
    /// whichever thread is free, and returns when all are done.
    static func run(_ parts: Int, _ body: (Int) -> Void) {
        if parts == 1 { return body(0) }
        withoutActuallyEscaping(body) { body in
            var task = Task(body: body)
            withUnsafeMutablePointer(to: &task) { ctx in
                vane_parallel_for(Int32(threads), Int32(parts), { ctx, part, _ in
                    ctx!.assumingMemoryBound(to: Task.self).pointee.body(Int(part))
                }, ctx)
            }
        }
    }

    private struct Task {
        let body: (Int) -> Void
    }
}

import CKernels
import Foundation
import Testing
import VaneModelIO
import VaneTestSupport

/// The batched products. The tiled one (quant_gemm.c): the SIMD tile kernels (AVX2, or AVX-512 VNNI where the CPU
/// has it) against the portable ones (tolerance 1e-5 of Σ|wᵢ·aᵢ|, only float summation order differs), the portable
/// ones against float64 dots of the dequantized weights with the dequantized 8-bit activations (1e-4 of Σ|wᵢ·aᵢ|)
/// and with the original f32 activations (the 8-bit rounding bound Σ|wᵢ|·errᵢ, errᵢ ≤ stepᵢ·(1/2 + 127·2⁻¹¹), plus
/// 1e-4 of Σ|wᵢ·xᵢ|), on random blocks and on llama.cpp-quantized tensors.
@Suite struct QuantGemmTests {
    static let types = [QType.q4_0, QType.q4_1, QType.q5_0, QType.q5_1, QType.q8_0,
                        QType.q2_K, QType.q3_K, QType.q4_K, QType.q5_K, QType.q6_K]

    typealias Gemm = @convention(c) (Int32, UnsafeRawPointer?, Int, Int64, Int64, UnsafeRawPointer?, Int, Int64,
                                     UnsafeMutablePointer<Float>?, Int64, Int64) -> Int32

    /// Activation rows quantized for `type`'s kernels, one after another.
    static func quantizedBatch(_ type: UInt32, _ xs: [[Float]]) -> (bytes: [UInt8], rowBytes: Int) {
        let act = vane_activation_type_for(Int32(type))
        let layout = QType.layout[UInt32(act)]!
        let rowBytes = xs[0].count / layout.block * layout.bytes
        var out = [UInt8](repeating: 0, count: xs.count * rowBytes)
        out.withUnsafeMutableBytes { buf in
            for (v, x) in xs.enumerated() {
                #expect(vane_quantize_activation(act, x, buf.baseAddress! + v * rowBytes, Int64(x.count)) == 0)
            }
        }
        return (out, rowBytes)
    }

    static func run(_ gemm: Gemm, _ type: UInt32, _ w: [UInt8], rows: Int, cols: Int, _ xq: [UInt8], _ xqRowBytes: Int,
                    nVecs: Int, range: Range<Int>? = nil, into y: inout [Float]) -> Int32 {
        let r = range ?? 0..<rows
        return gemm(Int32(type), w, w.count / rows, Int64(rows), Int64(cols), xq, xqRowBytes, Int64(nVecs), &y,
                    Int64(r.lowerBound), Int64(r.upperBound))
    }

    /// Checks y[v·rows + r] against float64 references; `w` holds the dequantized weights row by row.
    static func checkAgainstReferences(_ y: [Float], w: [Double], xs: [[Float]], xq: [UInt8], xqRowBytes: Int,
                                       type: UInt32, rows: Int, cols: Int, label: String) {
        let act = UInt32(vane_activation_type_for(Int32(type)))
        let actBlock = QType.layout[act]!.block
        var failures = 0
        for (v, x) in xs.enumerated() {
            let aq = dequantize(act, Array(xq[(v * xqRowBytes)..<((v + 1) * xqRowBytes)]), cols)
            // Each activation's 8-bit error: half a step (its block's largest magnitude / 127), plus for Q8_0/Q8_1
            // the f16 rounding of the step times |q| ≤ 127.
            let halfStep = (0..<cols).map { i -> Double in
                let b = i / actBlock * actBlock
                return Double(x[b..<(b + actBlock)].map(abs).max()!) / 127 * (0.5 + 127 * 0x1p-11)
            }
            for r in 0..<rows {
                let wr = w[(r * cols)..<((r + 1) * cols)]
                var sumQ = 0.0, scaleQ = 0.0, sumF = 0.0, scaleF = 0.0, bound = 0.0
                for (i, wi) in zip(0..., wr) {
                    sumQ += wi * aq[i]; scaleQ += abs(wi * aq[i])
                    sumF += wi * Double(x[i]); scaleF += abs(wi * Double(x[i]))
                    bound += abs(wi) * halfStep[i]
                }
                let got = Double(y[v * rows + r])
                let okQ = abs(got - sumQ) <= 1e-4 * scaleQ, okF = abs(got - sumF) <= bound + 1e-4 * scaleF
                if (!okQ || !okF) && failures < 5 {
                    failures += 1
                    Issue.record("\(label) vector \(v) row \(r): \(got) vs quantized-activation reference \(sumQ) (tol \(1e-4 * scaleQ)), f32 reference \(sumF) (tol \(bound + 1e-4 * scaleF))")
                }
            }
        }
    }

    @Test(arguments: types)
    func tiledMatchesPortableAndReferences(type: UInt32) {
        var rng = SplitMix64(state: UInt64(type) * 31 + 5)
        // 19 rows: two full tiles and a partial one; 11 vectors: two passes of 4 and a partial one.
        let rows = 19, cols = 512, nVecs = 11
        let w = randomBlocks(type, rows * cols, &rng)
        let xs = (0..<nVecs).map { _ in randomActivations(cols, &rng) }
        let (xq, xqRowBytes) = Self.quantizedBatch(type, xs)
        var fast = [Float](repeating: .nan, count: nVecs * rows), naive = fast
        #expect(Self.run(vane_gemm_q_tiled, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &fast) == 0)
        #expect(Self.run(vane_gemm_q_tiled_naive, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &naive) == 0)
        let wv = dequantize(type, w, rows * cols)
        var mismatches = 0
        for v in 0..<nVecs {
            for r in 0..<rows {
                let scale = (0..<cols).reduce(0.0) { $0 + abs(wv[r * cols + $1] * Double(xs[v][$1])) }
                let (f, n) = (fast[v * rows + r], naive[v * rows + r])
                if !(abs(Double(f) - Double(n)) <= 1e-5 * scale) && mismatches < 5 {
                    mismatches += 1
                    Issue.record("type \(type) vector \(v) row \(r): SIMD \(f) vs portable \(n) (tol \(1e-5 * scale))")
                }
            }
        }
        Self.checkAgainstReferences(naive, w: wv, xs: xs, xq: xq, xqRowBytes: xqRowBytes, type: type, rows: rows,
                                    cols: cols, label: "type \(type)")
    }

    /// The AVX2 packer (legacy blocks unpacked and transposed in registers; K-quants transposed in registers) writes
    /// the portable packer's tile byte for byte: every type, 1 … 8 rows (partial tiles are zero-padded), 1 and 3
    /// blocks per row.
    @Test(.enabled(if: vane_kernel_set().map { String(cString: $0) } != "portable"), arguments: types)
    func avx2PackerWritesThePortableTile(type: UInt32) {
        var rng = SplitMix64(state: UInt64(type) * 7 + 11)
        let block = QType.layout[type]!.block
        for rows in 1...8 {
            for blocks in [1, 3] {
                let cols = blocks * block
                let w = randomBlocks(type, rows * cols, &rng)
                let differ = w.withUnsafeBytes {
                    vane_tile_pack_mismatches(Int32(type), $0.baseAddress, w.count / rows, Int32(rows), Int64(cols))
                }
                #expect(differ == 0, "type \(type), \(rows) rows × \(cols) values: \(differ) bytes or scale arrays differ")
            }
        }
    }

    /// Where the CPU has AVX-512 VNNI, vane_gemm_q_tiled runs those kernels; their results equal the AVX2 kernels'
    /// bit for bit (tolerance 0): 1 … 3 tiles of rows, full and partial, and 1 … 11 vectors. Elsewhere
    /// scripts/check-avx512-emulated.sh checks the same with the AVX-512 instructions emulated.
    @Test(.enabled(if: vane_cpu_has_avx512_vnni() != 0), arguments: types)
    func avx512TilesEqualAVX2Tiles(type: UInt32) {
        var rng = SplitMix64(state: UInt64(type) * 17 + 3)
        for (rows, nVecs) in [(8, 1), (19, 5), (3, 11), (24, 4)] {
            let cols = 512
            let w = randomBlocks(type, rows * cols, &rng)
            let (xq, xqRowBytes) = Self.quantizedBatch(type, (0..<nVecs).map { _ in randomActivations(cols, &rng) })
            var avx512 = [Float](repeating: .nan, count: nVecs * rows), avx2 = avx512
            #expect(Self.run(vane_gemm_q_tiled, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &avx512) == 0)
            #expect(Self.run(vane_gemm_q_tiled_avx2, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &avx2) == 0)
            let differing = (0..<avx2.count).filter { avx512[$0].bitPattern != avx2[$0].bitPattern }
            let first = differing.prefix(5).map { "[\($0)] \(avx512[$0]) vs \(avx2[$0])" }.joined(separator: ", ")
            #expect(differing.isEmpty, "type \(type), \(rows) rows × \(nVecs) vectors: \(differing.count) outputs differ, first \(first)")
        }
    }

    /// Rows are computed lane by lane, so any split of the row range gives the same bits, and a call writes only
    /// its range; vane_gemm_q hands batches of more than GEMM_TILED_MIN_VECS vectors to the tiled product.
    @Test(arguments: types)
    func rangesAndDispatch(type: UInt32) {
        var rng = SplitMix64(state: UInt64(type) + 1234)
        let rows = 21, cols = 256, nVecs = Int(GEMM_TILED_MIN_VECS) + 2
        let w = randomBlocks(type, rows * cols, &rng)
        let (xq, xqRowBytes) = Self.quantizedBatch(type, (0..<nVecs).map { _ in randomActivations(cols, &rng) })
        var whole = [Float](repeating: .nan, count: nVecs * rows)
        #expect(Self.run(vane_gemm_q_tiled, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &whole) == 0)
        var parts = [Float](repeating: .nan, count: nVecs * rows)
        _ = Self.run(vane_gemm_q_tiled, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, range: 3..<13, into: &parts)
        for v in 0..<nVecs {
            for r in 0..<rows where !(3..<13).contains(r) {
                #expect(parts[v * rows + r].isNaN, "type \(type): wrote row \(r) of vector \(v) outside rows 3..<13")
            }
        }
        _ = Self.run(vane_gemm_q_tiled, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, range: 0..<3, into: &parts)
        _ = Self.run(vane_gemm_q_tiled, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, range: 13..<rows, into: &parts)
        #expect(parts == whole, "type \(type): split row ranges differ from one call")
        var dispatched = [Float](repeating: .nan, count: nVecs * rows)
        #expect(Self.run(vane_gemm_q, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &dispatched) == 0)
        #expect(dispatched == whole, "type \(type): vane_gemm_q with \(nVecs) vectors is not the tiled product")
    }

    /// Batched decoding's product (vane_gemm_q_dots, one weight row against up to 4 vectors at a time) against one
    /// single-row dot per row and vector (vane_gemm_q_dots_single) at tolerance 0: every vector count from 1 to 17
    /// (full groups of 4 and each remainder), vectors whose activation blocks have different scales, split row
    /// ranges; and the result against the float64 references above. F16/BF16 take the single-row dots.
    @Test(arguments: types + [QType.f16, QType.bf16])
    func rowDotsMatchSingleRowDots(type: UInt32) {
        var rng = SplitMix64(state: UInt64(type) * 7 + 3)
        let rows = 13, cols = 768, maxVecs = 17
        let w = randomBlocks(type, rows * cols, &rng)
        let xs = (0..<maxVecs).map { v in randomActivations(cols, &rng).map { $0 * Float(1 + v % 5) } }
        let act = vane_activation_type_for(Int32(type))
        let (xq, xqRowBytes) = act == 0
            ? (xs.flatMap { $0.flatMap { withUnsafeBytes(of: $0) { Array($0) } } }, cols * 4)
            : Self.quantizedBatch(type, xs)
        var mismatches = 0
        for nVecs in 1...maxVecs {
            var rowDots = [Float](repeating: .nan, count: nVecs * rows), single = rowDots
            #expect(Self.run(vane_gemm_q_dots, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &rowDots) == 0)
            #expect(Self.run(vane_gemm_q_dots_single, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &single) == 0)
            for i in 0..<(nVecs * rows) where rowDots[i].bitPattern != single[i].bitPattern && mismatches < 5 {
                mismatches += 1
                Issue.record("type \(type), \(nVecs) vectors: vector \(i / rows) row \(i % rows): \(rowDots[i]) vs single-row dot \(single[i])")
            }
        }
        var whole = [Float](repeating: .nan, count: maxVecs * rows), parts = whole
        _ = Self.run(vane_gemm_q_dots, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: maxVecs, into: &whole)
        _ = Self.run(vane_gemm_q_dots, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: maxVecs, range: 4..<9, into: &parts)
        for v in 0..<maxVecs {
            for r in 0..<rows where !(4..<9).contains(r) {
                #expect(parts[v * rows + r].isNaN, "type \(type): wrote row \(r) of vector \(v) outside rows 4..<9")
            }
        }
        _ = Self.run(vane_gemm_q_dots, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: maxVecs, range: 0..<4, into: &parts)
        _ = Self.run(vane_gemm_q_dots, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: maxVecs, range: 9..<rows, into: &parts)
        #expect(parts.map(\.bitPattern) == whole.map(\.bitPattern), "type \(type): split row ranges differ from one call")
        // Q4_1/Q5_1 dots use the activation's f16-rounded s (QuantDotTests allows for it); the others are checked here.
        if act != 0 && type != QType.q4_1 && type != QType.q5_1 {
            Self.checkAgainstReferences(whole, w: dequantize(type, w, rows * cols), xs: xs, xq: xq, xqRowBytes: xqRowBytes,
                                        type: type, rows: rows, cols: cols, label: "row dots, type \(type)")
        }
    }

    /// Long rows: the row kernels convert the activations' block scales into a fixed buffer, a few vectors at a
    /// time (4 for 1024 Q4_1 blocks), and longer rows take the single-row dots; the same bits either way.
    @Test(arguments: [(QType.q4_1, 32 * 1000), (QType.q8_0, 32 * 1024), (QType.q5_0, 32 * 1025)])
    func longRowsInChunks(type: UInt32, cols: Int) {
        var rng = SplitMix64(state: UInt64(cols) + 17)
        let rows = 3, nVecs = 9
        let w = randomBlocks(type, rows * cols, &rng)
        let (xq, xqRowBytes) = Self.quantizedBatch(type, (0..<nVecs).map { _ in randomActivations(cols, &rng) })
        var rowDots = [Float](repeating: .nan, count: nVecs * rows), single = rowDots
        #expect(Self.run(vane_gemm_q_dots, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &rowDots) == 0)
        #expect(Self.run(vane_gemm_q_dots_single, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &single) == 0)
        #expect(rowDots.map(\.bitPattern) == single.map(\.bitPattern), "type \(type), \(cols) columns: \(rowDots) vs \(single)")
    }

    @Test func refusals() {
        let w = [UInt8](repeating: 0, count: 4096), xq = [UInt8](repeating: 0, count: 4096)
        var y = [Float](repeating: 0, count: 64)
        #expect(vane_gemm_q_tiled(Int32(QType.f16), w, 64, 2, 32, xq, 128, 8, &y, 0, 2) == -1, "F16 has no tiled kernel")
        #expect(vane_gemm_q_tiled(Int32(QType.q4_K), w, 144, 1, 128, xq, 292, 8, &y, 0, 1) == -1, "128 columns are not a Q4_K block")
        #expect(vane_gemm_q_tiled(Int32(QType.q4_0), w, 18, 2, 32, xq, 34, 8, &y, 1, 3) == -1, "row range past the end")
        for dots in [vane_gemm_q_dots, vane_gemm_q_dots_single] as [Gemm] {
            #expect(dots(Int32(QType.q8_1), w, 36, 1, 32, xq, 36, 4, &y, 0, 1) == -1, "Q8_1 weights have no kernel")
            #expect(dots(Int32(QType.q4_K), w, 144, 1, 128, xq, 292, 4, &y, 0, 1) == -1, "128 columns are not a Q4_K block")
            #expect(dots(Int32(QType.q4_0), w, 18, 2, 32, xq, 34, 4, &y, 1, 3) == -1, "row range past the end")
        }
    }

    /// quant-zoo.gguf: one [4, 512] tensor per type quantized by llama.cpp, against gguf-py's dequantization.
    @Test func quantZoo() throws {
        let zoo = try GGUFFile(url: Fixtures.url("quant-zoo.gguf"))
        let expected = try loadReference(Fixtures.url("quant-zoo.reference.safetensors")).mapValues(\.data)
        var rng = SplitMix64(state: 77)
        let xs = (0..<6).map { _ in randomActivations(512, &rng) }
        var checked = 0
        for t in zoo.tensors where Self.types.contains(t.type.rawValue) {
            let type = t.type.rawValue
            let ref = try #require(expected[t.name], "\(t.name) missing from the reference")
            let (xq, xqRowBytes) = Self.quantizedBatch(type, xs)
            for gemm in [vane_gemm_q_tiled, vane_gemm_q_tiled_naive] as [Gemm] {
                var y = [Float](repeating: .nan, count: 6 * 4)
                #expect(Self.run(gemm, type, Array(t.bytes), rows: 4, cols: 512, xq, xqRowBytes, nVecs: 6, into: &y) == 0)
                Self.checkAgainstReferences(y, w: ref.map(Double.init), xs: xs, xq: xq, xqRowBytes: xqRowBytes, type: type,
                                            rows: 4, cols: 512, label: t.name)
            }
            checked += 1
        }
        #expect(checked == Self.types.count, "quant-zoo.gguf: \(checked) quantized tensors, expected \(Self.types.count)")
    }
}

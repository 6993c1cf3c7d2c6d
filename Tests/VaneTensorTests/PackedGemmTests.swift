import CKernels
import Foundation
import Testing
import VaneModelIO
import VaneTestSupport

/// The product on legacy weights packed at load (quant_packed.c), which every fast-mode product of those types runs.
/// It must give the tiled product's bits (tolerance 0) for any vector count, from one token to a prompt, so that a
/// sequence decodes the same alone and in a batch, and prompt passes keep the tiled product's results; the tiled
/// product itself is checked against float64 references in QuantGemmTests.
@Suite struct PackedGemmTests {
    static let types = [QType.q4_0, QType.q4_1, QType.q5_0, QType.q5_1, QType.q8_0]

    typealias PackedGemm = @convention(c) (Int32, UnsafeRawPointer?, Int64, Int64, UnsafeRawPointer?, Int, Int64,
                                           UnsafeMutablePointer<Float>?, Int64, Int64) -> Int32

    static func run(_ gemm: PackedGemm, _ type: UInt32, _ p: [UInt8], rows: Int, cols: Int, _ xq: [UInt8],
                    _ xqRowBytes: Int, nVecs: Int, range: Range<Int>? = nil, into y: inout [Float]) -> Int32 {
        let r = range ?? 0..<rows
        return gemm(Int32(type), p, Int64(rows), Int64(cols), xq, xqRowBytes, Int64(nVecs), &y, Int64(r.lowerBound),
                    Int64(r.upperBound))
    }

    static func packed(_ type: UInt32, _ w: [UInt8], rows: Int, cols: Int) -> [UInt8] {
        var p = [UInt8](repeating: 0xa5, count: w.count)
        #expect(vane_pack_rows(Int32(type), w, Int64(rows), Int64(cols), &p) == 0)
        return p
    }

    static func first(_ a: [Float], _ b: [Float]) -> (count: Int, text: String) {
        let differing = (0..<a.count).filter { a[$0].bitPattern != b[$0].bitPattern }
        return (differing.count, differing.prefix(5).map { "[\($0)] \(a[$0]) vs \(b[$0])" }.joined(separator: ", "))
    }

    /// Packed (the SIMD kernel where the CPU has AVX2, and the portable one) against the tiled product on the stored
    /// rows: 3 groups of 8 rows, 1 … 9 and 17 vectors (passes of 4 and of 1), activation blocks of different scales.
    @Test(arguments: types)
    func packedEqualsTiles(type: UInt32) {
        var rng = SplitMix64(state: UInt64(type) * 13 + 1)
        let rows = 24, cols = 320
        let w = randomBlocks(type, rows * cols, &rng)
        let p = Self.packed(type, w, rows: rows, cols: cols)
        for nVecs in Array(1...9) + [17] {
            let xs = (0..<nVecs).map { v in randomActivations(cols, &rng).map { $0 * Float(1 + v % 3) } }
            let (xq, xqRowBytes) = QuantGemmTests.quantizedBatch(type, xs)
            var tiles = [Float](repeating: .nan, count: nVecs * rows), tilesNaive = tiles, fast = tiles, naive = tiles
            #expect(QuantGemmTests.run(vane_gemm_q_tiled, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &tiles) == 0)
            #expect(QuantGemmTests.run(vane_gemm_q_tiled_naive, type, w, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &tilesNaive) == 0)
            #expect(Self.run(vane_gemm_q_packed, type, p, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &fast) == 0)
            #expect(Self.run(vane_gemm_q_packed_naive, type, p, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &naive) == 0)
            let (n1, t1) = Self.first(fast, tiles), (n2, t2) = Self.first(naive, tilesNaive)
            #expect(n1 == 0, "type \(type), \(nVecs) vectors: \(n1) packed outputs differ from the tiled product's, first \(t1)")
            #expect(n2 == 0, "type \(type), \(nVecs) vectors: \(n2) portable packed outputs differ from the portable tiles', first \(t2)")
        }
    }

    /// Each vector's results are what it gets alone; split ranges of groups give one call's bits and a call writes
    /// only its range.
    @Test(arguments: types)
    func vectorsAndRangesAreIndependent(type: UInt32) {
        var rng = SplitMix64(state: UInt64(type) * 3 + 7)
        let rows = 32, cols = 256, nVecs = 7
        let w = randomBlocks(type, rows * cols, &rng)
        let p = Self.packed(type, w, rows: rows, cols: cols)
        let xs = (0..<nVecs).map { _ in randomActivations(cols, &rng) }
        let (xq, xqRowBytes) = QuantGemmTests.quantizedBatch(type, xs)
        var whole = [Float](repeating: .nan, count: nVecs * rows)
        _ = Self.run(vane_gemm_q_packed, type, p, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, into: &whole)
        for v in 0..<nVecs {
            var alone = [Float](repeating: .nan, count: rows)
            _ = Self.run(vane_gemm_q_packed, type, p, rows: rows, cols: cols,
                                   Array(xq[(v * xqRowBytes)..<((v + 1) * xqRowBytes)]), xqRowBytes, nVecs: 1, into: &alone)
            let (n, t) = Self.first(alone, Array(whole[(v * rows)..<((v + 1) * rows)]))
            #expect(n == 0, "type \(type): vector \(v) alone differs from it in a batch of \(nVecs) in \(n) rows, first \(t)")
        }
        var parts = [Float](repeating: .nan, count: nVecs * rows)
        _ = Self.run(vane_gemm_q_packed, type, p, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, range: 8..<24, into: &parts)
        for v in 0..<nVecs {
            for r in 0..<rows where !(8..<24).contains(r) {
                #expect(parts[v * rows + r].isNaN, "type \(type): wrote row \(r) of vector \(v) outside rows 8..<24")
            }
        }
        _ = Self.run(vane_gemm_q_packed, type, p, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, range: 0..<8, into: &parts)
        _ = Self.run(vane_gemm_q_packed, type, p, rows: rows, cols: cols, xq, xqRowBytes, nVecs: nVecs, range: 24..<rows, into: &parts)
        #expect(parts.map(\.bitPattern) == whole.map(\.bitPattern), "type \(type): split row ranges differ from one call")
    }

    /// quant-zoo.gguf's llama.cpp-quantized [4, 512] tensors, stacked twice into one group of 8 rows, packed: the
    /// tiled product's bits, and gguf-py's dequantization as the float64 reference.
    @Test func quantZoo() throws {
        let zoo = try GGUFFile(url: Fixtures.url("quant-zoo.gguf"))
        let expected = try loadReference(Fixtures.url("quant-zoo.reference.safetensors")).mapValues(\.data)
        var rng = SplitMix64(state: 78)
        let xs = (0..<5).map { _ in randomActivations(512, &rng) }
        var checked = 0
        for t in zoo.tensors where Self.types.contains(t.type.rawValue) {
            let type = t.type.rawValue
            let ref = try #require(expected[t.name], "\(t.name) missing from the reference")
            let w = Array(t.bytes) + Array(t.bytes)
            let (xq, xqRowBytes) = QuantGemmTests.quantizedBatch(type, xs)
            var tiles = [Float](repeating: .nan, count: 5 * 8), fast = tiles
            _ = QuantGemmTests.run(vane_gemm_q_tiled, type, w, rows: 8, cols: 512, xq, xqRowBytes, nVecs: 5, into: &tiles)
            #expect(Self.run(vane_gemm_q_packed, type, Self.packed(type, w, rows: 8, cols: 512), rows: 8, cols: 512,
                                       xq, xqRowBytes, nVecs: 5, into: &fast) == 0)
            let (n, text) = Self.first(fast, tiles)
            #expect(n == 0, "\(t.name): \(n) packed outputs differ from the tiled product's, first \(text)")
            QuantGemmTests.checkAgainstReferences(fast, w: (ref + ref).map(Double.init), xs: xs, xq: xq, xqRowBytes: xqRowBytes,
                                                  type: type, rows: 8, cols: 512, label: "packed \(t.name)")
            checked += 1
        }
        #expect(checked == Self.types.count, "quant-zoo.gguf: \(checked) legacy tensors, expected \(Self.types.count)")
    }

    @Test func refusals() {
        let w = [UInt8](repeating: 0, count: 4096), xq = [UInt8](repeating: 0, count: 4096)
        var p = w, y = [Float](repeating: 0, count: 256)
        #expect(vane_packs(Int32(QType.q4_0), 12, 32) == 0, "12 rows are not groups of 8")
        #expect(vane_packs(Int32(QType.q4_K), 8, 256) == 0, "K-quants are not packed")
        #expect(vane_packs(Int32(QType.q8_0), 8, 48) == 0, "48 columns are not whole blocks")
        #expect(vane_pack_rows(Int32(QType.q4_0), w, 12, 32, &p) == -1)
        #expect(vane_gemm_q_packed(Int32(QType.q4_0), p, 16, 32, xq, 34, 1, &y, 4, 16) == -1, "range not at a group")
        #expect(vane_gemm_q_packed(Int32(QType.q4_0), p, 16, 32, xq, 34, 1, &y, 8, 24) == -1, "range past the end")
        #expect(vane_gemm_q_packed(Int32(QType.q4_K), p, 8, 256, xq, 292, 1, &y, 0, 8) == -1, "Q4_K is not packed")
    }
}

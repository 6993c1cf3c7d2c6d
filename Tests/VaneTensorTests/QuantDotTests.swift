import CKernels
import Foundation
import Testing
import VaneModelIO
import VaneTestSupport

typealias QDot = @convention(c) (Int64, UnsafeRawPointer?, UnsafeRawPointer?) -> Float
typealias FDot = @convention(c) (Int64, UnsafeRawPointer?, UnsafePointer<Float>?) -> Float
typealias Quantize = @convention(c) (UnsafePointer<Float>?, UnsafeMutableRawPointer?, Int64) -> Void

/// The quantized kernels against their portable versions (tolerance 1e-5 of Σ|wᵢ·aᵢ|: only the float summation
/// order differs), and the portable versions against dequantize-both-operands references in QuantReference.swift
/// (1e-4 of Σ|wᵢ·aᵢ|), on random valid blocks and on the quant-zoo fixture's llama.cpp-quantized tensors.
@Suite struct QuantDotTests {
    /// Weight type → activation type and the dispatched (AVX2 where the CPU has it) and portable dots.
    static var kernels: [UInt32: (act: UInt32, fast: QDot, naive: QDot)] {
        [
            QType.q4_0: (QType.q8_0, vane_vec_dot_q4_0_q8_0, vane_vec_dot_q4_0_q8_0_naive),
            QType.q4_1: (QType.q8_1, vane_vec_dot_q4_1_q8_1, vane_vec_dot_q4_1_q8_1_naive),
            QType.q5_0: (QType.q8_0, vane_vec_dot_q5_0_q8_0, vane_vec_dot_q5_0_q8_0_naive),
            QType.q5_1: (QType.q8_1, vane_vec_dot_q5_1_q8_1, vane_vec_dot_q5_1_q8_1_naive),
            QType.q8_0: (QType.q8_0, vane_vec_dot_q8_0_q8_0, vane_vec_dot_q8_0_q8_0_naive),
            QType.q2_K: (QType.q8_K, vane_vec_dot_q2_K_q8_K, vane_vec_dot_q2_K_q8_K_naive),
            QType.q3_K: (QType.q8_K, vane_vec_dot_q3_K_q8_K, vane_vec_dot_q3_K_q8_K_naive),
            QType.q4_K: (QType.q8_K, vane_vec_dot_q4_K_q8_K, vane_vec_dot_q4_K_q8_K_naive),
            QType.q5_K: (QType.q8_K, vane_vec_dot_q5_K_q8_K, vane_vec_dot_q5_K_q8_K_naive),
            QType.q6_K: (QType.q8_K, vane_vec_dot_q6_K_q8_K, vane_vec_dot_q6_K_q8_K_naive),
        ]
    }

    static var quantizers: [UInt32: (fast: Quantize, naive: Quantize)] {
        [
            QType.q8_0: (vane_quantize_row_q8_0, vane_quantize_row_q8_0_naive),
            QType.q8_1: (vane_quantize_row_q8_1, vane_quantize_row_q8_1_naive),
            QType.q8_K: (vane_quantize_row_q8_K, vane_quantize_row_q8_K_naive),
        ]
    }

    static var floatKernels: [UInt32: (fast: FDot, naive: FDot)] {
        [QType.f16: (vane_vec_dot_f16_f32, vane_vec_dot_f16_f32_naive),
         QType.bf16: (vane_vec_dot_bf16_f32, vane_vec_dot_bf16_f32_naive)]
    }

    static func quantize(_ act: UInt32, _ x: [Float], naive: Bool = true) -> [UInt8] {
        let (bs, bb, _) = QType.layout[act]!
        var out = [UInt8](repeating: 0xAA, count: x.count / bs * bb)
        let q = naive ? quantizers[act]!.naive : quantizers[act]!.fast
        q(x, &out, Int64(x.count))
        return out
    }

    /// Σ wᵢ·aᵢ over the dequantized operands, and Σ|wᵢ·aᵢ|, plus, for Q8_1 activations, the rounding allowance of
    /// their f16 s field (the kernels use m·s per block where the reference sums m·aᵢ).
    static func reference(_ w: [Double], act: UInt32, _ a: [UInt8], mins: [Double] = []) -> (sum: Double, scale: Double, slack: Double) {
        let av = dequantize(act, a, w.count)
        var sum = 0.0, scale = 0.0
        for i in 0..<w.count { sum += w[i] * av[i]; scale += abs(w[i] * av[i]) }
        let slack = act == QType.q8_1 ? zip(mins, q8_1Sums(a, w.count)).reduce(0) { $0 + abs($1.0 * $1.1) } * 0x1p-9 : 0
        return (sum, scale, slack)
    }

    /// The m field of each Q4_1/Q5_1 block (empty for other types).
    static func mins(_ type: UInt32, _ w: [UInt8], _ n: Int) -> [Double] {
        guard type == QType.q4_1 || type == QType.q5_1 else { return [] }
        let bb = QType.layout[type]!.bytes
        return (0..<(n / 32)).map { Double(Float16(bitPattern: UInt16(w[bb * $0 + 2]) | UInt16(w[bb * $0 + 3]) << 8)) }
    }

    @Test func quantizersMatchPortableAndRoundTrip() {
        var rng = SplitMix64(state: 1)
        let n = 768
        var x = randomActivations(n, &rng)
        for i in 0..<32 { x[i] = 0 }          // an all-zero Q8_0/Q8_1 block
        x[300] = 25; x[301] = -25             // equal magnitudes of opposite sign: the first sets the Q8_K sign
        for i in 512..<768 { x[i] = 0 }       // an all-zero Q8_K block
        for act in [QType.q8_0, QType.q8_1, QType.q8_K] {
            let naive = Self.quantize(act, x), fast = Self.quantize(act, x, naive: false)
            let firstDiff = zip(naive, fast).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(firstDiff == nil, "type \(act): SIMD quantizer differs at byte \(firstDiff?.offset ?? -1)")

            // Each value comes back within half a step of its block (plus, for an f16 d, the rounding of d times
            // |q| ≤ 127), and a block's largest magnitude maps to ±127.
            let (bs, bb, _) = QType.layout[act]!
            let back = dequantize(act, naive, n)
            for blk in 0..<(n / bs) {
                let range = (blk * bs)..<(blk * bs + bs)
                let d = act == QType.q8_K
                    ? Double(Float(bitPattern: naive[(blk * bb)..<(blk * bb + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) }))
                    : Double(Float16(bitPattern: UInt16(naive[blk * bb]) | UInt16(naive[blk * bb + 1]) << 8))
                let worst = range.map { abs(back[$0] - Double(x[$0])) }.max()!
                let bound = abs(d) * (act == QType.q8_K ? 0.5001 : 0.5 + 127 * 0x1p-11)
                #expect(worst <= bound, "type \(act) block \(blk): error \(worst) > \(bound) (d = \(d))")
                let amax = range.map { abs(x[$0]) }.max()!
                if amax > 0 {
                    let top = range.first { abs(x[$0]) == amax }!
                    let q = Int8(bitPattern: naive[blk * bb + (act == QType.q8_0 ? 2 : 4) + top - blk * bs])
                    #expect(abs(Int(q)) == 127, "type \(act) block \(blk): largest value quantized to \(q)")
                }
            }
            if act == QType.q8_1 { // s = d·Σq, rounded to f16
                for (blk, s) in q8_1Sums(naive, n).enumerated() {
                    let exact = back[(blk * 32)..<(blk * 32 + 32)].reduce(0, +)
                    #expect(abs(s - exact) <= abs(exact) * 0x1p-10 + 1e-7, "q8_1 block \(blk): s \(s) vs Σ \(exact)")
                }
            }
            if act == QType.q8_K { // bsums: Σ of each 16 quants
                for blk in 0..<(n / 256) {
                    for g in 0..<16 {
                        let o = blk * 292 + 260 + 2 * g
                        let stored = Int(Int16(bitPattern: UInt16(naive[o]) | UInt16(naive[o + 1]) << 8))
                        let sum = (0..<16).reduce(0) { $0 + Int(Int8(bitPattern: naive[blk * 292 + 4 + 16 * g + $1])) }
                        #expect(stored == sum, "q8_K block \(blk) group \(g): bsum \(stored) vs \(sum)")
                    }
                }
            }
        }
    }

    @Test(arguments: [QType.q4_0, QType.q4_1, QType.q5_0, QType.q5_1, QType.q8_0,
                      QType.q2_K, QType.q3_K, QType.q4_K, QType.q5_K, QType.q6_K])
    func randomBlocksDot(type: UInt32) {
        let k = Self.kernels[type]!
        let bs = QType.layout[type]!.block
        var rng = SplitMix64(state: UInt64(type) * 1000)
        for blocks in [1, 2, 3, 8] {
            for trial in 0..<4 {
                let n = blocks * bs
                let w = randomBlocks(type, n, &rng)
                let a = Self.quantize(k.act, randomActivations(n, &rng))
                let naive = k.naive(Int64(n), w, a), fast = k.fast(Int64(n), w, a)
                let ref = Self.reference(dequantize(type, w, n), act: k.act, a, mins: Self.mins(type, w, n))
                let label = "type \(type) n \(n) trial \(trial)"
                #expect(abs(Double(fast) - Double(naive)) <= 1e-5 * ref.scale, "\(label): SIMD \(fast) vs portable \(naive)")
                #expect(abs(Double(naive) - ref.sum) <= 1e-4 * ref.scale + ref.slack, "\(label): portable \(naive) vs reference \(ref.sum)")
            }
        }
    }

    @Test(arguments: [QType.f16, QType.bf16])
    func floatWeightDot(type: UInt32) {
        let k = Self.floatKernels[type]!
        var rng = SplitMix64(state: UInt64(type) + 7)
        for n in [1, 7, 16, 19, 100, 515] {
            let w = randomBlocks(type, n, &rng), x = randomActivations(n, &rng)
            let wv = dequantize(type, w, n)
            let sum = (0..<n).reduce(0.0) { $0 + wv[$1] * Double(x[$1]) }
            let scale = (0..<n).reduce(0.0) { $0 + abs(wv[$1] * Double(x[$1])) }
            let naive = k.naive(Int64(n), w, x), fast = k.fast(Int64(n), w, x)
            #expect(abs(Double(fast) - Double(naive)) <= 1e-5 * scale, "type \(type) n \(n): SIMD \(fast) vs portable \(naive)")
            #expect(abs(Double(naive) - sum) <= 1e-5 * scale, "type \(type) n \(n): portable \(naive) vs reference \(sum)")
        }
    }

    /// quant-zoo.gguf holds one [4, 512] tensor per type, quantized by llama.cpp; the reference file holds gguf-py's
    /// dequantization of each (README: exact). This pins QuantReference's reading of every layout to an independent
    /// one, then checks the kernels' dots on these realistic blocks.
    @Test func quantZooDots() throws {
        let zoo = try GGUFFile(url: Fixtures.url("quant-zoo.gguf"))
        var tensors: [String: (type: UInt32, bytes: [UInt8])] = [:]
        for t in zoo.tensors { tensors[t.name] = (t.type.rawValue, Array(t.bytes)) }
        let expected = try loadReference(Fixtures.url("quant-zoo.reference.safetensors")).mapValues(\.data)
        var rng = SplitMix64(state: 42)
        let x = randomActivations(512, &rng)
        for (name, (type, bytes)) in tensors.sorted(by: { $0.key < $1.key }) {
            let ref = try #require(expected[name], "\(name) missing from the reference")
            let mine = dequantize(type, bytes, 4 * 512).map(Float.init)
            if let m = compare(mine, ref, atol: 0, rtol: 1e-6, label: "\(name) dequantized") { Issue.record(Comment(rawValue: m)) }

            let rowBytes = bytes.count / 4
            let act = UInt32(vane_activation_type_for(Int32(type)))
            var xq = [UInt8](repeating: 0, count: act == QType.f32 ? 2048 : 512 / QType.layout[act]!.block * QType.layout[act]!.bytes)
            #expect(vane_quantize_activation(Int32(act), x, &xq, 512) == 0)
            var y = [Float](repeating: .nan, count: 4)
            #expect(vane_gemv_q(Int32(type), bytes, rowBytes, 4, 512, xq, &y, 0, 4) == 0, "\(name): gemv refused")
            for r in 0..<4 {
                let row = Array(bytes[(r * rowBytes)..<((r + 1) * rowBytes)])
                let wv = ref[(r * 512)..<((r + 1) * 512)].map(Double.init)
                let (sum, scale, slack): (Double, Double, Double)
                if act == QType.f32 {
                    sum = (0..<512).reduce(0.0) { $0 + wv[$1] * Double(x[$1]) }
                    scale = (0..<512).reduce(0.0) { $0 + abs(wv[$1] * Double(x[$1])) }
                    slack = 0
                } else {
                    (sum, scale, slack) = Self.reference(wv, act: act, xq, mins: Self.mins(type, row, 512))
                    let naive = Self.kernels[type]!.naive(512, row, xq)
                    #expect(abs(Double(naive) - sum) <= 1e-4 * scale + slack, "\(name) row \(r): portable \(naive) vs \(sum)")
                }
                #expect(abs(Double(y[r]) - sum) <= 1e-4 * scale + slack, "\(name) row \(r): gemv \(y[r]) vs \(sum)")
            }
        }
        #expect(tensors.count == 13, "quant-zoo.gguf: \(tensors.count) tensors, expected 13")
    }

    /// The drivers compute exactly the per-row dots, touch only their row range, and the batched form equals one
    /// gemv per vector.
    @Test(arguments: [QType.f32, QType.f16, QType.bf16, QType.q4_0, QType.q4_1, QType.q5_0, QType.q5_1, QType.q8_0,
                      QType.q2_K, QType.q3_K, QType.q4_K, QType.q5_K, QType.q6_K])
    func driverRowsAndBatches(type: UInt32) {
        let rows = 7, cols = 512, nVecs = 3
        var rng = SplitMix64(state: UInt64(type) + 99)
        let (bs, bb, _) = QType.layout[type]!
        let rowBytes = cols / bs * bb
        let w = randomBlocks(type, rows * cols, &rng)
        let act = vane_activation_type_for(Int32(type))
        let actBytes = act == 0 ? cols * 4 : cols / QType.layout[UInt32(act)]!.block * QType.layout[UInt32(act)]!.bytes
        var xq = [UInt8](repeating: 0, count: nVecs * actBytes)
        for v in 0..<nVecs {
            let x = randomActivations(cols, &rng)
            xq.withUnsafeMutableBytes { #expect(vane_quantize_activation(act, x, $0.baseAddress! + v * actBytes, Int64(cols)) == 0) }
        }
        let xv = (0..<nVecs).map { Array(xq[($0 * actBytes)..<(($0 + 1) * actBytes)]) }

        var full = [Float](repeating: .nan, count: rows)
        #expect(vane_gemv_q(Int32(type), w, rowBytes, Int64(rows), Int64(cols), xv[0], &full, 0, Int64(rows)) == 0)
        let perRow: [Float] = (0..<rows).map { r in
            let row = Array(w[(r * rowBytes)..<((r + 1) * rowBytes)])
            if type == QType.f32 { return xv[0].withUnsafeBytes { vane_dot_f32(row.withUnsafeBytes { $0.bindMemory(to: Float.self).baseAddress }, $0.bindMemory(to: Float.self).baseAddress, cols) } }
            if let f = Self.floatKernels[type] { return xv[0].withUnsafeBytes { f.fast(Int64(cols), row, $0.bindMemory(to: Float.self).baseAddress) } }
            return Self.kernels[type]!.fast(Int64(cols), row, xv[0])
        }
        #expect(full == perRow, "type \(type): gemv \(full) vs per-row dots \(perRow)")

        var parts = [Float](repeating: .nan, count: rows)
        _ = vane_gemv_q(Int32(type), w, rowBytes, Int64(rows), Int64(cols), xv[0], &parts, 2, 5)
        #expect(parts[0].isNaN && parts[1].isNaN && parts[5].isNaN && parts[6].isNaN, "type \(type): wrote outside rows 2..<5")
        _ = vane_gemv_q(Int32(type), w, rowBytes, Int64(rows), Int64(cols), xv[0], &parts, 0, 2)
        _ = vane_gemv_q(Int32(type), w, rowBytes, Int64(rows), Int64(cols), xv[0], &parts, 5, Int64(rows))
        #expect(parts == full, "type \(type): split ranges \(parts) vs one call \(full)")

        var batched = [Float](repeating: .nan, count: nVecs * rows)
        #expect(vane_gemm_q(Int32(type), w, rowBytes, Int64(rows), Int64(cols), xq, actBytes, Int64(nVecs), &batched, 0, Int64(rows)) == 0)
        for v in 0..<nVecs {
            var single = [Float](repeating: .nan, count: rows)
            _ = vane_gemv_q(Int32(type), w, rowBytes, Int64(rows), Int64(cols), xv[v], &single, 0, Int64(rows))
            #expect(Array(batched[(v * rows)..<((v + 1) * rows)]) == single, "type \(type) vector \(v): batched vs single")
        }
    }

    @Test func activationTypesAndRefusals() {
        let expected: [UInt32: Int32] = [
            QType.f32: 0, QType.f16: 0, QType.bf16: 0, QType.q4_0: 8, QType.q5_0: 8, QType.q8_0: 8, QType.q4_1: 9,
            QType.q5_1: 9, QType.q2_K: 15, QType.q3_K: 15, QType.q4_K: 15, QType.q5_K: 15, QType.q6_K: 15,
            QType.q8_1: -1, QType.q8_K: -1, 99: -1,
        ]
        for (type, act) in expected { #expect(vane_activation_type_for(Int32(type)) == act, "weight type \(type)") }
        let w = [UInt8](repeating: 0, count: 4096), xq = [UInt8](repeating: 0, count: 4096)
        var y = [Float](repeating: 0, count: 4)
        #expect(vane_gemv_q(Int32(QType.q8_1), w, 36, 1, 32, xq, &y, 0, 1) == -1, "Q8_1 weights have no kernel")
        #expect(vane_gemv_q(Int32(QType.q4_K), w, 144, 1, 128, xq, &y, 0, 1) == -1, "128 columns are not a Q4_K block")
        #expect(vane_gemv_q(Int32(QType.q4_0), w, 18, 2, 32, xq, &y, 1, 3) == -1, "row range past the end")
        #expect(vane_quantize_activation(Int32(QType.q8_0), [Float](repeating: 1, count: 40), &y, 40) == -1)
    }
}

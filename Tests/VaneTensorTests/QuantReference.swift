import Foundation

// Float references for the quantized kernels, written from the block layouts of ggml-common.h (byte offsets
// below) rather than from the C kernels: dequantize both operands to Double and sum the products.

/// ggml type ids used by the tests (GGMLType raw values).
enum QType {
    static let f32: UInt32 = 0, f16: UInt32 = 1, q4_0: UInt32 = 2, q4_1: UInt32 = 3, q5_0: UInt32 = 6, q5_1: UInt32 = 7
    static let q8_0: UInt32 = 8, q8_1: UInt32 = 9, q2_K: UInt32 = 10, q3_K: UInt32 = 11, q4_K: UInt32 = 12
    static let q5_K: UInt32 = 13, q6_K: UInt32 = 14, q8_K: UInt32 = 15, bf16: UInt32 = 30

    /// (values per block, bytes per block, offsets of the f16 scale fields) per type.
    static let layout: [UInt32: (block: Int, bytes: Int, f16Fields: [Int])] = [
        f32: (1, 4, []), f16: (1, 2, []), bf16: (1, 2, []),
        q4_0: (32, 18, [0]), q4_1: (32, 20, [0, 2]), q5_0: (32, 22, [0]), q5_1: (32, 24, [0, 2]),
        q8_0: (32, 34, [0]), q8_1: (32, 36, [0, 2]), q8_K: (256, 292, []),
        q2_K: (256, 84, [80, 82]), q3_K: (256, 110, [108]), q4_K: (256, 144, [0, 2]), q5_K: (256, 176, [0, 2]),
        q6_K: (256, 210, [208]),
    ]
}

/// Deterministic generator (SplitMix64), so a failure reproduces.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func f16(_ b: [UInt8], _ o: Int) -> Double {
    Double(Float16(bitPattern: UInt16(b[o]) | UInt16(b[o + 1]) << 8))
}

private func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + $1]) << (8 * $1) }
}

private func i8(_ b: [UInt8], _ o: Int) -> Double { Double(Int8(bitPattern: b[o])) }

/// The `n` values of type `type` stored in `b`. For Q8_1 only d·q (its s field is read by `q8_1Sums`).
func dequantize(_ type: UInt32, _ b: [UInt8], _ n: Int) -> [Double] {
    let (bs, bb, _) = QType.layout[type]!
    var out = [Double](repeating: 0, count: n)
    for blk in 0..<(n / bs) {
        let o = blk * bb
        for j in 0..<bs { out[blk * bs + j] = value(type, b, o, j) }
    }
    return out
}

/// Value j of the block of type `type` at byte o.
private func value(_ type: UInt32, _ b: [UInt8], _ o: Int, _ j: Int) -> Double {
    // Legacy 4/5-bit blocks: value j < 16 is the low nibble of qs[j], value j ≥ 16 the high nibble of qs[j − 16].
    func nib(_ qs: Int) -> Int { Int(j < 16 ? b[qs + j] & 15 : b[qs + j - 16] >> 4) }
    func bit5(_ qh: Int) -> Int { Int((u32(b, qh) >> UInt32(j)) & 1) << 4 }
    // K-quant plane positions: half h = j / 128, 2-bit plane k = j % 128 / 32, lane l = j % 32.
    let h = j / 128, k = j % 128 / 32, l = j % 32
    switch type {
    case QType.f32: return Double(Float(bitPattern: u32(b, o)))
    case QType.f16: return f16(b, o)
    case QType.bf16: return Double(Float(bitPattern: UInt32(b[o]) << 16 | UInt32(b[o + 1]) << 24))
    case QType.q4_0: return f16(b, o) * Double(nib(o + 2) - 8)
    case QType.q4_1: return f16(b, o) * Double(nib(o + 4)) + f16(b, o + 2)
    case QType.q5_0: return f16(b, o) * Double((nib(o + 6) | bit5(o + 2)) - 16)
    case QType.q5_1: return f16(b, o) * Double(nib(o + 8) | bit5(o + 4)) + f16(b, o + 2)
    case QType.q8_0: return f16(b, o) * i8(b, o + 2 + j)
    case QType.q8_1: return f16(b, o) * i8(b, o + 4 + j)
    case QType.q8_K: return Double(Float(bitPattern: u32(b, o))) * i8(b, o + 4 + j)
    case QType.q2_K: // scales[16] @0 (low nibble scale, high nibble min, per 16 values), qs[64] @16, d @80, dmin @82
        let q = Int(b[o + 16 + 32 * h + l] >> (2 * k)) & 3, sc = b[o + j / 16]
        return f16(b, o + 80) * Double(sc & 15) * Double(q) - f16(b, o + 82) * Double(sc >> 4)
    case QType.q3_K: // hmask[32] @0, qs[64] @32, scales[12] @96, d @108
        // 16 scales of 6 bits: four u32 words, low nibbles from bytes 0–7, two high bits each from bytes 8–11.
        let a0 = u32(b, o + 96), a1 = u32(b, o + 100), t = u32(b, o + 104), m4: UInt32 = 0x0f0f_0f0f, m2: UInt32 = 0x0303_0303
        let words = [a0 & m4 | (t & m2) << 4, a1 & m4 | (t >> 2 & m2) << 4,
                     a0 >> 4 & m4 | (t >> 4 & m2) << 4, a1 >> 4 & m4 | (t >> 6 & m2) << 4]
        let scale = Int((words[j / 64] >> (8 * UInt32(j / 16 % 4))) & 0xff) - 32
        let low = Int(b[o + 32 + 32 * h + l] >> (2 * k)) & 3, high = Int(b[o + l] >> (j / 32)) & 1
        return f16(b, o + 108) * Double(scale) * Double(low - (high == 1 ? 0 : 4))
    case QType.q4_K, QType.q5_K: // d @0, dmin @2, scales[12] @4, (q5_K: qh[32] @16), qs[128] after
        let s = o + 4, sub = j / 32
        let sc = sub < 4 ? Int(b[s + sub] & 63) : Int(b[s + sub + 4] & 15) | Int(b[s + sub - 4] >> 6) << 4
        let mn = sub < 4 ? Int(b[s + sub + 4] & 63) : Int(b[s + sub + 4] >> 4) | Int(b[s + sub] >> 6) << 4
        let qs = o + (type == QType.q4_K ? 16 : 48)
        var q = Int(b[qs + 32 * (j / 64) + l] >> (sub % 2 == 0 ? 0 : 4)) & 15
        if type == QType.q5_K { q |= (Int(b[o + 16 + l] >> sub) & 1) << 4 }
        return f16(b, o) * Double(sc) * Double(q) - f16(b, o + 2) * Double(mn)
    case QType.q6_K: // ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208
        let low = Int(b[o + 64 * h + l + 32 * (k % 2)] >> (4 * (k / 2))) & 15
        let high = Int(b[o + 128 + 32 * h + l] >> (2 * k)) & 3
        return f16(b, o + 208) * i8(b, o + 192 + j / 16) * Double((low | high << 4) - 32)
    default: fatalError("no reference for type \(type)")
    }
}

/// The stored s (= d·Σq, as f16) of each Q8_1 block.
func q8_1Sums(_ b: [UInt8], _ n: Int) -> [Double] { (0..<(n / 32)).map { f16(b, 36 * $0 + 2) } }

/// Random valid blocks: random bytes, with every f16 scale field replaced by a finite value of either sign; for
/// float types, finite random values.
func randomBlocks(_ type: UInt32, _ n: Int, _ rng: inout SplitMix64) -> [UInt8] {
    let (bs, bb, fields) = QType.layout[type]!
    var b = (0..<(n / bs * bb)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    for blk in 0..<(n / bs) {
        for f in fields {
            let bits = Float16(Float.random(in: -0.05...0.05, using: &rng)).bitPattern
            b[blk * bb + f] = UInt8(bits & 0xff)
            b[blk * bb + f + 1] = UInt8(bits >> 8)
        }
    }
    if bs > 1 { return b }
    for i in stride(from: 0, to: b.count, by: bb) { // float types: finite values in ±[0.25, 4)
        let v = Float.random(in: 0.25..<4, using: &rng) * (Bool.random(using: &rng) ? 1 : -1)
        let bits = type == QType.f32 ? v.bitPattern : UInt32(type == QType.f16 ? Float16(v).bitPattern : UInt16(v.bitPattern >> 16))
        for k in 0..<bb { b[i + k] = UInt8(truncatingIfNeeded: bits >> (8 * k)) }
    }
    return b
}

/// Activations with magnitudes spread over two decades, of both signs.
func randomActivations(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
    (0..<n).map { _ in Float.random(in: -1...1, using: &rng) * Float.random(in: 0.1...10, using: &rng) }
}

/// Q3_K — 256 values in 110 bytes (ggml `block_q3_K`), 16 sub-blocks of 16 values:
///
///     offset  size  field
///          0    32  hmask   third bits: bit s of byte l belongs to value 32s + l
///         32    64  qs      low 2 bits
///         96    12  scales  16 signed 6-bit sub-block scales, stored +32 (see below)
///        108     2  d       F16 super-block scale
///
/// Scale i's low 4 bits are the low nibble of scales[i] for i < 8, the high nibble of scales[i − 8] otherwise; its
/// high 2 bits are bits 2·(i / 4) … +1 of scales[8 + i % 4].
/// The block is two halves of 128 values. Half h reads qs[32h ..< 32h + 32]; its value 32s + l (s = 0…3,
/// l = 0…31) has low bits at shift 2s of that byte, in sub-block 8h + 2s + l/16, and its hmask bit is bit 4h + s.
/// value = d · (scale − 32) · (q − (hmask bit set ? 0 : 4)).
enum BlockQ3_K {
    static let hmask = 0
    static let qs = 32
    static let scales = 96
    static let d = 108
    static let bytes = 110
}

func dequantizeQ3_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ3_K.bytes == GGMLType.q3_K.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ3_K.bytes
        var y = dst + b * 256
        let d = loadHalf(block, BlockQ3_K.d, half)
        let hmask = block + BlockQ3_K.hmask
        var sub = 0
        for h in 0..<2 {
            let q = block + BlockQ3_K.qs + 32 * h
            for s in 0..<4 {
                let mask = UInt8(1) << UInt8(4 * h + s)
                for part in 0..<2 {
                    let dl = d * Float(q3KScale(block + BlockQ3_K.scales, sub))
                    sub += 1
                    for l in (16 * part)..<(16 * part + 16) {
                        let low = Int32((byte(q, l) >> UInt8(2 * s)) & 3)
                        let offset: Int32 = byte(hmask, l) & mask != 0 ? 0 : 4
                        y[l - 16 * part] = dl * Float(low - offset)
                    }
                    y += 16
                }
            }
        }
    }
}

/// Sub-block `i`'s scale, unpacked from the 12 scale bytes and unbiased (−32…31).
@inline(__always)
func q3KScale(_ scales: UnsafeRawPointer, _ i: Int) -> Int32 {
    let low = i < 8 ? byte(scales, i) & 0x0F : byte(scales, i - 8) >> 4
    let high = (byte(scales, 8 + i % 4) >> UInt8(2 * (i / 4))) & 3
    return Int32(low | high << 4) - 32
}

/// Q6_K — 256 values in 210 bytes (ggml `block_q6_K`), 16 sub-blocks of 16 values:
///
///     offset  size  field
///          0   128  ql      low 4 bits
///        128    64  qh      high 2 bits
///        192    16  scales  signed 8-bit sub-block scales
///        208     2  d       F16 super-block scale
///
/// The block is two halves of 128 values; half h reads ql[64h ..< 64h + 64] and qh[32h ..< 32h + 32]. For
/// l = 0…31 and k = 0…3, value 128h + 32k + l has low bits from ql[64h + l + 32·(k & 1)] (low nibble for k < 2,
/// high nibble otherwise) and high bits at shift 2k of qh[32h + l]; it is in sub-block 8h + 2k + l/16.
/// value = d · scale · (q − 32), q ∈ 0…63.
enum BlockQ6_K {
    static let ql = 0
    static let qh = 128
    static let scales = 192
    static let d = 208
    static let bytes = 210
}

func dequantizeQ6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ6_K.bytes == GGMLType.q6_K.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ6_K.bytes
        let d = loadHalf(block, BlockQ6_K.d, half)
        for h in 0..<2 {
            let ql = block + BlockQ6_K.ql + 64 * h
            let qh = block + BlockQ6_K.qh + 32 * h
            let out = dst + b * 256 + 128 * h
            for k in 0..<4 {
                let shift = UInt8(k < 2 ? 0 : 4)
                for l in 0..<32 {
                    let scale = block.load(fromByteOffset: BlockQ6_K.scales + 8 * h + 2 * k + l / 16, as: Int8.self)
                    let low = (byte(ql, l + 32 * (k & 1)) >> shift) & 0x0F
                    let high = (byte(qh, l) >> UInt8(2 * k)) & 3
                    out[32 * k + l] = d * Float(scale) * Float(Int32(low | high << 4) - 32)
                }
            }
        }
    }
}

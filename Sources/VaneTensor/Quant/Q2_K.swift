/// Q2_K — 256 values in 84 bytes (ggml `block_q2_K`), 16 sub-blocks of 16 values:
///
///     offset  size  field
///          0    16  scales  per sub-block: low nibble = scale, high nibble = min, both 4-bit
///         16    64  qs      2-bit quants
///         80     2  d       F16 super-block scale of the scales
///         82     2  dmin    F16 super-block scale of the mins
///
/// The block is two halves of 128 values. Half h reads qs[32h ..< 32h + 32]; its value 32s + l (s = 0…3,
/// l = 0…31) is the 2 bits at shift 2s of byte l, in sub-block 8h + 2s + l/16.
/// value = d · scale · q − dmin · min.
enum BlockQ2_K {
    static let scales = 0
    static let qs = 16
    static let d = 80
    static let dmin = 82
    static let bytes = 84
}

func dequantizeQ2_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ2_K.bytes == GGMLType.q2_K.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ2_K.bytes
        var y = dst + b * 256
        let d = loadHalf(block, BlockQ2_K.d, half)
        let dmin = loadHalf(block, BlockQ2_K.dmin, half)
        var sub = 0
        for h in 0..<2 {
            let q = block + BlockQ2_K.qs + 32 * h
            for shift in stride(from: 0, to: 8, by: 2) {
                for part in 0..<2 {
                    let sm = byte(block, BlockQ2_K.scales + sub)
                    sub += 1
                    let dl = d * Float(sm & 0x0F)
                    let ml = dmin * Float(sm >> 4)
                    for l in 0..<16 {
                        y[l] = dl * Float((byte(q, 16 * part + l) >> UInt8(shift)) & 3) - ml
                    }
                    y += 16
                }
            }
        }
    }
}

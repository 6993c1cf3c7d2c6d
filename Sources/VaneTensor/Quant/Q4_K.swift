/// Q4_K — 256 values in 144 bytes (ggml `block_q4_K`), 8 sub-blocks of 32 values:
///
///     offset  size  field
///          0     2  d       F16 super-block scale of the scales
///          2     2  dmin    F16 super-block scale of the mins
///          4    12  scales  8 scales and 8 mins, 6 bits each (packing below)
///         16   128  qs      4-bit quants
///
/// Scale/min packing (`get_scale_min_k4`): for j < 4, scale j = scales[j] & 63 and min j = scales[j + 4] & 63; for
/// j ≥ 4, scale j = (scales[j + 4] & 15) | (scales[j − 4] >> 6) << 4 and min j = (scales[j + 4] >> 4) |
/// (scales[j] >> 6) << 4.
/// Values 64c ..< 64c + 64 come from qs[32c ..< 32c + 32]: the low nibbles are sub-block 2c, the high nibbles 2c + 1.
/// value = d · scale · q − dmin · min.
enum BlockQ4_K {
    static let d = 0
    static let dmin = 2
    static let scales = 4
    static let qs = 16
    static let bytes = 144
}

func dequantizeQ4_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ4_K.bytes == GGMLType.q4_K.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ4_K.bytes
        let y = dst + b * 256
        let d = loadHalf(block, BlockQ4_K.d, half)
        let dmin = loadHalf(block, BlockQ4_K.dmin, half)
        for c in 0..<4 {
            let (sc0, m0) = kScaleMin(block + BlockQ4_K.scales, 2 * c)
            let (sc1, m1) = kScaleMin(block + BlockQ4_K.scales, 2 * c + 1)
            let d0 = d * Float(sc0), min0 = dmin * Float(m0)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let q = block + BlockQ4_K.qs + 32 * c
            let out = y + 64 * c
            for l in 0..<32 {
                let v = byte(q, l)
                out[l] = d0 * Float(v & 0x0F) - min0
                out[l + 32] = d1 * Float(v >> 4) - min1
            }
        }
    }
}

/// Scale and min of sub-block `j` (0…7) from the 12 packed bytes shared by Q4_K and Q5_K.
@inline(__always)
func kScaleMin(_ scales: UnsafeRawPointer, _ j: Int) -> (UInt8, UInt8) {
    if j < 4 {
        return (byte(scales, j) & 63, byte(scales, j + 4) & 63)
    }
    let scale = (byte(scales, j + 4) & 0x0F) | (byte(scales, j - 4) >> 6) << 4
    let min = (byte(scales, j + 4) >> 4) | (byte(scales, j) >> 6) << 4
    return (scale, min)
}

/// Q5_K — 256 values in 176 bytes (ggml `block_q5_K`), 8 sub-blocks of 32 values:
///
///     offset  size  field
///          0     2  d       F16 super-block scale of the scales
///          2     2  dmin    F16 super-block scale of the mins
///          4    12  scales  8 scales and 8 mins, 6 bits each, packed as in Q4_K
///         16    32  qh      fifth bits: bit k of byte l belongs to value 32k + l
///         48   128  qs      low 4 bits, as Q4_K's quants
///
/// value = d · scale · q − dmin · min, q ∈ 0…31.
enum BlockQ5_K {
    static let d = 0
    static let dmin = 2
    static let scales = 4
    static let qh = 16
    static let qs = 48
    static let bytes = 176
}

func dequantizeQ5_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ5_K.bytes == GGMLType.q5_K.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ5_K.bytes
        let y = dst + b * 256
        let d = loadHalf(block, BlockQ5_K.d, half)
        let dmin = loadHalf(block, BlockQ5_K.dmin, half)
        let qh = block + BlockQ5_K.qh
        for c in 0..<4 {
            let (sc0, m0) = kScaleMin(block + BlockQ5_K.scales, 2 * c)
            let (sc1, m1) = kScaleMin(block + BlockQ5_K.scales, 2 * c + 1)
            let d0 = d * Float(sc0), min0 = dmin * Float(m0)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let q = block + BlockQ5_K.qs + 32 * c
            let out = y + 64 * c
            for l in 0..<32 {
                let v = byte(q, l)
                let high = byte(qh, l) >> UInt8(2 * c)
                out[l] = d0 * Float((v & 0x0F) | (high & 1) << 4) - min0
                out[l + 32] = d1 * Float((v >> 4) | (high & 2) << 3) - min1
            }
        }
    }
}

/// Q5_1 — 32 values in 24 bytes (ggml `block_q5_1`):
///
///     offset  size  field
///          0     2  d       F16 scale
///          2     2  m       F16 minimum
///          4     4  qh      fifth bits, a little-endian u32: bit j belongs to value j
///          8    16  qs      low 4 bits: byte j holds value j in its low nibble and value j + 16 in its high one
///
/// value = q · d + m, q ∈ 0…31.
enum BlockQ5_1 {
    static let d = 0
    static let m = 2
    static let qh = 4
    static let qs = 8
    static let bytes = 24
}

func dequantizeQ5_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ5_1.bytes == GGMLType.q5_1.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ5_1.bytes
        let y = dst + b * 32
        let d = loadHalf(block, BlockQ5_1.d, half)
        let m = loadHalf(block, BlockQ5_1.m, half)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: BlockQ5_1.qh, as: UInt32.self))
        for j in 0..<16 {
            let q = UInt32(byte(block, BlockQ5_1.qs + j))
            let q0 = (q & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
            let q1 = (q >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = Float(q0) * d + m
            y[j + 16] = Float(q1) * d + m
        }
    }
}

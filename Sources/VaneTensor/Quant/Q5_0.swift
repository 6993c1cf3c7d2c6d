/// Q5_0 — 32 values in 22 bytes (ggml `block_q5_0`):
///
///     offset  size  field
///          0     2  d       F16 scale
///          2     4  qh      fifth bits, a little-endian u32: bit j belongs to value j
///          6    16  qs      low 4 bits: byte j holds value j in its low nibble and value j + 16 in its high one
///
/// value = (q − 16) · d, q ∈ 0…31.
enum BlockQ5_0 {
    static let d = 0
    static let qh = 2
    static let qs = 6
    static let bytes = 22
}

func dequantizeQ5_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ5_0.bytes == GGMLType.q5_0.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ5_0.bytes
        let y = dst + b * 32
        let d = loadHalf(block, BlockQ5_0.d, half)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: BlockQ5_0.qh, as: UInt32.self))
        for j in 0..<16 {
            let q = UInt32(byte(block, BlockQ5_0.qs + j))
            let q0 = (q & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
            let q1 = (q >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = Float(Int32(q0) - 16) * d
            y[j + 16] = Float(Int32(q1) - 16) * d
        }
    }
}

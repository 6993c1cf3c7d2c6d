/// Q8_K — 256 values in 292 bytes (ggml `block_q8_K`), the activation type of the K-quant dot products:
///
///     offset  size  field
///          0     4  d       F32 scale
///          4   256  qs      signed 8-bit quants
///        260    32  bsums   16 little-endian i16 sums of groups of 16 quants (for dot products; not needed here)
///
/// value = q · d.
enum BlockQ8_K {
    static let d = 0
    static let qs = 4
    static let bsums = 260
    static let bytes = 292
}

func dequantizeQ8_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int) {
    assert(BlockQ8_K.bytes == GGMLType.q8_K.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ8_K.bytes
        let y = dst + b * 256
        let d = block.loadUnaligned(fromByteOffset: BlockQ8_K.d, as: Float.self)
        for j in 0..<256 {
            y[j] = Float(block.load(fromByteOffset: BlockQ8_K.qs + j, as: Int8.self)) * d
        }
    }
}

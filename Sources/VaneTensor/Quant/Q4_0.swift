/// Q4_0 — 32 values in 18 bytes (ggml `block_q4_0`):
///
///     offset  size  field
///          0     2  d       F16 scale
///          2    16  qs      4-bit quants: byte j holds value j in its low nibble and value j + 16 in its high one
///
/// value = (q − 8) · d, q ∈ 0…15.
enum BlockQ4_0 {
    static let d = 0
    static let qs = 2
    static let bytes = 18
}

func dequantizeQ4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ4_0.bytes == GGMLType.q4_0.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ4_0.bytes
        let y = dst + b * 32
        let d = loadHalf(block, BlockQ4_0.d, half)
        for j in 0..<16 {
            let q = byte(block, BlockQ4_0.qs + j)
            y[j] = Float(Int32(q & 0x0F) - 8) * d
            y[j + 16] = Float(Int32(q >> 4) - 8) * d
        }
    }
}

/// Quantizes `count` values (a multiple of 32) to Q4_0 as ggml's `quantize_row_q4_0_ref` does: per block, the
/// value of largest magnitude `max` (the first such) sets d = max / −8, and q = min(15, trunc(x / d + 8.5)).
public func quantizeQ4_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
    precondition(count % 32 == 0, "quantizeQ4_0: \(count) values is not a whole number of 32-value blocks")
    for b in 0..<(count / 32) {
        let x = src + b * 32
        let block = dst + b * BlockQ4_0.bytes
        var amax: Float = 0
        var max: Float = 0
        for j in 0..<32 where amax < abs(x[j]) {
            amax = abs(x[j])
            max = x[j]
        }
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        block.storeBytes(of: floatToHalf(d), toByteOffset: BlockQ4_0.d, as: UInt16.self)
        for j in 0..<16 {
            let lo = nibble(x[j] * id + 8.5)
            let hi = nibble(x[j + 16] * id + 8.5)
            block.storeBytes(of: lo | hi << 4, toByteOffset: BlockQ4_0.qs + j, as: UInt8.self)
        }
    }
}

/// C's `MIN(15, (int8_t)v)` for the v ≥ 0 that the quantizers produce; NaN (from NaN input) becomes 0 instead of
/// undefined behaviour.
@inline(__always)
func nibble(_ v: Float) -> UInt8 {
    v >= 15 ? 15 : (v > 0 ? UInt8(v) : 0)
}

/// Q4_1 — 32 values in 20 bytes (ggml `block_q4_1`):
///
///     offset  size  field
///          0     2  d       F16 scale
///          2     2  m       F16 minimum
///          4    16  qs      4-bit quants: byte j holds value j in its low nibble and value j + 16 in its high one
///
/// value = q · d + m, q ∈ 0…15.
enum BlockQ4_1 {
    static let d = 0
    static let m = 2
    static let qs = 4
    static let bytes = 20
}

func dequantizeQ4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ4_1.bytes == GGMLType.q4_1.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ4_1.bytes
        let y = dst + b * 32
        let d = loadHalf(block, BlockQ4_1.d, half)
        let m = loadHalf(block, BlockQ4_1.m, half)
        for j in 0..<16 {
            let q = byte(block, BlockQ4_1.qs + j)
            y[j] = Float(q & 0x0F) * d + m
            y[j + 16] = Float(q >> 4) * d + m
        }
    }
}

/// Quantizes `count` values (a multiple of 32) to Q4_1 as ggml's `quantize_row_q4_1_ref` does: per block,
/// d = (max − min) / 15, m = min, q = min(15, trunc((x − min) / d + 0.5)).
public func quantizeQ4_1(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
    precondition(count % 32 == 0, "quantizeQ4_1: \(count) values is not a whole number of 32-value blocks")
    for b in 0..<(count / 32) {
        let x = src + b * 32
        let block = dst + b * BlockQ4_1.bytes
        var lo = Float.greatestFiniteMagnitude
        var hi = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            if x[j] < lo { lo = x[j] }
            if x[j] > hi { hi = x[j] }
        }
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        block.storeBytes(of: floatToHalf(d), toByteOffset: BlockQ4_1.d, as: UInt16.self)
        block.storeBytes(of: floatToHalf(lo), toByteOffset: BlockQ4_1.m, as: UInt16.self)
        for j in 0..<16 {
            let q0 = nibble((x[j] - lo) * id + 0.5)
            let q1 = nibble((x[j + 16] - lo) * id + 0.5)
            block.storeBytes(of: q0 | q1 << 4, toByteOffset: BlockQ4_1.qs + j, as: UInt8.self)
        }
    }
}

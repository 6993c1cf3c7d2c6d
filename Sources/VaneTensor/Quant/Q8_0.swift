/// Q8_0 — 32 values in 34 bytes (ggml `block_q8_0`):
///
///     offset  size  field
///          0     2  d       F16 scale
///          2    32  qs      signed 8-bit quants, value j in byte j
///
/// value = q · d.
///
/// Q8_1 (`block_q8_1`, 36 bytes) is the same with an extra F16 `s` = d · Σq at offset 2 (quants at 4); ggml uses it
/// for activations, and its values read the same way.
enum BlockQ8_0 {
    static let d = 0
    static let qs = 2
    static let bytes = 34
}

enum BlockQ8_1 {
    static let d = 0
    static let s = 2
    static let qs = 4
    static let bytes = 36
}

func dequantizeQ8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ8_0.bytes == GGMLType.q8_0.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ8_0.bytes
        let y = dst + b * 32
        let d = loadHalf(block, BlockQ8_0.d, half)
        for j in 0..<32 {
            y[j] = Float(block.load(fromByteOffset: BlockQ8_0.qs + j, as: Int8.self)) * d
        }
    }
}

func dequantizeQ8_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, blocks: Int, half: UnsafePointer<Float>) {
    assert(BlockQ8_1.bytes == GGMLType.q8_1.blockBytes)
    for b in 0..<blocks {
        let block = src + b * BlockQ8_1.bytes
        let y = dst + b * 32
        let d = loadHalf(block, BlockQ8_1.d, half)
        for j in 0..<32 {
            y[j] = Float(block.load(fromByteOffset: BlockQ8_1.qs + j, as: Int8.self)) * d
        }
    }
}

/// Quantizes `count` values (a multiple of 32) to Q8_0 as ggml's `quantize_row_q8_0_ref` does: per block,
/// d = max|x| / 127 and q = round(x / d), halves away from zero.
public func quantizeQ8_0(_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
    precondition(count % 32 == 0, "quantizeQ8_0: \(count) values is not a whole number of 32-value blocks")
    for b in 0..<(count / 32) {
        let x = src + b * 32
        let block = dst + b * BlockQ8_0.bytes
        var amax: Float = 0
        for j in 0..<32 { amax = Swift.max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        block.storeBytes(of: floatToHalf(d), toByteOffset: BlockQ8_0.d, as: UInt16.self)
        for j in 0..<32 {
            let v = (x[j] * id).rounded(.toNearestOrAwayFromZero)
            // |v| ≤ 127 for finite input; the clamp keeps NaN input from trapping the conversion.
            let q: Int8 = v >= 127 ? 127 : (v <= -127 ? -127 : (v.isNaN ? 0 : Int8(v)))
            block.storeBytes(of: q, toByteOffset: BlockQ8_0.qs + j, as: Int8.self)
        }
    }
}

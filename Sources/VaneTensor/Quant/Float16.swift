/// IEEE half precision (F16) and bfloat16 (BF16), the two 16-bit float storage types.
///
/// F16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits; exponent 0 holds zero and subnormals
/// (mantissa · 2⁻²⁴), exponent 31 holds ±inf and NaN. BF16: the top 16 bits of an F32 (1 sign, 8 exponent, 7
/// mantissa bits). Both are stored little-endian, 2 bytes per value, and start no alignment beyond 1 byte in
/// safetensors files, so they are always read with unaligned loads. Quantized blocks store their scales as F16.
///
/// Conversions are written out on bit patterns rather than using Swift's `Float16`, which macOS on x86_64 lacks.

/// The exact F32 value of an F16 bit pattern (every F16 is representable in F32).
@inlinable
public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa · 2⁻²⁴, exact in F32.
        let magnitude = Float(mantissa) * 0x1p-24
        return Float(bitPattern: magnitude.bitPattern | sign)
    }
    if exponent == 31 {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | ((exponent + 127 - 15) << 23) | (mantissa << 13))
}

/// The F16 nearest to `f`, ties to even (what ggml's GGML_FP32_TO_FP16 and numpy's astype(float16) do); values
/// past the F16 range become ±inf, NaN stays a quiet NaN.
@inlinable
public func floatToHalf(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
    let exponent = Int((bits >> 23) & 0xFF)
    let mantissa = bits & 0x7F_FFFF
    if exponent == 0xFF {
        return sign | 0x7C00 | (mantissa == 0 ? 0 : 0x200 | UInt16(truncatingIfNeeded: mantissa >> 13))
    }
    let halfExponent = exponent - 127 + 15
    if halfExponent >= 31 { return sign | 0x7C00 }
    if halfExponent >= 1 {
        // Normal: drop 13 mantissa bits with rounding; a carry out of the mantissa correctly bumps the exponent
        // (up to inf).
        var h = UInt32(halfExponent) << 10 | mantissa >> 13
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }
        return sign | UInt16(truncatingIfNeeded: h)
    }
    // Subnormal half: value = full · 2^(exponent − 150) = h · 2⁻²⁴, so h = full >> (126 − exponent).
    let shift = 126 - exponent
    if shift > 24 { return sign }
    let full = mantissa | 0x80_0000
    var h = full >> UInt32(shift)
    let rest = full & ((1 << UInt32(shift)) - 1)
    let halfway: UInt32 = 1 << UInt32(shift - 1)
    if rest > halfway || (rest == halfway && h & 1 == 1) { h += 1 }
    return sign | UInt16(truncatingIfNeeded: h)
}

@inlinable
public func bf16ToFloat(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// The BF16 nearest to `f`, ties to even; NaN stays a quiet NaN (as ggml's ggml_compute_fp32_to_bf16).
@inlinable
public func floatToBF16(_ f: Float) -> UInt16 {
    let u = f.bitPattern
    if u & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: u >> 16) | 64 }
    return UInt16(truncatingIfNeeded: (UInt64(u) + 0x7FFF + UInt64((u >> 16) & 1)) >> 16)
}

/// Every F16 bit pattern's F32 value: dequantizing reads block scales and F16 tensors through this table.
let halfToFloatTable: [Float] = (0...UInt16.max).map(halfToFloat)

/// Reads the F16 at `offset` bytes from `p` (no alignment needed).
@inline(__always)
func loadHalf(_ p: UnsafeRawPointer, _ offset: Int, _ table: UnsafePointer<Float>) -> Float {
    table[Int(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))]
}

func dequantizeBF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
        dst[i] = bf16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
    }
}

/// Expands `count` values stored as `type` at `src` into F32 at `dst`. `count` must be a whole number of blocks
/// (a row's length always is, in a valid file); `src` needs no alignment. Each type's block layout is described in
/// its own file in this folder; results match ggml's `dequantize_row_*` bit for bit.
public func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    precondition(count % type.blockSize == 0, "dequantize \(type): \(count) values is not a whole number of \(type.blockSize)-value blocks")
    let blocks = count / type.blockSize
    halfToFloatTable.withUnsafeBufferPointer { table in
        let half = table.baseAddress!
        switch type {
        case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case .f16: for i in 0..<count { dst[i] = loadHalf(src, 2 * i, half) }
        case .bf16: dequantizeBF16(src, dst, count: count)
        case .q4_0: dequantizeQ4_0(src, dst, blocks: blocks, half: half)
        case .q4_1: dequantizeQ4_1(src, dst, blocks: blocks, half: half)
        case .q5_0: dequantizeQ5_0(src, dst, blocks: blocks, half: half)
        case .q5_1: dequantizeQ5_1(src, dst, blocks: blocks, half: half)
        case .q8_0: dequantizeQ8_0(src, dst, blocks: blocks, half: half)
        case .q8_1: dequantizeQ8_1(src, dst, blocks: blocks, half: half)
        case .q2_K: dequantizeQ2_K(src, dst, blocks: blocks, half: half)
        case .q3_K: dequantizeQ3_K(src, dst, blocks: blocks, half: half)
        case .q4_K: dequantizeQ4_K(src, dst, blocks: blocks, half: half)
        case .q5_K: dequantizeQ5_K(src, dst, blocks: blocks, half: half)
        case .q6_K: dequantizeQ6_K(src, dst, blocks: blocks, half: half)
        case .q8_K: dequantizeQ8_K(src, dst, blocks: blocks)
        }
    }
}

/// Reads byte `offset` of `p`.
@inline(__always)
func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
    p.load(fromByteOffset: offset, as: UInt8.self)
}

import VaneModelIO
import VaneTensor

/// Storage types Vane writes, and F32 values encoded into them.
public enum Encode {
    /// GGUF tensor types Vane can write from F32 values.
    public static let ggufTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]
    /// Safetensors dtypes Vane writes.
    public static let safetensorsTypes = SafetensorsWriter.types

    /// A type name as mergekit YAML, `--dtype` or ggml spell it: float32/fp32/f32, float16/fp16/f16/half,
    /// bfloat16/bf16, q8_0, q4_0, q4_1.
    public static func type(named name: String) -> GGMLType? {
        switch name.lowercased() {
        case "float32", "fp32", "f32": .f32
        case "float16", "fp16", "f16", "half": .f16
        case "bfloat16", "bf16": .bf16
        case "q8_0": .q8_0
        case "q4_0": .q4_0
        case "q4_1": .q4_1
        default: nil
        }
    }

    /// The type a tensor of this shape can take in GGUF when `wanted` is asked for: quantized types need rows that
    /// are whole blocks, and 1-D tensors (norms, biases) stay F32 as llama.cpp's quantizer keeps them.
    public static func ggufType(_ wanted: GGMLType, shape: [Int]) -> GGMLType {
        guard wanted.isQuantized else { return wanted }
        if shape.count < 2 || (shape.last ?? 0) % wanted.blockSize != 0 { return .f32 }
        return wanted
    }

    /// Emits `values` stored as `type` (F32 straight from the array, other types through one encoded copy).
    public static func emit(_ values: [Float], as type: GGMLType, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        if type == .f32 { try values.withUnsafeBytes(emit) } else { try bytes(values, as: type).withUnsafeBytes(emit) }
    }

    /// `values` stored as `type` (one of `ggufTypes`).
    public static func bytes(_ values: [Float], as type: GGMLType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: type.byteCount(values.count))
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                switch type {
                case .f32: d.copyMemory(from: s, byteCount: values.count * 4)
                case .f16: for i in 0..<values.count { d.storeBytes(of: floatToHalf(s[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
                case .bf16: for i in 0..<values.count { d.storeBytes(of: floatToBF16(s[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
                case .q8_0: quantizeQ8_0(s, d, count: values.count)
                case .q4_0: quantizeQ4_0(s, d, count: values.count)
                case .q4_1: quantizeQ4_1(s, d, count: values.count)
                default: preconditionFailure("Encode.bytes: \(type) is not a type Vane writes")
                }
            }
        }
        return out
    }
}

/// Storage types of tensor data, numbered as ggml's `enum ggml_type` (the numbers are what GGUF tensor infos hold).
///
/// Quantized types pack `blockSize` consecutive values of a row into `blockBytes` bytes; a row's length must be a
/// multiple of `blockSize`. Safetensors dtypes F32/F16/BF16 map onto the same cases, so every reader in Vane
/// describes its tensors with this one enum.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case bf16 = 30

    /// Values per block (1 for plain float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: 256
        }
    }

    /// Bytes per block, as in ggml-common.h's static_asserts.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 2 + 16            // d, qs[16]
        case .q4_1: 2 + 2 + 16        // d, m, qs[16]
        case .q5_0: 2 + 4 + 16        // d, qh[4], qs[16]
        case .q5_1: 2 + 2 + 4 + 16    // d, m, qh[4], qs[16]
        case .q8_0: 2 + 32            // d, qs[32]
        case .q8_1: 2 + 2 + 32        // d, s, qs[32]
        case .q2_K: 16 + 64 + 2 + 2   // scales[16], qs[64], d, dmin
        case .q3_K: 32 + 64 + 12 + 2  // hmask[32], qs[64], scales[12], d
        case .q4_K: 2 + 2 + 12 + 128  // d, dmin, scales[12], qs[128]
        case .q5_K: 2 + 2 + 12 + 32 + 128 // d, dmin, scales[12], qh[32], qs[128]
        case .q6_K: 128 + 64 + 16 + 2 // ql[128], qh[64], scales[16], d
        case .q8_K: 4 + 256 + 32      // d (f32), qs[256], bsums[16] (i16)
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `count` consecutive values; `count` must be a multiple of `blockSize`.
    public func byteCount(_ count: Int) -> Int {
        precondition(count % blockSize == 0, "\(self): \(count) values is not a whole number of \(blockSize)-value blocks")
        return count / blockSize * blockBytes
    }

    /// The name ggml and GGUF tools print ("Q4_1", "F32", …).
    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        }
    }

    public init?(name: String) {
        guard let t = GGMLType.allCases.first(where: { $0.description == name.uppercased() }) else { return nil }
        self = t
    }
}

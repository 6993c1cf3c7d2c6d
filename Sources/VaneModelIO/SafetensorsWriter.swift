import Foundation
import VaneTensor

/// Writes one safetensors file (format described in Safetensors.swift): u64 little-endian header length N, N bytes
/// of JSON header (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`,
/// computed from names, dtypes and shapes alone and padded with spaces to a multiple of 8 so the data stays
/// aligned), then the tensors' bytes in header order, streamed in one tensor at a time. Written atomically.
public enum SafetensorsWriter {
    /// The tensor types a safetensors file written here may hold.
    public static let types: [GGMLType] = [.f32, .f16, .bf16]

    static func dtypeName(_ t: GGMLType) -> String {
        switch t {
        case .f16: "F16"
        case .bf16: "BF16"
        default: "F32"
        }
    }

    /// The header JSON (padded) of a file holding `entries` in order.
    static func header(_ entries: [TensorEntry], metadata: [String: String]) throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for e in entries {
            precondition(types.contains(e.type), "safetensors holds F32, F16 and BF16 tensors")
            header[e.name] = ["dtype": dtypeName(e.type), "shape": e.shape, "data_offsets": [offset, offset + e.byteCount]] as [String: Any]
            offset += e.byteCount
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        return json
    }

    /// Writes `url`; `data(i, emit)` must emit exactly entry i's bytes.
    public static func write(to url: URL, entries: [TensorEntry], metadata: [String: String] = [:],
                             data: (Int, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let json = try header(entries, metadata: metadata)
        try AtomicFile.write(url) { handle in
            var n = UInt64(json.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &n, count: 8))
            try handle.write(contentsOf: json)
            for (i, e) in entries.enumerated() {
                try e.write(to: handle, file: url, index: i, data)
            }
        }
    }

    /// Writes float32 tensors held in memory.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             to url: URL) throws {
        let entries = tensors.map { TensorEntry(name: $0.name, type: .f32, shape: $0.tensor.shape) }
        try write(to: url, entries: entries, metadata: metadata) { i, emit in
            try tensors[i].tensor.data.withUnsafeBytes { try emit($0) }
        }
    }
}

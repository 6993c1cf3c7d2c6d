import Foundation
import VaneTensor

/// Writes float32 tensors as one safetensors file: u64 little-endian header length N, N bytes of JSON header
/// (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`, padded with
/// spaces to a multiple of 8 so the data stays aligned), then the tensors' bytes in header order.
public enum SafetensorsWriter {
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             to url: URL) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, t) in tensors {
            let bytes = t.count * 4
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        try AtomicFile.write(url) { handle in
            var n = UInt64(json.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &n, count: 8))
            try handle.write(contentsOf: json)
            for (_, t) in tensors {
                try t.data.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
            }
        }
    }
}

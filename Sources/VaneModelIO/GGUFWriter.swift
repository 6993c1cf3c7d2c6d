import Foundation
import VaneTensor

// Writes GGUF version 3 (the layout GGUF.swift in VaneModelIO describes and reads): magic "GGUF", version u32,
// tensor count u64, metadata count u64, the metadata (key string, value type u32, value), the tensor infos (name,
// n_dims u32, ne[] u64 innermost first, type u32, data offset u64), zero padding to `alignment`, then each
// tensor's bytes, each starting at a multiple of `alignment` from the data section's start. Strings are a u64
// length and UTF-8 bytes; arrays an element type u32, a u64 count and the elements. All little-endian.
//
// The header is written first, so every tensor's type and shape must be known before its data is produced; the
// data then streams one tensor at a time. An `alignment` other than 32 is recorded as general.alignment.

public enum GGUFWriter {
    /// Writes `url` atomically. `data(i, emit)` must emit exactly entry i's bytes (in one or more pieces).
    public static func write(to url: URL, metadata: [(key: String, value: GGUFValue)], entries: [TensorEntry],
                             alignment: Int = GGUFFile.defaultAlignment,
                             data: (Int, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "GGUF alignment must be a power of two")
        var kv = metadata.filter { $0.key != "general.alignment" }
        if alignment != GGUFFile.defaultAlignment { kv.append(("general.alignment", .uint32(UInt32(alignment)))) }

        var header = ByteWriter()
        header.bytes(GGUFFile.magic)
        header.int(UInt32(3))
        header.int(UInt64(entries.count))
        header.int(UInt64(kv.count))
        for (key, value) in kv {
            header.string(key)
            header.int(value.type.rawValue)
            try header.value(value, key: key)
        }
        var offsets: [Int] = []
        var offset = 0
        for e in entries {
            offsets.append(offset)
            header.string(e.name)
            header.int(UInt32(e.shape.count))
            for n in e.shape.reversed() { header.int(UInt64(n)) }
            header.int(e.type.rawValue)
            header.int(UInt64(offset))
            offset = padded(offset + e.byteCount, alignment)
        }
        header.bytes([UInt8](repeating: 0, count: padded(header.data.count, alignment) - header.data.count))

        try AtomicFile.write(url) { handle in
            try handle.write(contentsOf: header.data)
            let zeros = [UInt8](repeating: 0, count: alignment)
            for (i, e) in entries.enumerated() {
                try e.write(to: handle, file: url, index: i, data)
                let end = i + 1 < entries.count ? offsets[i + 1] : padded(offsets[i] + e.byteCount, alignment)
                try handle.write(contentsOf: zeros[0..<(end - offsets[i] - e.byteCount)])
            }
        }
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}

/// Little-endian serialization of GGUF primitives into a growing buffer.
struct ByteWriter {
    var data: [UInt8] = []

    mutating func bytes<S: Sequence>(_ s: S) where S.Element == UInt8 { data.append(contentsOf: s) }

    mutating func int<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        int(UInt64(utf8.count))
        bytes(utf8)
    }

    mutating func value(_ v: GGUFValue, key: String) throws {
        switch v {
        case .uint8(let x): int(x)
        case .int8(let x): int(x)
        case .uint16(let x): int(x)
        case .int16(let x): int(x)
        case .uint32(let x): int(x)
        case .int32(let x): int(x)
        case .float32(let x): int(x.bitPattern)
        case .bool(let x): int(UInt8(x ? 1 : 0))
        case .string(let x): string(x)
        case .uint64(let x): int(x)
        case .int64(let x): int(x)
        case .float64(let x): int(x.bitPattern)
        case .array(let elements):
            // An empty array keeps no element type in memory; string is what GGUF writers use for empty lists.
            let type = elements.first?.type ?? .string
            guard elements.allSatisfy({ $0.type == type }) else {
                throw VaneError("metadata \(key): an array mixes element types, which GGUF cannot store")
            }
            int(type.rawValue)
            int(UInt64(elements.count))
            for e in elements { try value(e, key: key) }
        }
    }
}

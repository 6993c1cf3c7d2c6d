import Foundation
import VaneTensor

// GGUF, the file format of llama.cpp (versions 2 and 3; both little-endian, identical layout — v3 only added the
// big-endian variant, which Vane does not read). In order:
//
//     magic           4 bytes  "GGUF"
//     version         u32      2 or 3
//     tensor_count    u64
//     kv_count        u64
//     kv_count × KV   key (string), value type (u32, GGUFValueType), value
//     tensor_count × tensor info:
//                     name (string), n_dims (u32, ≤ 4), ne[n_dims] (u64 each, innermost first),
//                     type (u32, GGMLType), offset (u64, from the start of the data section)
//     padding         to a multiple of `alignment`
//     data section    tensor data, each tensor starting at a multiple of `alignment`
//
// A string is a u64 byte length then that many UTF-8 bytes. An array value is an element type (u32), a count (u64)
// and the elements; elements may be arrays. `alignment` is the metadata key general.alignment (u32), 32 when
// absent. A tensor of type T with ne[0…] takes ne[0] / T.blockSize · T.blockBytes · ne[1] · ne[2] · ne[3] bytes,
// so ne[0] must be a multiple of T's block size. All numbers are little-endian.

/// A GGUF file, memory-mapped: metadata parsed eagerly, tensor data left in the mapping.
public final class GGUFFile: Sendable {
    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let defaultAlignment = 32
    public static let maxDims = 4

    public let url: URL
    public let file: MappedFile
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataOrder: [String]
    /// In file order; shapes outermost-first (ne reversed); `owner` is `file`.
    public let tensors: [StoredTensor]
    public let alignment: Int
    /// Byte offset of the data section.
    public let dataOffset: Int
    private let tensorIndex: [String: Int]

    public init(url: URL) throws {
        let file = try MappedFile(url: url)
        var reader = GGUFReader(bytes: file.bytes, path: url.path)

        let magic = try reader.bytes(4, "the magic number")
        guard magic.elementsEqual(GGUFFile.magic) else {
            let hex = magic.map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ModelFileError(.badMagic, path: url.path, offset: 0,
                                 "not a GGUF file: it starts with bytes \(hex), expected \"GGUF\" (47 47 55 46)")
        }
        let version = try reader.read(UInt32.self, "the version")
        guard version == 2 || version == 3 else {
            let hint = version == 1 ? "GGUF v1 predates September 2023; convert the model again with a current llama.cpp"
                : (1...3).contains(version.byteSwapped) ? "this looks like a big-endian GGUF, which Vane does not read"
                : "Vane reads GGUF versions 2 and 3"
            throw ModelFileError(.unsupportedVersion, path: url.path, offset: 4, "GGUF version \(version): \(hint)")
        }
        let tensorCount = try reader.count("the tensor count")
        let kvCount = try reader.count("the metadata count")

        var metadata: [String: GGUFValue] = [:]
        var order: [String] = []
        for i in 0..<kvCount {
            let keyOffset = reader.offset
            let key = try reader.string("the key of metadata entry \(i)")
            let value = try reader.value("metadata '\(key)'")
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw ModelFileError(.badHeader, path: url.path, offset: keyOffset, "metadata key '\(key)' appears twice")
            }
            order.append(key)
        }

        var alignment = GGUFFile.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard let a = value.int, a > 0, a & (a - 1) == 0 else {
                throw ModelFileError(.badHeader, path: url.path,
                                     "general.alignment is \(value), expected a power of two (usually 32)")
            }
            alignment = a
        }

        struct Info { var name: String; var type: GGMLType; var shape: [Int]; var offset: Int; var size: Int; var at: Int }
        var infos: [Info] = []
        for i in 0..<tensorCount {
            let at = reader.offset
            let name = try reader.string("the name of tensor \(i)")
            let nDims = try reader.read(UInt32.self, "n_dims of tensor '\(name)'")
            guard nDims <= GGUFFile.maxDims else {
                throw ModelFileError(.badHeader, path: url.path, offset: reader.offset - 4,
                                     "tensor '\(name)' has n_dims \(nDims); GGUF allows at most \(GGUFFile.maxDims)")
            }
            var ne: [Int] = []
            for d in 0..<Int(nDims) { ne.append(try reader.count("ne[\(d)] of tensor '\(name)'")) }
            let typeOffset = reader.offset
            let typeID = try reader.read(UInt32.self, "the type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: typeID) else {
                let known = ggmlTypeNames[typeID].map { " (\($0))" } ?? ""
                let supported = GGMLType.allCases.map(\.description).joined(separator: ", ")
                throw ModelFileError(.unsupportedType, path: url.path, offset: typeOffset,
                                     "tensor '\(name)' has ggml type id \(typeID)\(known), which Vane cannot read; supported: \(supported)")
            }
            let offset = try reader.count("the data offset of tensor '\(name)'")
            let size = try tensorByteCount(name: name, type: type, ne: ne, path: url.path, at: at)
            infos.append(Info(name: name, type: type, shape: ne.reversed(), offset: offset, size: size, at: at))
        }

        let headerEnd = reader.offset
        let dataOffset = (headerEnd + alignment - 1) / alignment * alignment
        var tensors: [StoredTensor] = []
        var index: [String: Int] = [:]
        tensors.reserveCapacity(infos.count)
        for info in infos {
            let description = "tensor '\(info.name)' (\(info.type) \(info.shape))"
            guard index.updateValue(tensors.count, forKey: info.name) == nil else {
                throw ModelFileError(.badHeader, path: url.path, offset: info.at, "\(description): the name appears twice")
            }
            guard info.offset % alignment == 0 else {
                throw ModelFileError(.badTensor, path: url.path, offset: info.at,
                                     "\(description): data offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            let (start, startOverflow) = dataOffset.addingReportingOverflow(info.offset)
            let (end, endOverflow) = start.addingReportingOverflow(info.size)
            guard !startOverflow, !endOverflow, end <= file.size else {
                throw ModelFileError(.truncated, path: url.path, offset: info.at,
                                     "\(description) has its \(info.size) bytes at offset \(info.offset) of the data section (which starts at byte \(dataOffset)), past the end of the file (\(file.size) bytes): the file is truncated or corrupt")
            }
            let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[start..<end])
            tensors.append(StoredTensor(name: info.name, type: info.type, shape: info.shape, bytes: bytes, owner: file))
        }

        self.url = url
        self.file = file
        self.version = version
        self.metadata = metadata
        self.metadataOrder = order
        self.tensors = tensors
        self.alignment = alignment
        self.dataOffset = dataOffset
        self.tensorIndex = index
    }

    public func tensor(named name: String) -> StoredTensor? {
        tensorIndex[name].map { tensors[$0] }
    }

    public subscript(key: String) -> GGUFValue? { metadata[key] }
}

/// Bytes of a tensor with dims `ne` (innermost first), checking that rows are whole blocks and nothing overflows.
private func tensorByteCount(name: String, type: GGMLType, ne: [Int], path: String, at: Int) throws -> Int {
    let rowLength = ne.first ?? 1
    guard rowLength % type.blockSize == 0 else {
        throw ModelFileError(.badTensor, path: path, offset: at,
                             "tensor '\(name)' (\(type)) has ne[0] = \(rowLength), not a multiple of \(type)'s block size \(type.blockSize)")
    }
    var size = 1
    for n in [rowLength / type.blockSize, type.blockBytes] + ne.dropFirst() {
        let (product, overflow) = size.multipliedReportingOverflow(by: n)
        guard !overflow else {
            throw ModelFileError(.badTensor, path: path, offset: at, "tensor '\(name)' with ne \(ne) is impossibly large")
        }
        size = product
    }
    return size
}

/// ggml type ids that Vane does not read, named for error messages (ggml.h `enum ggml_type`).
private let ggmlTypeNames: [UInt32: String] = [
    4: "Q4_2 (removed from ggml)", 5: "Q4_3 (removed from ggml)",
    16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
    24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
]

/// Reads GGUF's little-endian primitives from a mapped file, naming what it was reading when the file ends early.
struct GGUFReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var offset = 0
    /// Arrays nested deeper than this are rejected rather than recursed into (real files nest at most once).
    static let maxNesting = 8

    var remaining: Int { bytes.count - offset }

    private func truncated(_ what: String, needing n: Int) -> ModelFileError {
        ModelFileError(.truncated, path: path, offset: offset,
                       "file ends while reading \(what): \(n) bytes needed, \(remaining) left of \(bytes.count); the file is truncated or not GGUF")
    }

    mutating func bytes(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard n <= remaining else { throw truncated(what(), needing: n) }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let n = MemoryLayout<T>.size
        guard n <= remaining else { throw truncated(what(), needing: n) }
        defer { offset += n }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// A u64 count or offset, which must fit in Int.
    mutating func count(_ what: @autoclosure () -> String) throws -> Int {
        let at = offset
        let v = try read(UInt64.self, what())
        guard let n = Int(exactly: v) else {
            throw ModelFileError(.badHeader, path: path, offset: at, "\(what()) is \(v), which no real file holds: the header is corrupt")
        }
        return n
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let at = offset
        let length = try read(UInt64.self, "the length of \(what())")
        guard length <= UInt64(remaining) else {
            throw ModelFileError(.truncated, path: path, offset: at,
                                 "\(what()) is a string of \(length) bytes, past the end of the file (\(remaining) bytes left of \(bytes.count)): the file is truncated or corrupt")
        }
        let n = Int(length)
        defer { offset += n }
        // Invalid UTF-8 (never written by llama.cpp's tools) is repaired with U+FFFD rather than rejected.
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), as: UTF8.self)
    }

    /// A type id followed by a value of that type.
    mutating func value(_ what: @autoclosure () -> String) throws -> GGUFValue {
        let type = try valueType(what())
        return try value(of: type, what(), depth: 0)
    }

    private mutating func valueType(_ what: @autoclosure () -> String) throws -> GGUFValueType {
        let at = offset
        let id = try read(UInt32.self, "the value type of \(what())")
        guard let type = GGUFValueType(rawValue: id) else {
            let known = GGUFValueType.allCases.map { "\($0.rawValue) \($0)" }.joined(separator: ", ")
            throw ModelFileError(.badHeader, path: path, offset: at,
                                 "\(what()) has unknown value type \(id) (GGUF defines \(known)); the file is corrupt")
        }
        return type
    }

    private mutating func value(of type: GGUFValueType, _ what: @autoclosure () -> String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, what()))
        case .int8: return .int8(try read(Int8.self, what()))
        case .uint16: return .uint16(try read(UInt16.self, what()))
        case .int16: return .int16(try read(Int16.self, what()))
        case .uint32: return .uint32(try read(UInt32.self, what()))
        case .int32: return .int32(try read(Int32.self, what()))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, what())))
        case .uint64: return .uint64(try read(UInt64.self, what()))
        case .int64: return .int64(try read(Int64.self, what()))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, what())))
        case .bool:
            let at = offset
            let b = try read(UInt8.self, what())
            guard b <= 1 else {
                throw ModelFileError(.badHeader, path: path, offset: at, "\(what()) is a bool holding \(b), expected 0 or 1")
            }
            return .bool(b == 1)
        case .string: return .string(try string(what()))
        case .array:
            guard depth < GGUFReader.maxNesting else {
                throw ModelFileError(.badHeader, path: path, offset: offset,
                                     "\(what()) nests arrays more than \(GGUFReader.maxNesting) deep; the file is corrupt")
            }
            let elementType = try valueType("the elements of \(what())")
            let countAt = offset
            let count = try read(UInt64.self, "the element count of \(what())")
            // Every element takes at least one byte (a string at least its 8-byte length), so a count the
            // remaining bytes cannot hold is caught before allocating for it.
            let minSize = UInt64(elementType.fixedSize ?? (elementType == .string ? 8 : 12))
            guard count <= UInt64(remaining) / minSize else {
                throw ModelFileError(.truncated, path: path, offset: countAt,
                                     "\(what()) declares \(count) \(elementType) elements, which cannot fit in the \(remaining) bytes left of \(bytes.count): the file is truncated or corrupt")
            }
            let n = Int(count)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(n)
            for i in 0..<n {
                elements.append(try value(of: elementType, "element \(i) of \(what())", depth: depth + 1))
            }
            return .array(elements)
        }
    }
}

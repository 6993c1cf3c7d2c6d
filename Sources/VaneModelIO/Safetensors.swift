import Foundation
import VaneTensor

// Safetensors, the weight format of Hugging Face checkpoints. In order:
//
//     header length   u64, little-endian: N
//     header          N bytes of UTF-8 JSON (writers may pad it with spaces)
//     data            the rest of the file
//
// The header is one JSON object. Its optional "__metadata__" entry maps strings to strings; every other entry is a
// tensor: {"dtype": "F32", "shape": [out, in], "data_offsets": [begin, end]}, the offsets counted from the first
// byte after the header, end exclusive, end − begin = product(shape) · dtype size. Shapes are outermost-first and
// data is row-major. Nothing is aligned, so every read of the data is an unaligned load.
//
// A sharded checkpoint is a folder of such files plus model.safetensors.index.json, whose "weight_map" maps each
// tensor name to the file holding it.

/// A safetensors file, memory-mapped: header parsed eagerly, tensor data left in the mapping.
public final class SafetensorsFile: Sendable {
    /// Dtypes Vane reads, and the GGMLType each maps onto.
    public static let dtypes: [String: GGMLType] = ["F32": .f32, "F16": .f16, "BF16": .bf16]

    public let url: URL
    public let file: MappedFile
    /// The header's "__metadata__" (e.g. {"format": "pt"}); empty when absent.
    public let metadata: [String: String]
    /// Sorted by data offset; `owner` is `file`.
    public let tensors: [StoredTensor]
    /// Byte offset of the data section (8 + header length).
    public let dataOffset: Int
    private let tensorIndex: [String: Int]

    public init(url: URL) throws {
        let path = url.path
        let file = try MappedFile(url: url)
        guard file.size >= 8 else {
            throw ModelFileError(.truncated, path: path, offset: 0,
                                 "file is \(file.size) bytes, too short for the 8-byte header length of a safetensors file")
        }
        let headerLength = UInt64(littleEndian: file.bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(file.size - 8) else {
            throw ModelFileError(.truncated, path: path, offset: 0,
                                 "the header length says \(headerLength) bytes of JSON follow, but the file has only \(file.size - 8) bytes after it: a lying header length (truncated file, or not safetensors)")
        }
        let dataOffset = 8 + Int(headerLength)
        let headerBytes = UnsafeRawBufferPointer(rebasing: file.bytes[8..<dataOffset])
        let header: SafetensorsHeader
        do {
            header = try JSONDecoder().decode(SafetensorsHeader.self, from: Data(headerBytes))
        } catch let error as DecodingError {
            throw ModelFileError(.badHeader, path: path, offset: 8, "the \(headerLength)-byte JSON header: \(describe(error))")
        } catch {
            throw ModelFileError(.badHeader, path: path, offset: 8,
                                 "the \(headerLength)-byte header is not valid JSON (\(error)); not a safetensors file?")
        }

        let dataSize = file.size - dataOffset
        var entries: [(begin: Int, tensor: StoredTensor)] = []
        for (name, entry) in header.tensors {
            func bad(_ problem: String) -> ModelFileError {
                ModelFileError(.badTensor, path: path, offset: 8, "tensor '\(name)': \(problem)")
            }
            guard let type = SafetensorsFile.dtypes[entry.dtype] else {
                throw ModelFileError(.unsupportedType, path: path, offset: 8,
                                     "tensor '\(name)' has dtype \(entry.dtype); Vane reads F32, F16 and BF16 tensors")
            }
            let shape = entry.shape
            guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("shape \(shape) has a negative dimension") }
            let offsets = entry.dataOffsets
            guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw bad("data_offsets \(offsets) is not [begin, end] with 0 ≤ begin ≤ end")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard end <= dataSize else {
                throw ModelFileError(.truncated, path: path, offset: 8,
                                     "tensor '\(name)': data_offsets [\(begin), \(end)] run past the end of the data section (\(dataSize) bytes, from byte \(dataOffset) of \(file.size)): the file is truncated or corrupt")
            }
            var size = type.blockBytes
            for n in shape {
                let (product, overflow) = size.multipliedReportingOverflow(by: n)
                guard !overflow else { throw bad("shape \(shape) is impossibly large") }
                size = product
            }
            guard end - begin == size else {
                throw bad("shape \(shape) of \(entry.dtype) takes \(size) bytes, but data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[(dataOffset + begin)..<(dataOffset + end)])
            entries.append((begin, StoredTensor(name: name, type: type, shape: shape, bytes: bytes, owner: file)))
        }
        entries.sort { ($0.begin, $0.tensor.name) < ($1.begin, $1.tensor.name) }

        self.url = url
        self.file = file
        self.metadata = header.metadata
        self.tensors = entries.map(\.tensor)
        self.dataOffset = dataOffset
        self.tensorIndex = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    public func tensor(named name: String) -> StoredTensor? {
        tensorIndex[name].map { tensors[$0] }
    }
}

/// The JSON header: "__metadata__" and one entry per tensor, in whatever order the writer chose.
private struct SafetensorsHeader: Decodable {
    struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var metadata: [String: String] = [:]
    var tensors: [(name: String, entry: Entry)] = []

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                tensors.append((key.stringValue, try container.decode(Entry.self, forKey: key)))
            }
        }
    }
}

/// A decoding error as one line: where in the JSON, and what was wrong.
func describe(_ error: DecodingError) -> String {
    func at(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return path.isEmpty ? "" : "at \(path): "
    }
    switch error {
    case .typeMismatch(let type, let context): return "\(at(context))expected \(type) (\(context.debugDescription))"
    case .valueNotFound(let type, let context): return "\(at(context))missing \(type)"
    case .keyNotFound(let key, let context): return "\(at(context))missing key \"\(key.stringValue)\""
    case .dataCorrupted(let context): return "\(at(context))\(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}

/// The tensors of an HF checkpoint folder: the shards named by model.safetensors.index.json's weight_map, or the
/// single model.safetensors when there is no index. Tensors come shard by shard (in file-name order), each shard's
/// in data order. Throws when the index names a file or tensor that is missing, or a tensor is in two shards.
public func loadSafetensorsFolder(_ dir: URL) throws -> (tensors: [StoredTensor], files: [SafetensorsFile]) {
    let indexURL = dir.appendingPathComponent("model.safetensors.index.json")
    guard FileManager.default.fileExists(atPath: indexURL.path) else {
        let single = dir.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: single.path) else {
            throw ModelFileError(.cannotOpen, path: dir.path,
                                 "no model.safetensors or model.safetensors.index.json in this folder; expected an HF model folder")
        }
        let file = try SafetensorsFile(url: single)
        return (file.tensors, [file])
    }

    let weightMap: [String: String]
    do {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL))
        guard let map = (json as? [String: Any])?["weight_map"] as? [String: String] else {
            throw ModelFileError(.badIndex, path: indexURL.path, "expected an object with \"weight_map\": {tensor name: file name}")
        }
        weightMap = map
    } catch let error as ModelFileError {
        throw error
    } catch {
        throw ModelFileError(.badIndex, path: indexURL.path, "cannot read the index: \(error.localizedDescription)")
    }

    var files: [SafetensorsFile] = []
    for shard in Set(weightMap.values).sorted() {
        let url = dir.appendingPathComponent(shard)
        guard FileManager.default.fileExists(atPath: url.path) else {
            let example = weightMap.filter { $0.value == shard }.keys.sorted().first ?? ""
            throw ModelFileError(.badIndex, path: indexURL.path,
                                 "weight_map puts tensors (e.g. '\(example)') in \(shard), which is not in \(dir.path); is the download incomplete?")
        }
        files.append(try SafetensorsFile(url: url))
    }

    var owner: [String: String] = [:]
    var tensors: [StoredTensor] = []
    for file in files {
        let shard = file.url.lastPathComponent
        for tensor in file.tensors {
            if let first = owner.updateValue(shard, forKey: tensor.name) {
                throw ModelFileError(.badIndex, path: dir.path, "tensor '\(tensor.name)' is in both \(first) and \(shard)")
            }
            tensors.append(tensor)
        }
    }
    for (name, shard) in weightMap.sorted(by: { $0.key < $1.key }) where owner[name] != shard {
        throw ModelFileError(.badIndex, path: indexURL.path,
                             "weight_map puts tensor '\(name)' in \(shard), but \(owner[name].map { "it is in \($0)" } ?? "no shard holds it")")
    }
    return (tensors, files)
}

import Foundation
import VaneTensor

/// A tensor a streaming writer will write: known up front (the GGUF and safetensors headers come first), its data
/// produced later. `shape` is outermost first (HF order); the GGUF writer reverses it into ne[].
public struct TensorEntry: Sendable {
    public var name: String
    public var type: GGMLType
    public var shape: [Int]

    public init(name: String, type: GGMLType, shape: [Int]) {
        self.name = name
        self.type = type
        self.shape = shape
    }

    public var byteCount: Int { type.byteCount(shape.reduce(1, *)) }
}

extension TensorEntry {
    /// Writes the bytes `data(index, emit)` emits (in any number of pieces) to `handle`, and refuses a tensor that
    /// emits more or fewer than it holds, naming it and the file.
    public func write(to handle: FileHandle, file: URL, index: Int,
               _ data: (Int, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        var written = 0
        try data(index) { piece in
            written += piece.count
            guard written <= byteCount else { return }
            try handle.write(contentsOf: piece)
        }
        guard written == byteCount else {
            throw VaneError("writing \(file.path): tensor \(name) (\(type) \(shape)) produced \(written) bytes, expected \(byteCount)")
        }
    }
}

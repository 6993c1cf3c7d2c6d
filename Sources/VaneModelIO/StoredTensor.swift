import VaneTensor

/// A weight tensor as a file stores it: its bytes (inside the file's mmap), its storage type and its shape.
///
/// `shape` is outermost-first, as PyTorch and safetensors write it: an HF linear weight is [out, in]. GGUF lists
/// dims innermost-first (ne[0] = in), so the GGUF reader reverses them. Rows (the last dimension) are contiguous,
/// and quantized blocks run along them.
///
/// Unchecked Sendable because the compiler cannot see that `bytes` points into `owner`, a read-only mapping.
public struct StoredTensor: @unchecked Sendable {
    public var name: String
    public var type: GGMLType
    public var shape: [Int]
    /// The tensor's bytes; valid as long as `owner` lives.
    public var bytes: UnsafeRawBufferPointer
    /// The mapped file `bytes` lies in, kept alive with the tensor.
    public var owner: MappedFile

    public init(name: String, type: GGMLType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: MappedFile) {
        self.name = name
        self.type = type
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
    }

    public var count: Int { shape.reduce(1, *) }
    public var rowLength: Int { shape.last ?? 1 }
    public var rowCount: Int { count / max(rowLength, 1) }
}

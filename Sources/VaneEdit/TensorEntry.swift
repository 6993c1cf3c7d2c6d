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

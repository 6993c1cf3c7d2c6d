/// A dense float32 tensor, row-major (the last dimension is contiguous). Activations, hook captures and
/// dequantized weights are all `Tensor`s; weights in their stored type are `StoredTensor`s (VaneModelIO).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }

    /// Rows of a tensor seen as a matrix [count / last, last].
    public var rows: Int { shape.count <= 1 ? 1 : count / shape[shape.count - 1] }
    public var cols: Int { shape.last ?? 1 }

    /// Row `i` of the tensor seen as [rows, cols].
    public func row(_ i: Int) -> ArraySlice<Float> {
        data[(i * cols)..<((i + 1) * cols)]
    }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }
}

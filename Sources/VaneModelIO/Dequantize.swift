import VaneTensor

/// The tensor's values as F32, in its shape.
public func dequantize(_ t: StoredTensor) -> Tensor {
    precondition(t.bytes.count == t.type.byteCount(t.count), "\(t.name): \(t.bytes.count) bytes do not hold \(t.type) \(t.shape)")
    var data = [Float](repeating: 0, count: t.count)
    if let src = t.bytes.baseAddress {
        data.withUnsafeMutableBufferPointer { dst in
            dequantize(t.type, src, dst.baseAddress!, count: t.count)
        }
    }
    return Tensor(shape: t.shape, data: data)
}

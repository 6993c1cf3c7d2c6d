import VaneModelIO

/// Keys and values of every processed position, per layer: K[pos, kvHeads·headDim] (after RoPE) and V alike.
public final class KVCache {
    public let capacity: Int
    public private(set) var length = 0
    let width: Int
    var keys: [UnsafeMutablePointer<Float>]
    var values: [UnsafeMutablePointer<Float>]

    public init(config: ModelConfig, capacity: Int) {
        self.capacity = capacity
        width = config.numKeyValueHeads * config.headDim
        keys = (0..<config.numHiddenLayers).map { _ in .allocate(capacity: capacity * config.numKeyValueHeads * config.headDim) }
        values = (0..<config.numHiddenLayers).map { _ in .allocate(capacity: capacity * config.numKeyValueHeads * config.headDim) }
    }

    deinit {
        for p in keys { p.deallocate() }
        for p in values { p.deallocate() }
    }

    /// Forgets positions from `length` on (to re-run a prompt, or to branch a generation).
    public func truncate(to length: Int) {
        precondition(length <= self.length)
        self.length = length
    }

    func advance(by n: Int) { length += n }
}


extension KVCache {
    /// Writes T rows of keys and values of `layer` at positions p0 ..< p0+T.
    func store(layer: Int, at p0: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, rows: Int) {
        (keys[layer] + p0 * width).update(from: k, count: rows * width)
        (values[layer] + p0 * width).update(from: v, count: rows * width)
    }
}

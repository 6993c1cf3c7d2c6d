import Foundation
import VaneModelIO
import VaneTensor

/// A model opened for editing: a `.gguf` file or an HF folder, its tensors under GGUF names. Values are always
/// handed out in HF layout (the layout of safetensors checkpoints and of mergekit), so that a GGUF llama file,
/// whose Q/K rows llama.cpp's converter permuted for adjacent-pair RoPE, can be diffed or merged with an HF folder
/// of the same model.
public final class ModelInput: Sendable {
    public let files: ModelFiles
    public var url: URL { files.url }
    public var config: ModelConfig { files.config }
    /// GGUF tensor names in file order.
    public var names: [String] { files.tensorOrder }
    public var isGGUF: Bool { files.isGGUF }

    public init(url: URL) throws {
        do {
            files = try ModelFiles(url: url)
        } catch let error as VaneError {
            throw VaneError(error.message, hint: error.hint)
        } catch {
            throw VaneError("\(error)")
        }
    }

    public func stored(_ name: String) -> StoredTensor? { files.tensors[name] }

    /// The head count by which the stored rows of `name` are permuted, or nil when they are in HF order.
    public func permutedHeads(_ name: String) -> Int? {
        guard isGGUF else { return nil }
        return QKLayout.heads(of: name, spec: files.spec, config: config)
    }

    /// The tensor as F32 in HF layout (dequantized; llama Q/K rows of a GGUF file put back in HF order). The
    /// mapped pages it was read from are released: the copy is what callers use.
    public func values(_ name: String) throws -> Tensor {
        guard let t = stored(name) else { throw VaneError("\(url.path) has no tensor \(name)") }
        var tensor = dequantize(t)
        t.owner.dropPages(t.bytes)
        if let heads = permutedHeads(name) {
            tensor.data = try QKLayout.rows(tensor.data, rows: t.shape[0], heads: heads, to: .hf, name: name)
        }
        return tensor
    }

    /// Whether `name` holds the same values here and in `other` (compared in HF layout after dequantizing, so
    /// +0 equals −0 and a NaN differs from everything). Stored in the same type and row order, identical bytes
    /// answer at once and rows that differ are dequantized and compared up to the first difference; otherwise
    /// both tensors are dequantized. Pages read are released.
    public func sameValues(_ name: String, as other: ModelInput) throws -> Bool {
        guard let a = stored(name), let b = other.stored(name), a.shape == b.shape else { return false }
        defer { release(name); other.release(name) }
        guard a.type == b.type && permutedHeads(name) == other.permutedHeads(name) else {
            return try values(name).data == other.values(name).data
        }
        guard a.bytes.count == b.bytes.count, let pa = a.bytes.baseAddress, let pb = b.bytes.baseAddress else {
            return a.bytes.count == b.bytes.count
        }
        if memcmp(pa, pb, a.bytes.count) == 0 { return true }
        let n = a.rowLength, rowBytes = a.type.byteCount(n)
        var x = [Float](repeating: 0, count: n), y = x
        for offset in stride(from: 0, to: a.bytes.count, by: rowBytes) where memcmp(pa + offset, pb + offset, rowBytes) != 0 {
            dequantize(a.type, pa + offset, &x, count: n)
            dequantize(b.type, pb + offset, &y, count: n)
            if x != y { return false }
        }
        return true
    }

    /// Lets the kernel drop the pages of `name` that reading it brought in, so a pass over the model keeps one
    /// tensor resident rather than the whole mapping.
    public func release(_ name: String) {
        if let t = stored(name) { t.owner.dropPages(t.bytes) }
    }
}

/// llama.cpp's converter reorders the rows of each llama Q and K head (weights and biases) so that RoPE rotates
/// adjacent pairs: within a head of `hd` rows, HF row `s·hd/2 + i` (s ∈ {0, 1}, i < hd/2) becomes GGUF row
/// `2i + s`. Q uses the attention head count, K the key/value head count. Families whose spec does not permute
/// (qwen2) keep HF order in GGUF.
public enum QKLayout {
    public enum Order: Sendable { case hf, gguf }

    /// The head count whose rows are permuted in a GGUF file of this architecture, nil for other tensors.
    public static func heads(of name: String, spec: ArchitectureSpec, config: ModelConfig) -> Int? {
        guard spec.permutesQK, name.hasPrefix("blk.") else { return nil }
        if name.hasSuffix(".attn_q.weight") || name.hasSuffix(".attn_q.bias") { return config.numAttentionHeads }
        if name.hasSuffix(".attn_k.weight") || name.hasSuffix(".attn_k.bias") { return config.numKeyValueHeads }
        return nil
    }

    /// For each destination row, the source row it takes.
    static func sourceRows(rows: Int, heads: Int, to order: Order) -> [Int] {
        let hd = rows / heads, half = hd / 2
        var map = [Int](repeating: 0, count: rows)
        for h in 0..<heads {
            for s in 0..<2 {
                for i in 0..<half {
                    let hf = h * hd + s * half + i, gguf = h * hd + 2 * i + s
                    if order == .gguf { map[gguf] = hf } else { map[hf] = gguf }
                }
            }
        }
        return map
    }

    static func check(rows: Int, heads: Int, name: String) throws {
        guard heads > 0, rows % (2 * heads) == 0 else {
            throw VaneError("\(name): \(rows) rows do not split into \(heads) heads of even size, so its Q/K rows cannot be reordered")
        }
    }

    /// Rows of `data` (row-major, `rows` rows) put into `order`.
    public static func rows<T>(_ data: [T], rows: Int, heads: Int, to order: Order, name: String) throws -> [T] {
        try check(rows: rows, heads: heads, name: name)
        let width = data.count / rows
        let map = sourceRows(rows: rows, heads: heads, to: order)
        var out: [T] = []
        out.reserveCapacity(data.count)
        for r in 0..<rows { out.append(contentsOf: data[(map[r] * width)..<(map[r] * width + width)]) }
        return out
    }

    /// The same on stored bytes of any type: quantized blocks run along rows, so whole rows move unchanged.
    public static func rows(_ bytes: UnsafeRawBufferPointer, rows: Int, heads: Int, to order: Order, name: String) throws -> [UInt8] {
        try QKLayout.rows(Array(bytes), rows: rows, heads: heads, to: order, name: name)
    }
}

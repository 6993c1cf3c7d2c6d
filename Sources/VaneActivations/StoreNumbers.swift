import Foundation
import VaneEngine
import VaneStore

/// The one way numbers are read from an activation store: every count, offset, span and dataset shape passes
/// through here and is range-checked — against 0, against the others and against the dataset lengths — before it
/// sizes an array, bounds a range or enters arithmetic. A damaged or hand-made file then gets an error naming the
/// file, the attribute or dataset and the value, never a trap or an absurd allocation.
struct StoreNumbers {
    let path: String
    /// The most bytes any one read may return. Deflate, the only compression a store uses, needs at least 1 byte
    /// per 1032 it expands to, and every chunk of a store is written, so a read larger than 1032 × the file's size
    /// can only come from a shape the file does not hold.
    let byteLimit: Int

    init(url: URL) {
        path = url.path
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        let (limit, overflow) = size.multipliedReportingOverflow(by: 1032)
        byteLimit = overflow ? .max : limit
    }

    private func damaged(_ what: String) -> VaneError {
        VaneError("\(path): \(what)", hint: "the store is damaged or was not written by Vane; extract it again")
    }

    /// The examples complete in the store, with the metadata and row offsets of each, all checked.
    func examples(in file: HDF5File, provenance: StoreProvenance) throws
        -> (count: Int, examples: StoredExamples, tokenOffsets: [Int]?) {
        let dims = provenance.dims
        guard dims.count == 6, dims.allSatisfy({ (1...Int(Int32.max)).contains($0) }) else {
            throw damaged("root attribute dims is \(dims); expected 6 sizes [hidden_size, layers, heads, kv_heads, "
                + "head_dim, vocab_size], each 1…\(Int32.max)")
        }
        let n = Int(try file.attributes.get("n_examples", as: Int64.self))
        guard n >= 0 else { throw damaged("root attribute n_examples is \(n); a count cannot be negative") }
        let root = file.root
        func ints(_ name: String, width: Int? = nil) throws -> [Int] {
            let data = try root.openDataset(name)
            try check(data, name, rows: n, rowShape: width.map { [$0] } ?? [])
            return try data.read(rows: 0..<n, as: Int64.self).map { Int($0) }
        }
        let textData = try root.openDataset(StoreLayout.text)
        try check(textData, StoreLayout.text, rows: n, rowShape: [])
        let tokenCounts = try ints(StoreLayout.nTokens)
        let tokenIDs = try root.openDataset(StoreLayout.tokenIDs)
        let idRows = try rowCount(tokenIDs, StoreLayout.tokenIDs)
        var tokens = 0
        for (i, t) in tokenCounts.enumerated() {
            guard t >= 0, t <= idRows - tokens else {
                throw damaged("/\(StoreLayout.nTokens)[\(i)] is \(t): negative, or more than the \(idRows - tokens) "
                    + "rows of /\(StoreLayout.tokenIDs) left after the examples before it")
            }
            tokens += t
        }
        try check(tokenIDs, StoreLayout.tokenIDs, rows: tokens, rowShape: [])
        let promptCounts = try ints(StoreLayout.nPromptTokens)
        if let i = promptCounts.indices.first(where: { !(0...tokenCounts[$0]).contains(promptCounts[$0]) }) {
            throw damaged("/\(StoreLayout.nPromptTokens)[\(i)] is \(promptCounts[i]), outside 0…\(tokenCounts[i]) "
                + "(/\(StoreLayout.nTokens)[\(i)])")
        }
        let ends = try ints(StoreLayout.span, width: 2)
        let spans = try (0..<n).map { i in
            let start = ends[2 * i], end = ends[2 * i + 1]
            guard 0 <= start, start <= end, end <= tokenCounts[i] else {
                throw damaged("/\(StoreLayout.span)[\(i)] is [\(start), \(end)); a span must lie within "
                    + "0…\(tokenCounts[i]) (/\(StoreLayout.nTokens)[\(i)]) with start ≤ end")
            }
            return start..<end
        }
        let examples = StoredExamples(
            texts: try textData.read(rows: 0..<n, as: String.self), labels: try ints(StoreLayout.label),
            pairs: try ints(StoreLayout.pair), lines: try ints(StoreLayout.line), tokenCounts: tokenCounts,
            promptTokenCounts: promptCounts, spans: spans)

        var hookRows = n
        var tokenOffsets: [Int]?
        if provenance.positions == .all {
            let offsets = try root.openDataset(StoreLayout.tokenOffsets)
            try check(offsets, StoreLayout.tokenOffsets, rows: n + 1, rowShape: [])
            let values = try offsets.read(rows: 0..<(n + 1), as: Int64.self).map { Int($0) }
            // Every position of example i's span is a row, so the offsets start at 0 and step by the span lengths.
            var expected = 0
            for (i, value) in values.enumerated() {
                guard value == expected else {
                    throw damaged("/\(StoreLayout.tokenOffsets)[\(i)] is \(value), expected \(expected) (0 plus the "
                        + "lengths of the /\(StoreLayout.span) ranges before it)")
                }
                if i < n { expected += spans[i].count }
            }
            tokenOffsets = values
            hookRows = values[n]
        }
        for hook in provenance.hooks {
            try check(try root.openDataset(hook), hook, rows: hookRows, rowShape: try rowShape(hook, dims: dims),
                      type: .float32)
        }
        if try root.contains(StoreLayout.logits) {
            let logits = try root.openDataset(StoreLayout.logits)
            try check(logits, StoreLayout.logits, rows: try rowCount(logits, StoreLayout.logits), rowShape: [dims[5]],
                      type: .float32)
        }
        return (n, examples, tokenOffsets)
    }

    /// The row shape a hook's dataset must have, from its name and the model's dims [d, layers, heads, kv, hd, V];
    /// nil for names Vane does not write (such a dataset only needs rank ≥ 2).
    private func rowShape(_ hook: String, dims: [Int]) throws -> [Int]? {
        let d = dims[0], heads = dims[2], kvHeads = dims[3], headDim = dims[4]
        if hook == "hook_embed" || hook == "ln_final.hook_normalized" { return [d] }
        let parts = hook.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blocks", let layer = Int(parts[1]) else { return nil }
        guard (0..<dims[1]).contains(layer) else {
            throw damaged("root attribute hooks names \(hook), but dims says the model has layers 0…\(dims[1] - 1)")
        }
        switch parts[2] {
        case "hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post": return [d]
        case "attn.hook_z", "attn.hook_q", "attn.hook_rot_q": return [heads, headDim]
        case "attn.hook_k", "attn.hook_v", "attn.hook_rot_k": return [kvHeads, headDim]
        case "attn.hook_result": return [heads, d]
        default: return nil
        }
    }

    /// Rows on axis 0 of a dataset of rank ≥ 1.
    private func rowCount(_ data: HDF5Dataset, _ name: String) throws -> Int {
        guard let rows = try data.shape.first else { throw damaged("/\(name) is a scalar; expected rows") }
        return rows
    }

    /// Refuses a dataset unless it holds at least `rows` rows of shape `rowShape` (any shape of rank ≥ 1 when nil)
    /// of `type`, and those rows fit in `byteLimit`.
    private func check(_ data: HDF5Dataset, _ name: String, rows: Int, rowShape: [Int]?,
                       type: HDF5DataType? = nil) throws {
        let shape = try data.shape
        let expected = rowShape.map { ["\(rows) or more"] + $0.map(String.init) }.map { "[" + $0.joined(separator: ", ") + "]" }
            ?? "[\(rows) or more, …] (rank ≥ 2)"
        let shapeFits = if let rowShape { Array(shape.dropFirst()) == rowShape } else { shape.count >= 2 }
        guard shapeFits, let stored = shape.first, stored >= rows else {
            throw damaged("/\(name) has shape \(shape); expected \(expected)")
        }
        if let type, data.dataType != type {
            throw damaged("/\(name) holds \(data.dataType); expected \(type)")
        }
        var bytes = data.dataType == .int64 ? 8 : 4
        for n in [rows] + shape.dropFirst() {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: n)
            guard !overflow, product <= byteLimit else {
                throw damaged("/\(name) has shape \(shape): \(rows) rows of it are more bytes than a file of this "
                    + "size can hold, even deflated")
            }
            bytes = product
        }
    }
}

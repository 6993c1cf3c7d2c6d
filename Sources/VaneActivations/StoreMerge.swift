import Foundation
import VaneStore

/// Joins the shard stores of one input (`vane extract … --shard K/N`, one run per K) into the store that one run
/// over the whole input writes: the shards' examples in shard order, pair ids offset by the pairs of the shards
/// before (lines are the input file's already), /token_offsets recomputed. Every dataset then equals the one-run
/// store's; the root attributes are shard 1's, without `shard`, with the merge's command line.
///
/// Shards are refused unless they are exactly shards 1…N of one input, extracted with one model (identity, dims,
/// tokenizer), the same hooks, positions, span and skip_first; the chat template must agree where one was used (a
/// shard whose lines hold no `messages` used none). Batch and compression may differ: the merged store takes
/// shard 1's.
///
/// `virtual` keeps the activations in the shards: each hook dataset of the merged store is an HDF5 virtual dataset
/// mapping the shards' rows, named relative to the merged store's folder, so the shards must stay where they are
/// relative to it. The example tables are copied either way (pair ids and offsets change).
public enum StoreMerge {
    public struct Summary: Sendable {
        public var shards: Int
        public var examples: Int
        public var fileBytes: Int
    }

    /// Writes the merged store to a temporary file beside `output`, checks that it opens, and renames it over
    /// `output`; on error nothing is left behind.
    public static func merge(_ inputs: [URL], into output: URL, virtual: Bool = false,
                             commandLine: String = "") throws -> Summary {
        guard !inputs.isEmpty else { throw VaneError("give the shard stores to merge (A.h5 B.h5 …)") }
        try checkWritable(output)
        let outputPath = output.resolvingSymlinksInPath().path
        for url in inputs {
            guard !url.path.hasSuffix(".partial") else {
                throw VaneError("\(url.path) is an unfinished extraction; finish it with `vane extract … --resume` "
                    + "first, then merge the finished store")
            }
            guard url.resolvingSymlinksInPath().path != outputPath else {
                throw VaneError("-o \(output.path) is one of the shards; write the merged store to another file")
            }
        }
        let shards = try ordered(try inputs.map { try ActivationStore(url: $0) })
        var provenance = shards[0].provenance
        provenance.shard = nil
        provenance.chatTemplate = shards.map(\.provenance.chatTemplate).first { !$0.isEmpty } ?? ""
        provenance.commandLine = commandLine
        provenance.vaneVersion = VaneVersion.current
        provenance.created = ISO8601DateFormatter().string(from: Date())

        let folder = output.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(output.lastPathComponent).\(getpid()).partial")
        do {
            let rowShapes = try provenance.hooks.map { Array(try shards[0].shape(hook: $0).dropFirst()) }
            let links = virtual ? try provenance.hooks.map { try sources(of: $0, in: shards, from: folder) } : nil
            try write(shards, to: temporary, provenance: provenance, rowShapes: rowShapes, linking: links)
            let merged = try ActivationStore(url: temporary)
            let total = shards.map(\.count).reduce(0, +)
            guard merged.count == total else {
                throw VaneError("\(temporary.path): holds \(merged.count) examples after merging \(total)")
            }
            try replace(output, with: temporary)
            return Summary(shards: shards.count, examples: total, fileBytes: fileSize(output))
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// The stores in shard order; refused unless they are shards 1…N of one extraction, each given once.
    static func ordered(_ stores: [ActivationStore]) throws -> [ActivationStore] {
        let first = stores[0]
        for store in stores {
            guard store.provenance.tool == "extract", store.provenance.shard != nil else {
                throw VaneError("\(store.url.path) is not a shard: it has no root attribute shard (made by `vane "
                    + "\(store.provenance.tool)` without --shard K/N); merge the stores of `vane extract … --shard K/N`")
            }
            for ((name, expected), (_, found)) in zip(first.provenance.mergeSettings, store.provenance.mergeSettings)
            where expected != found {
                throw VaneError("cannot merge \(store.url.path) with \(first.url.path): attribute \(name) differs "
                    + "(\(shown(found)) vs \(shown(expected))); shards of one input share the model, hooks, positions, "
                    + "span and input")
            }
            let templates = [first, store].map(\.provenance.chatTemplate)
            if !templates.contains(""), templates[0] != templates[1] {
                throw VaneError("cannot merge \(store.url.path) with \(first.url.path): attribute chat_template "
                    + "differs; both rendered `messages`, with different templates")
            }
        }
        let n = first.provenance.shard?.count ?? 0
        var byIndex: [Int: ActivationStore] = [:]
        for store in stores {
            guard let k = store.provenance.shard?.index else { continue }
            if let other = byIndex[k] {
                throw VaneError("\(other.url.path) and \(store.url.path) are both shard \(k)/\(n); give each shard once")
            }
            byIndex[k] = store
        }
        let missing = (1...n).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            throw VaneError("shard\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", ")) "
                + "of \(n) missing: the merge needs every shard 1…\(n) of the input (given: "
                + byIndex.keys.sorted().map(String.init).joined(separator: ", ") + ")")
        }
        return (1...n).compactMap { byIndex[$0] }
    }

    /// Writes the merged store and lets go of it: the writer's datasets keep libhdf5's file open for writing until
    /// they are gone, and the file cannot be opened for reading before then.
    private static func write(_ shards: [ActivationStore], to url: URL, provenance: StoreProvenance,
                              rowShapes: [[Int]], linking: [[HDF5VirtualSource]]?) throws {
        let writer = try ActivationWriter.create(at: url, provenance: provenance, rowShapes: rowShapes, linking: linking)
        try copy(shards, into: writer, activations: linking == nil)
        try writer.close()
    }

    /// Appends every shard's examples in order, `batch` examples per append, pair ids offset; with
    /// `activations`, their hook rows too.
    private static func copy(_ shards: [ActivationStore], into writer: ActivationWriter, activations: Bool) throws {
        let step = writer.provenance.batch
        var pairOffset = 0
        for store in shards {
            let e = store.examples
            for start in stride(from: 0, to: store.count, by: step) {
                let range = start..<min(start + step, store.count)
                let blockRows = try store.rows(ofExamples: range)
                let hookRows = activations ? try store.hooks.map { try store.read(hook: $0, examples: range) } : []
                let tokens = try store.tokenIDs(examples: range)
                let batch = try range.map { i in
                    let rows = try store.rows(ofExamples: i..<(i + 1))
                    let local = (rows.lowerBound - blockRows.lowerBound)..<(rows.upperBound - blockRows.lowerBound)
                    return ExtractedExample(
                        text: e.texts[i], label: e.labels[i], pair: e.pairs[i] < 0 ? -1 : e.pairs[i] + pairOffset,
                        line: e.lines[i], tokens: tokens[i - start], promptTokens: e.promptTokenCounts[i],
                        span: e.spans[i], activations: hookRows.map { tensor in
                            let width = tensor.shape.dropFirst().reduce(1, *)
                            return Array(tensor.data[(local.lowerBound * width)..<(local.upperBound * width)])
                        })
                }
                try writer.append(batch)
            }
            pairOffset += (e.pairs.max() ?? -1) + 1
        }
    }

    /// Where each shard's rows of `hook` go in the merged store, the shard files named relative to `folder`.
    private static func sources(of hook: String, in shards: [ActivationStore], from folder: URL) throws
        -> [HDF5VirtualSource] {
        var at = 0
        var out: [HDF5VirtualSource] = []
        for store in shards {
            let rows = try store.rows(ofExamples: 0..<store.count).count
            out.append(HDF5VirtualSource(file: relativePath(of: store.url, from: folder), dataset: "/" + hook,
                                         rows: rows, at: at))
            at += rows
        }
        return out
    }

    /// `file`'s path relative to `folder` ("a.h5", "../shards/a.h5"), symbolic links resolved.
    static func relativePath(of file: URL, from folder: URL) -> String {
        let target = file.resolvingSymlinksInPath().standardizedFileURL.pathComponents
        let base = folder.resolvingSymlinksInPath().standardizedFileURL.pathComponents
        var common = 0
        while common < min(target.count - 1, base.count), target[common] == base[common] { common += 1 }
        return (Array(repeating: "..", count: base.count - common) + target[common...]).joined(separator: "/")
    }

    private static func shown(_ s: String) -> String { s.count > 80 ? String(s.prefix(77)) + "…" : s }
}

import Foundation
import VaneEngine
import VaneStore
import VaneTensor

/// The per-example metadata of a store (`/examples/*`), N entries each.
public struct StoredExamples: Equatable, Sendable {
    public var texts: [String]
    /// −1 where the example has no label; contrastive pairs: positive 1, negative 0.
    public var labels: [Int]
    /// Pair id shared by a positive and its negative; −1 outside pairs.
    public var pairs: [Int]
    /// 1-based line in the input file (0 for a trace).
    public var lines: [Int]
    public var tokenCounts: [Int]
    public var promptTokenCounts: [Int]
    /// Token range the positions were taken from.
    public var spans: [Range<Int>]

    public var count: Int { labels.count }
}

/// An activation store opened for reading (read-only; the file may be a copy of one still being written).
///
///     let store = try ActivationStore(url: URL(fileURLWithPath: "acts.h5"))
///     let x = try store.read(hook: "blocks.12.hook_resid_post")      // [N, d] (pooled) or [Σ T, d] (all)
///     let positives = store.examples.labels.indices.filter { store.examples.labels[$0] == 1 }
///
/// Only the first `count` rows (the examples complete at the last flush) are ever read.
public final class ActivationStore {
    public let url: URL
    public let provenance: StoreProvenance
    /// Examples complete in the store.
    public let count: Int
    public let examples: StoredExamples
    /// [N + 1] row offsets of each example in the hook datasets when positions are `all`; nil for pooled stores.
    public let tokenOffsets: [Int]?
    private let file: HDF5File

    public var hooks: [String] { provenance.hooks }
    public var positions: PositionMode { provenance.positions }

    public init(url: URL) throws {
        self.url = url
        file = try HDF5File.open(at: url, mode: .readOnly)
        provenance = try StoreProvenance(reading: file.attributes, file: url.path)
        (count, examples, tokenOffsets) = try StoreNumbers(url: url).examples(in: file, provenance: provenance)
        try checkLinkedShards()
    }

    /// A merged store made with `--virtual` reads its hook rows from the shard files; libhdf5 would read zeros
    /// where one is missing, so each must be where the store names it (relative to the store's folder).
    private func checkLinkedShards() throws {
        var checked = Set<String>()
        for hook in hooks {
            for source in try file.root.openDataset(hook).virtualSourceFiles where checked.insert(source).inserted {
                let path = source.hasPrefix("/") ? source : url.deletingLastPathComponent().appendingPathComponent(source).path
                guard FileManager.default.fileExists(atPath: path) else {
                    throw VaneError("\(url.path): /\(hook) reads its rows from \(source), which is not at \(path)",
                                    hint: "a store merged with --virtual needs its shard files where they were, relative "
                                        + "to it; put them back, or merge again without --virtual")
                }
            }
        }
    }

    /// Rows of the hook datasets that belong to examples `range`.
    public func rows(ofExamples range: Range<Int>) throws -> Range<Int> {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw VaneError("\(url.path): examples \(range.lowerBound)..<\(range.upperBound) outside 0..<\(count)")
        }
        guard let tokenOffsets else { return range }
        return tokenOffsets[range.lowerBound]..<tokenOffsets[range.upperBound]
    }

    /// The shape of a hook's dataset over the complete examples: [N, …] pooled, [Σ T, …] for all positions.
    public func shape(hook: String) throws -> [Int] {
        var shape = try dataset(hook).shape
        shape[0] = try rows(ofExamples: 0..<count).count
        return shape
    }

    /// The whole of a hook's dataset over the complete examples.
    public func read(hook: String) throws -> Tensor {
        try read(hook: hook, examples: 0..<count)
    }

    public func read(_ point: HookPoint) throws -> Tensor {
        try read(hook: point.description)
    }

    /// The rows of examples `range`: [range.count, …] pooled, [Σ T over the range, …] for all positions.
    public func read(hook: String, examples range: Range<Int>) throws -> Tensor {
        let data = try dataset(hook)
        var shape = try data.shape
        let rows = try rows(ofExamples: range)
        shape[0] = rows.count
        return Tensor(shape: shape, data: try data.read(rows: rows, as: Float.self))
    }

    /// One example's rows: [1, …] pooled, [T, …] for all positions.
    public func read(hook: String, example: Int) throws -> Tensor {
        try read(hook: hook, examples: example..<(example + 1))
    }

    /// One example's token ids (the whole input, not only the span).
    public func tokenIDs(example: Int) throws -> [Int] {
        guard (0..<count).contains(example) else {
            throw VaneError("\(url.path): example \(example) outside 0..<\(count)")
        }
        let start = examples.tokenCounts[..<example].reduce(0, +)
        let ids = try file.root.openDataset(StoreLayout.tokenIDs)
            .read(rows: start..<(start + examples.tokenCounts[example]), as: Int64.self)
        return ids.map { Int($0) }
    }

    /// The token ids of examples `range`, one array per example.
    public func tokenIDs(examples range: Range<Int>) throws -> [[Int]] {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw VaneError("\(url.path): examples \(range.lowerBound)..<\(range.upperBound) outside 0..<\(count)")
        }
        let start = examples.tokenCounts[..<range.lowerBound].reduce(0, +)
        let counts = examples.tokenCounts[range]
        let ids = try file.root.openDataset(StoreLayout.tokenIDs)
            .read(rows: start..<(start + counts.reduce(0, +)), as: Int64.self)
        var out: [[Int]] = []
        var offset = 0
        for n in counts {
            out.append(ids[offset..<(offset + n)].map { Int($0) })
            offset += n
        }
        return out
    }

    /// A trace's logits [T, V]; nil for an extraction store.
    public func logits() throws -> Tensor? {
        guard try file.root.contains(StoreLayout.logits) else { return nil }
        let data = try file.root.openDataset(StoreLayout.logits)
        return Tensor(shape: try data.shape, data: try data.read(as: Float.self))
    }

    private func dataset(_ hook: String) throws -> HDF5Dataset {
        guard hooks.contains(hook) else {
            throw VaneError("\(url.path) holds no hook \"\(hook)\"; it holds "
                + (hooks.count <= 6 ? hooks.joined(separator: ", ")
                    : "\(hooks.count) hooks (\(hooks[0]) … \(hooks[hooks.count - 1]))"))
        }
        return try file.root.openDataset(hook)
    }
}

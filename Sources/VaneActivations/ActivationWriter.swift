import Foundation
import VaneStore
import VaneTensor

/// One example as the writer stores it.
public struct ExtractedExample: Sendable {
    public var text: String
    public var label: Int
    public var pair: Int
    public var line: Int
    public var tokens: [Int]
    public var promptTokens: Int
    public var span: Range<Int>
    /// Per hook, in the store's hook order, the example's rows, row-major: one row when pooled, span.count rows
    /// for all positions.
    public var activations: [[Float]]

    public init(text: String, label: Int, pair: Int, line: Int, tokens: [Int], promptTokens: Int, span: Range<Int>,
                activations: [[Float]]) {
        self.text = text
        self.label = label
        self.pair = pair
        self.line = line
        self.tokens = tokens
        self.promptTokens = promptTokens
        self.span = span
        self.activations = activations
    }
}

/// Writes a store batch by batch (layout in StoreLayout.swift). Each `append` writes every dataset, records the
/// new example count in `n_examples` and flushes, so the file on disk is always a valid store of whole batches.
public final class ActivationWriter {
    public let url: URL
    public let provenance: StoreProvenance
    /// Examples written so far.
    public private(set) var count: Int
    private let file: HDF5File
    private let hookData: [HDF5Dataset]
    private let text, label, pair, line, nTokens, nPromptTokens, span, tokenIDs: HDF5Dataset
    private let tokenOffsets: HDF5Dataset?
    private var rowsWritten: Int

    /// Creates a new store, replacing any file at `url`. `rowShapes[i]` is the shape of one row of hook i
    /// ([d], [H, d] or [H, hd]). With `linking`, hook i is a virtual dataset of the rows `linking[i]` maps (the
    /// rows of other stores, StoreMerge.swift), and `append` writes only the example tables.
    public static func create(at url: URL, provenance: StoreProvenance, rowShapes: [[Int]],
                              linking: [[HDF5VirtualSource]]? = nil) throws -> ActivationWriter {
        let file: HDF5File
        do {
            file = try HDF5File.create(at: url, mode: .truncate)
        } catch let error as VaneError {
            throw VaneError("cannot create \(url.path): \(error.message); check that its folder is writable")
        }
        try provenance.write(to: file.attributes)
        try file.attributes.set("n_examples", Int64(0))
        let deflate = provenance.deflate > 0 ? provenance.deflate : nil
        // Pooled stores get one chunk per batch, so a flush writes whole chunks once; all-token stores get the
        // default (about 1 MiB).
        let chunkRows = provenance.positions.isPooled ? provenance.batch : nil
        let root = file.root
        for (h, (hook, rowShape)) in zip(provenance.hooks, rowShapes).enumerated() {
            if let sources = linking?[h] {
                _ = try root.createVirtualDataset(hook, type: .float32,
                                                  shape: [sources.map(\.rows).reduce(0, +)] + rowShape, sources: sources)
            } else {
                _ = try root.createDataset(hook, type: .float32, shape: [0] + rowShape, chunkRows: chunkRows,
                                           deflate: deflate)
            }
        }
        for path in [StoreLayout.label, StoreLayout.pair, StoreLayout.line, StoreLayout.nTokens,
                     StoreLayout.nPromptTokens, StoreLayout.tokenIDs] {
            _ = try root.createDataset(path, type: .int64, shape: [0], deflate: deflate)
        }
        _ = try root.createDataset(StoreLayout.span, type: .int64, shape: [0, 2], deflate: deflate)
        _ = try root.createDataset(StoreLayout.text, type: .string, shape: [0])
        if provenance.positions == .all {
            let offsets = try root.createDataset(StoreLayout.tokenOffsets, type: .int64, shape: [0], deflate: deflate)
            try offsets.append(rows: [Int64(0)])
        }
        try file.flush()
        return try ActivationWriter(file: file, url: url, provenance: provenance, count: 0, linked: linking != nil)
    }

    /// Opens an interrupted store to continue it: its settings must equal `provenance`'s (model, hooks,
    /// positions, span, input, batch, compression), and rows past `n_examples` are dropped.
    public static func resume(at url: URL, provenance: StoreProvenance) throws -> ActivationWriter {
        let file: HDF5File
        do {
            file = try HDF5File.open(at: url, mode: .readWrite)
        } catch let error as VaneError where error.message.contains("unable to lock file") {
            throw VaneError("cannot resume \(url.path): another process has it open (\(error.message)); close it "
                + "(h5py, another vane) and retry")
        }
        let stored = try StoreProvenance(reading: file.attributes, file: url.path)
        try stored.checkResumable(as: provenance, url: url)
        let n = try StoreNumbers(url: url).examples(in: file, provenance: stored).count
        let writer = try ActivationWriter(file: file, url: url, provenance: stored, count: n)
        try writer.truncateToCount()
        return writer
    }

    private init(file: HDF5File, url: URL, provenance: StoreProvenance, count: Int, linked: Bool = false) throws {
        self.file = file
        self.url = url
        self.provenance = provenance
        self.count = count
        let root = file.root
        hookData = linked ? [] : try provenance.hooks.map { try root.openDataset($0) }
        text = try root.openDataset(StoreLayout.text)
        label = try root.openDataset(StoreLayout.label)
        pair = try root.openDataset(StoreLayout.pair)
        line = try root.openDataset(StoreLayout.line)
        nTokens = try root.openDataset(StoreLayout.nTokens)
        nPromptTokens = try root.openDataset(StoreLayout.nPromptTokens)
        span = try root.openDataset(StoreLayout.span)
        tokenIDs = try root.openDataset(StoreLayout.tokenIDs)
        tokenOffsets = provenance.positions == .all ? try root.openDataset(StoreLayout.tokenOffsets) : nil
        rowsWritten = 0
    }

    /// Drops whatever a killed run wrote after its last flushed batch.
    private func truncateToCount() throws {
        guard try label.shape[0] >= count else {
            throw VaneError("\(url.path): n_examples is \(count) but /\(StoreLayout.label) has fewer rows; "
                + "the file is damaged — delete it and extract again")
        }
        let tokenCount = try nTokens.read(rows: 0..<count, as: Int64.self).reduce(0, +)
        if let tokenOffsets {
            try tokenOffsets.truncate(rows: count + 1)
            rowsWritten = Int(try tokenOffsets.read(rows: count..<(count + 1), as: Int64.self)[0])
        } else {
            rowsWritten = count
        }
        for data in hookData { try data.truncate(rows: rowsWritten) }
        for data in [text, label, pair, line, nTokens, nPromptTokens, span] { try data.truncate(rows: count) }
        try tokenIDs.truncate(rows: Int(tokenCount))
        try file.flush()
    }

    /// Appends a batch to every dataset, then records the count and flushes.
    public func append(_ batch: [ExtractedExample]) throws {
        guard !batch.isEmpty else { return }
        for (h, data) in hookData.enumerated() {
            try data.append(rows: batch.flatMap { $0.activations[h] })
        }
        if let tokenOffsets {
            var offsets: [Int64] = []
            for example in batch {
                rowsWritten += example.span.count
                offsets.append(Int64(rowsWritten))
            }
            try tokenOffsets.append(rows: offsets)
        }
        try tokenIDs.append(rows: batch.flatMap { $0.tokens.map(Int64.init) })
        try text.append(rows: batch.map(\.text))
        try label.append(rows: batch.map { Int64($0.label) })
        try pair.append(rows: batch.map { Int64($0.pair) })
        try line.append(rows: batch.map { Int64($0.line) })
        try nTokens.append(rows: batch.map { Int64($0.tokens.count) })
        try nPromptTokens.append(rows: batch.map { Int64($0.promptTokens) })
        try span.append(rows: batch.flatMap { [Int64($0.span.lowerBound), Int64($0.span.upperBound)] })
        count += batch.count
        try file.attributes.set("n_examples", Int64(count))
        try file.flush()
    }

    /// Adds a trace's logits [T, V].
    public func writeLogits(_ logits: Tensor) throws {
        let data = try file.root.createDataset(StoreLayout.logits, type: .float32, shape: [0, logits.cols],
                                               deflate: provenance.deflate > 0 ? provenance.deflate : nil)
        try data.append(rows: logits.data)
        try file.flush()
    }

    public func close() throws {
        try file.close()
    }
}

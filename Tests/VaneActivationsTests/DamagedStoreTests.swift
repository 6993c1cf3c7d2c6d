import Foundation
import Testing
import VaneActivations
import VaneCore
import VaneStore
import VaneTestSupport

/// Stores whose numbers parse but do not fit together: each opens with an error naming the file, the attribute or
/// dataset and the value, never a trap.
@Suite struct DamagedStoreTests {
    /// A store of two examples (4 tokens each, span 1..<3) at blocks.1.hook_resid_post of a d = 4 model, with that
    /// hook's rows of shape `rowShape`, then `damage` applied to the closed file.
    func store(_ positions: PositionMode = .last, rowShape: [Int] = [4],
               damage: (HDF5File) throws -> Void = { _ in }) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-damaged-\(UUID()).h5")
        let writer = try ActivationWriter.create(at: url, provenance: provenance(positions), rowShapes: [rowShape])
        let rows = positions == .all ? 2 : 1
        let width = rowShape.reduce(1, *)
        try writer.append((0..<2).map { i in
            ExtractedExample(text: "e\(i)", label: i, pair: 0, line: i + 1, tokens: [1, 2, 3, 4], promptTokens: 4,
                             span: 1..<3, activations: [[Float](repeating: Float(i), count: rows * width)])
        })
        try writer.close()
        let file = try HDF5File.open(at: url, mode: .readWrite)
        try damage(file)
        try file.close()
        return url
    }

    func provenance(_ positions: PositionMode) -> StoreProvenance {
        StoreProvenance(
            tool: "extract", modelPath: "m.gguf", modelSHA256: "abc", architecture: "llama", dims: [4, 2, 1, 1, 4, 10],
            tokenizer: "t", chatTemplate: "", hooks: ["blocks.1.hook_resid_post"], positions: positions, span: .input,
            inputPath: "in.jsonl", inputSHA256: "def", batch: 2, deflate: 0, commandLine: "vane extract",
            created: "2025-01-01T00:00:00Z")
    }

    func openError(_ url: URL) -> String {
        defer { try? FileManager.default.removeItem(at: url) }
        return errorText { _ = try ActivationStore(url: url).summary() }
    }


    @Test func intactStoreOpens() throws {
        #expect(openError(try store()) == "no error")
        #expect(openError(try store(.all)) == "no error")
    }

    @Test func negativeExampleCount() throws {
        let url = try store { try $0.attributes.set("n_examples", Int64(-1)) }
        expect(openError(url), contains: [url.path, "n_examples", "-1"])
        let more = try store { try $0.attributes.set("n_examples", Int64(5)) }
        expect(openError(more), contains: [more.path, "/examples/", "[5 or more]"])
    }

    @Test func spanOutsideItsExample() throws {
        let reversed = try store { try $0.root.openDataset(StoreLayout.span).write([Int64(3), 1, 1, 3]) }
        expect(openError(reversed), contains: [reversed.path, "/examples/span[0]", "[3, 1)"])
        let past = try store { try $0.root.openDataset(StoreLayout.span).write([Int64(1), 3, 1, 9]) }
        expect(openError(past), contains: [past.path, "/examples/span[1]", "[1, 9)", "0…4"])
    }

    @Test func hugeOrNegativeTokenCounts() throws {
        let huge = try store { try $0.root.openDataset(StoreLayout.nTokens).write([Int64(1) << 60, 4]) }
        expect(openError(huge), contains: [huge.path, "/examples/n_tokens[0]", "\(Int64(1) << 60)"])
        let negative = try store { try $0.root.openDataset(StoreLayout.nTokens).write([Int64(4), -4]) }
        expect(openError(negative), contains: [negative.path, "/examples/n_tokens[1]", "-4"])
        let prompt = try store { try $0.root.openDataset(StoreLayout.nPromptTokens).write([Int64(4), 7]) }
        expect(openError(prompt), contains: [prompt.path, "/examples/n_prompt_tokens[1]", "7"])
    }

    @Test func tokenOffsetsOutOfStep() throws {
        let url = try store(.all) { try $0.root.openDataset(StoreLayout.tokenOffsets).write([Int64(0), 3, 4]) }
        expect(openError(url), contains: [url.path, "/token_offsets[1]", "is 3", "expected 2"])
        let past = try store(.all) { try $0.root.openDataset(StoreLayout.tokenOffsets).write([Int64(0), 2, 1 << 40]) }
        expect(openError(past), contains: [past.path, "/token_offsets[2]"])
    }

    /// A hook dataset of the wrong width or rank (B16): refused with its shape and the one expected.
    @Test func hookDatasetOfWrongShape() throws {
        let wide = try store(rowShape: [5])
        expect(openError(wide), contains: [wide.path, "/blocks.1.hook_resid_post", "[2, 5]", "[2 or more, 4]"])
        let flat = try store(rowShape: [])
        expect(openError(flat), contains: [flat.path, "/blocks.1.hook_resid_post", "[2]", "[2 or more, 4]"])
        let cube = try store(rowShape: [1, 4])
        expect(openError(cube), contains: [cube.path, "/blocks.1.hook_resid_post", "[2, 1, 4]", "[2 or more, 4]"])
    }

    @Test func badDims() throws {
        let url = try store { try $0.attributes.set("dims", [Int64(4), -2, 1, 1, 4, 10]) }
        expect(openError(url), contains: [url.path, "dims", "-2"])
    }

    /// Resuming reads the interrupted store through the same checks.
    @Test func resumeChecksTheStore() throws {
        let url = try store { try $0.attributes.set("n_examples", Int64(-3)) }
        defer { try? FileManager.default.removeItem(at: url) }
        let error = #expect(throws: VaneError.self) {
            try ActivationWriter.resume(at: url, provenance: provenance(.last))
        }
        expect(error?.message ?? "", contains: [url.path, "n_examples", "-3"])
    }

    /// The store's strings live in a global-heap collection; libhdf5 1.10 trusts its object sizes (a crash on an
    /// oversized object, an endless loop on a zero-sized free space). Vane's file driver checks the collection
    /// first: each damage below is an error naming the collection's byte offset.
    @Test(arguments: [
        (object: 0, size: UInt64(687_865_872), expected: "object 1 at byte"),
        (object: 2, size: UInt64(0), expected: "its free space at byte"),
    ])
    func damagedGlobalHeap(object: Int, size: UInt64, expected: String) throws {
        let url = try store()
        var bytes = [UInt8](try Data(contentsOf: url))
        let collection = try #require(bytes.indices.first { bytes[$0...].starts(with: Array("GCOL".utf8)) })
        // Objects: a 16-byte header (index u16, references u16, reserved u32, size u64), data padded to 8 bytes.
        var offset = collection + 16
        for _ in 0..<object {
            let size = (0..<8).reduce(0) { $0 | Int(bytes[offset + 8 + $1]) << (8 * $1) }
            offset += 16 + (size + 7) / 8 * 8
        }
        if size == 0 { bytes[offset] = 0; bytes[offset + 1] = 0 }  // make it the free space
        for i in 0..<8 { bytes[offset + 8 + i] = UInt8(truncatingIfNeeded: size >> (8 * UInt64(i))) }
        try Data(bytes).write(to: url)
        expect(openError(url), contains: ["global heap collection at byte \(collection)", expected, "damaged"])
    }

    /// A string element is a reference — length (4 bytes), collection address (8), object index (4) — and libhdf5
    /// 1.10 follows it unchecked (an index past the collection's objects read past its object table: a crash).
    /// Vane reads the references raw and checks them first.
    @Test(arguments: [
        (length: UInt32?.none, index: UInt32?.some(60), expected: "refers to object 60"),
        (length: UInt32?.some(1), index: UInt32?.none, expected: "declares 1 bytes"),
    ])
    func damagedHeapReference(length: UInt32?, index: UInt32?, expected: String) throws {
        let url = try store()
        var bytes = [UInt8](try Data(contentsOf: url))
        let collection = try #require(bytes.indices.first { bytes[$0...].starts(with: Array("GCOL".utf8)) })
        // The first reference to object 1 of that collection: its address, then index 1.
        let pattern = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(collection) >> (8 * UInt64($0))) } + [1, 0, 0, 0]
        let at = try #require(bytes.indices.first { $0 >= 4 && bytes[$0...].starts(with: pattern) }) - 4
        func put(_ value: UInt32, at offset: Int) {
            for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
        }
        if let length { put(length, at: at) }
        if let index { put(index, at: at + 12) }
        try Data(bytes).write(to: url)
        expect(openError(url), contains: [expected, "global heap collection at byte \(collection)", "damaged"])
    }

    /// An empty string (the store's chat_template here) still has a reference, which libhdf5 1.10 follows: a bad
    /// object index in it is refused like any other (the fuzzer's input crashed only now and then, depending on
    /// what lay past libhdf5's object table).
    @Test func damagedEmptyStringReference() throws {
        let url = try store()
        var bytes = [UInt8](try Data(contentsOf: url))
        let collection = try #require(bytes.indices.first { bytes[$0...].starts(with: Array("GCOL".utf8)) })
        // A reference of length 0 into that collection: 4 zero bytes, then its address.
        let pattern = [0, 0, 0, 0] + (0..<8).map { UInt8(truncatingIfNeeded: UInt64(collection) >> (8 * UInt64($0))) }
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: pattern) })
        for (i, byte) in [UInt8(0x07), 0x02, 0, 0].enumerated() { bytes[at + 12 + i] = byte }  // object 519
        try Data(bytes).write(to: url)
        expect(openError(url), contains: ["refers to object 519", "global heap collection at byte \(collection)", "damaged"])
    }
}

import Foundation
import Testing
import VaneActivations
import VaneCore
import VaneTestSupport

/// Writer → reader round trips of the layout, including a run cut short and resumed.
@Suite struct StoreRoundTripTests {
    func provenance(_ positions: PositionMode, batch: Int = 2) -> StoreProvenance {
        StoreProvenance(tool: "extract", modelPath: "m.gguf", modelSHA256: "abc", architecture: "llama",
                        dims: [3, 2, 1, 1, 3, 10], tokenizer: "t", chatTemplate: "", hooks: ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"],
                        positions: positions, span: .input, inputPath: "in.jsonl", inputSHA256: "def", batch: batch,
                        deflate: 0, commandLine: "vane extract")
    }

    func example(_ i: Int, rows: Int) -> ExtractedExample {
        ExtractedExample(text: "text \(i) é", label: i % 2, pair: i / 2, line: i + 1, tokens: Array(0..<(rows + 1)),
                         promptTokens: rows + 1, span: 1..<(rows + 1),
                         activations: [(0..<(3 * rows)).map { Float(i * 100 + $0) },
                                       (0..<(3 * rows)).map { -Float(i * 100 + $0) }])
    }

    @Test func allPositionsRoundTrip() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-store-\(UUID()).h5")
        defer { try? FileManager.default.removeItem(at: url) }
        let writer = try ActivationWriter.create(at: url, provenance: provenance(.all), rowShapes: [[3], [3]])
        try writer.append([example(0, rows: 2), example(1, rows: 3)])
        try writer.append([example(2, rows: 1)])
        try writer.close()

        let store = try ActivationStore(url: url)
        #expect(store.count == 3)
        #expect(store.tokenOffsets == [0, 2, 5, 6])
        #expect(try store.shape(hook: "blocks.1.hook_resid_post") == [6, 3])
        #expect(store.examples.texts == ["text 0 é", "text 1 é", "text 2 é"])
        #expect(store.examples.labels == [0, 1, 0])
        #expect(store.examples.pairs == [0, 0, 1])
        #expect(store.examples.spans == [1..<3, 1..<4, 1..<2])
        #expect(try store.tokenIDs(example: 1) == [0, 1, 2, 3])
        let rows = try store.read(hook: "blocks.0.hook_resid_post", example: 1)
        #expect(rows.shape == [3, 3])
        #expect(rows.data == example(1, rows: 3).activations[0])
        #expect(throws: VaneError.self) { try store.read(hook: "blocks.7.hook_resid_post") }
    }

    @Test func resumeDropsUnflushedRowsAndChecksSettings() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-store-\(UUID()).h5")
        defer { try? FileManager.default.removeItem(at: url) }
        let writer = try ActivationWriter.create(at: url, provenance: provenance(.mean), rowShapes: [[3], [3]])
        try writer.append([example(0, rows: 1), example(1, rows: 1)])
        try writer.close()

        var other = provenance(.mean)
        other.modelSHA256 = "xyz"
        #expect {
            try ActivationWriter.resume(at: url, provenance: other)
        } throws: { "\($0)".contains("model_sha256 abc") }

        let resumed = try ActivationWriter.resume(at: url, provenance: provenance(.mean))
        #expect(resumed.count == 2)
        try resumed.append([example(2, rows: 1)])
        try resumed.close()
        let store = try ActivationStore(url: url)
        #expect(store.count == 3)
        #expect(try store.read(hook: "blocks.1.hook_resid_post").data == (0..<3).flatMap { example($0, rows: 1).activations[1] })
    }
}

import Foundation
import Testing
import VaneEdit
import VaneEngine
import VaneTestSupport

/// `vane convert` GGUF → HF (f32) → GGUF keeps the model's function: logits of both conversions run by the engine
/// equal the source's (exact precision, ≤ 1e-4), on the tiny fixtures and on the default model (Q4_1 source:
/// its dequantized weights are what f32 carries).
@Suite struct ConvertLogitsTests {
    static let ids = [504, 3575, 282, 4649, 314]

    func logits(_ url: URL, _ ids: [Int]) throws -> [Float] {
        let m = try LanguageModel(url: url)
        return try m.transformer.forward(ids, cache: m.transformer.makeCache(capacity: ids.count), logits: .all).data
    }

    func roundTrip(_ source: URL, name: String, ids: [Int]) throws {
        let dir = try scratch("convert-logits-\(name)")
        let hf = dir.appendingPathComponent("hf"), back = dir.appendingPathComponent("back.gguf")
        try Convert.run(ModelInput(url: source), to: OutputOptions(url: hf, dtype: .f32))
        try Convert.run(ModelInput(url: hf), to: OutputOptions(url: back, dtype: .f32))
        let expected = try logits(source, ids)
        for (label, url) in [("HF", hf), ("GGUF again", back)] {
            if let msg = compare(try logits(url, ids), expected, atol: 1e-4, label: "\(name) via \(label)") {
                Issue.record(Comment(rawValue: msg))
            }
        }
        try? FileManager.default.removeItem(at: dir)
    }

    @Test(arguments: ["tiny-llama", "tiny-qwen2"])
    func tinyModels(_ name: String) throws {
        try roundTrip(Fixtures.url("\(name).f32.gguf"), name: name, ids: [46, 332, 355, 320, 264, 300])
    }

    @Test(.enabled(if: Fixtures.smollm2 != nil, "SmolLM2 not in the cache: run `vane fetch smollm2`"))
    func defaultModel() throws {
        try roundTrip(try #require(Fixtures.smollm2), name: "smollm2", ids: Self.ids)
    }
}

import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Qwen2.5-Coder-0.5B-Instruct (qwen2, Q5_0 with Q4_K / Q6_K / Q8_0 tensors, untied output) against a float64
/// forward pass over its gguf-py-dequantized weights, with token ids from HF tokenizers' BPE built from the GGUF's
/// vocabulary (Tests/Fixtures/qwen2.5-coder-0.5b/make_reference.py). Skipped when the model has not been fetched.
@Suite(.enabled(if: Fixtures.qwenCoder05 != nil, "Qwen2.5-Coder-0.5B not in the cache: run `vane fetch qwen2.5-coder-0.5b`"))
struct QwenCoderTests {
    struct Reference: Decodable { var kind: String; var text: String; var ids: [Int]; var top5: [[Double]]; var greedy: [Int] }

    func open() throws -> LanguageModel { try LanguageModel(url: try #require(Fixtures.qwenCoder05)) }

    func references() throws -> [Reference] {
        try JSONDecoder().decode([Reference].self, from: Data(contentsOf: Fixtures.url("qwen2.5-coder-0.5b/reference.json")))
    }

    /// The tokenizer gives HF tokenizers' ids; the last position's logits are within 1e-4 of the float64 pass
    /// (measured: max |Δ| ≈ 1e-5, on logits up to about 20) and the top-1 token is the same.
    @Test func forwardMatchesFloat64Reference() throws {
        let model = try open()
        #expect(model.config.numHiddenLayers == 24 && model.config.hiddenSize == 896)
        let ref = try loadReference(Fixtures.url("qwen2.5-coder-0.5b/reference.safetensors"))
        for (i, r) in try references().enumerated() {
            #expect(model.encode(r.text) == r.ids, "\(r.kind): token ids")
            let logits = try model.transformer.forward(r.ids, cache: model.transformer.makeCache(capacity: r.ids.count), logits: .last)
            if let msg = compare(logits.data, ref["p\(i).last_logits"]!.data, atol: 1e-4, label: "p\(i) (\(r.kind)) last logits") {
                Issue.record(Comment(rawValue: msg))
            }
            #expect(Sampler.argmax(logits.data) == Int(r.top5[0][0]), "\(r.kind): top-1")
        }
    }

    /// A prompt batch in fast precision (8-bit activations, tiled integer products over the Q5_0, Q4_K, Q6_K and
    /// Q8_0 blocks) keeps the last position's logits within 1.0 of the float64 pass and the same top-1 token.
    @Test func fastPromptBatchNearFloat64Reference() throws {
        let model = try open()
        let ref = try loadReference(Fixtures.url("qwen2.5-coder-0.5b/reference.safetensors"))
        for (i, r) in try references().enumerated() {
            let logits = try model.transformer.forward(r.ids, cache: model.transformer.makeCache(capacity: r.ids.count),
                                                       logits: .last, precision: .fast)
            if let msg = compare(logits.data, ref["p\(i).last_logits"]!.data, atol: 1.0, label: "p\(i) (\(r.kind)) last logits (fast)") {
                Issue.record(Comment(rawValue: msg))
            }
            #expect(Sampler.argmax(logits.data) == Int(r.top5[0][0]), "\(r.kind): top-1 (fast)")
        }
    }

    /// Greedy decoding (exact precision) continues as the float64 pass does.
    @Test func greedyTokensMatchReference() throws {
        let model = try open()
        for r in try references() {
            var options = GenerationOptions(maxTokens: r.greedy.count, sampling: .greedy)
            options.stopAtEndOfTurn = false
            let result = try Generator(model).generate(promptTokens: r.ids, options: options)
            #expect(result.tokens == r.greedy, "\(r.kind): greedy continuation of \(r.ids)")
        }
    }
}

import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// The default model against a float64 forward pass over its gguf-py-dequantized weights (exact.safetensors). Skipped when the model has not been fetched (`vane fetch smollm2`).
@Suite(.enabled(if: Fixtures.smollm2 != nil, "SmolLM2 not in the cache: run `vane fetch smollm2`"))
struct SmolLM2Tests {
    struct Exact: Decodable { var ids: [Int]; var top5: [[Double]]; var greedy: [Int] }

    /// Opening the model is cheap (the weights stay in the mmap), so each test opens its own.
    func open() throws -> LanguageModel { try LanguageModel(url: try #require(Fixtures.smollm2)) }

    /// Logits within 1e-2 at every position, every block's resid_post within 1e-2 of that layer's max |value|,
    /// and the same top-1 token.
    @Test func forwardMatchesFloat64Reference() throws {
        let model = try open()
        let exact = try JSONDecoder().decode([Exact].self, from: Data(contentsOf: Fixtures.url("smollm2/exact.safetensors.json")))
        let ref = try loadReference(Fixtures.url("smollm2/exact.safetensors"))
        let layers = model.config.numHiddenLayers
        #expect(layers == 30)
        for (i, e) in exact.enumerated() {
            let hooks = Hooks()
            let capture = Capture()
            capture.attach(to: hooks, points: (0..<layers).map { .residPost($0) })
            let logits = try model.transformer.forward(e.ids, cache: model.transformer.makeCache(capacity: e.ids.count),
                                                       hooks: hooks, logits: .all)
            if let msg = compare(logits.data, ref["p\(i).logits"]!.data, atol: 1e-2, label: "p\(i).logits") {
                Issue.record(Comment(rawValue: msg))
            }
            for l in 0..<layers {
                let expected = ref["p\(i).resid_post.\(l)"]!.data
                let scale = expected.map(abs).max() ?? 1
                if let msg = compare(capture.tensors[.residPost(l)]!.data, expected, atol: 1e-2 * scale,
                                     label: "p\(i).resid_post.\(l) (max |v| \(scale))") {
                    Issue.record(Comment(rawValue: msg))
                }
            }
            let last = Array(logits.row(logits.rows - 1))
            #expect(Sampler.argmax(last) == Int(e.top5[0][0]), "p\(i) top-1")
        }
    }

    @Test func greedyTokensMatchReference() throws {
        let model = try open()
        let exact = try JSONDecoder().decode([Exact].self, from: Data(contentsOf: Fixtures.url("smollm2/exact.safetensors.json")))
        for e in exact {
            var options = GenerationOptions(maxTokens: 16, sampling: .greedy)
            options.stopAtEndOfTurn = false
            let result = try Generator(model).generate(promptTokens: e.ids, options: options)
            #expect(result.tokens == e.greedy, "greedy continuation of \(e.ids)")
        }
    }

    /// A prompt batch in fast precision (8-bit activations, tiled integer products over the Q4_1 blocks) stays
    /// within 1.0 of the float64 logits at every position (llama.cpp, which also quantizes activations, differs from
    /// them by up to ~0.6: Tests/Fixtures/README.md) and keeps the top-1 token at the last one.
    @Test func fastPromptBatchNearFloat64Reference() throws {
        let model = try open()
        let exact = try JSONDecoder().decode([Exact].self, from: Data(contentsOf: Fixtures.url("smollm2/exact.safetensors.json")))
        let ref = try loadReference(Fixtures.url("smollm2/exact.safetensors"))
        for (i, e) in exact.enumerated() {
            let logits = try model.transformer.forward(e.ids, cache: model.transformer.makeCache(capacity: e.ids.count),
                                                       logits: .all, precision: .fast)
            if let msg = compare(logits.data, ref["p\(i).logits"]!.data, atol: 1.0, label: "p\(i).logits (fast)") {
                Issue.record(Comment(rawValue: msg))
            }
            #expect(Sampler.argmax(Array(logits.row(logits.rows - 1))) == Int(e.top5[0][0]), "p\(i) top-1 (fast)")
        }
    }

    /// The fast path (8-bit activations) keeps the top token of the exact path on these prompts.
    @Test func fastPrecisionKeepsTopToken() throws {
        let model = try open()
        let exact = try JSONDecoder().decode([Exact].self, from: Data(contentsOf: Fixtures.url("smollm2/exact.safetensors.json")))
        for e in exact {
            let cache = model.transformer.makeCache(capacity: e.ids.count)
            _ = try model.transformer.forward(Array(e.ids.dropLast()), cache: cache, logits: .none, precision: .fast)
            let fast = try model.transformer.forward([e.ids.last!], cache: cache, logits: .last, precision: .fast).data
            #expect(Sampler.argmax(fast) == Int(e.top5[0][0]))
        }
    }
}

import Foundation
import Testing
import VaneActivations
import VaneEngine
import VaneTensor
import VaneTestSupport

/// Extraction on the tiny fixtures against HF transformers' hooks (reference.safetensors, p{i}.resid_post.{L}
/// [T, d] and p{i}.head_out.{L} [T, H, d]): `last` must equal the reference's last row and `mean` the mean of its
/// rows from `skipFirst` on (1 by default: the attention sink left out), within 1e-4 (the fixtures' stated f32
/// agreement).
@Suite struct TinyExtractionTests {
    struct Prompt: Decodable { let text: String; let ids: [Int] }
    struct Reference: Decodable { let prompts: [Prompt] }

    func check(model name: String, positions: PositionMode, skipFirst: Int? = nil) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let prompts = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("\(name)/reference.json"))).prompts
        let expected = try loadReference(Fixtures.url("\(name)/reference.safetensors"))
        let data = try folder.jsonl("data.jsonl", prompts.map { ["prompt": $0.text] })
        let model = try LanguageModel(url: Fixtures.url(name))
        let options = ExtractionOptions(hooks: ["blocks.*.hook_resid_post", "blocks.*.attn.hook_result"],
                                        positions: positions, skipFirst: skipFirst, batch: 2)
        let output = folder.file("acts.h5")
        _ = try Extraction(model: model, data: data, options: options).run(output: output, resume: false)

        let store = try ActivationStore(url: output)
        #expect(store.count == prompts.count)
        let skip = skipFirst ?? (positions == .mean ? 1 : 0)
        #expect(store.provenance.skipFirst == skip)
        let layers = model.config.numHiddenLayers
        let (d, heads) = (model.config.hiddenSize, model.config.numAttentionHeads)
        for (i, prompt) in prompts.enumerated() {
            #expect(try store.tokenIDs(example: i) == prompt.ids, "tokens of prompt \(i)")
            for l in 0..<layers {
                for (hook, key, width) in [("blocks.\(l).hook_resid_post", "p\(i).resid_post.\(l)", d),
                                           ("blocks.\(l).attn.hook_result", "p\(i).head_out.\(l)", heads * d)] {
                    let reference = try #require(expected[key])
                    let rows = reference.data.count / width
                    let want: [Float] = positions == .last
                        ? Array(reference.data[((rows - 1) * width)...])
                        : (0..<width).map { c in
                            Float((skip..<rows).reduce(0.0) { $0 + Double(reference.data[$1 * width + c]) } / Double(rows - skip))
                        }
                    let got = try store.read(hook: hook, example: i)
                    #expect(got.shape == (hook.contains("attn") ? [1, heads, d] : [1, d]))
                    if let message = compare(got.data, want, atol: 1e-4, label: "\(name) \(positions) \(hook) p\(i)") {
                        Issue.record(Comment(rawValue: message))
                    }
                }
            }
        }
    }

    @Test func llamaLast() throws { try check(model: "tiny-llama", positions: .last) }
    @Test func llamaMean() throws { try check(model: "tiny-llama", positions: .mean) }
    @Test func qwen2Last() throws { try check(model: "tiny-qwen2", positions: .last) }
    @Test func qwen2Mean() throws { try check(model: "tiny-qwen2", positions: .mean) }
    @Test func llamaMeanOfEveryPosition() throws { try check(model: "tiny-llama", positions: .mean, skipFirst: 0) }
    @Test func qwen2MeanSkippingTwo() throws { try check(model: "tiny-qwen2", positions: .mean, skipFirst: 2) }

    /// Spans: prompt/completion boundaries, markers, index:K, and pairs' labels — checked against the reference
    /// rows of the whole text (the prefix of a causal model's activations does not depend on what follows).
    @Test func spansPairsAndIndex() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let data = try folder.jsonl("data.jsonl", [
            ["prompt": "The answer", "completion": " is", "label": 3],
            ["positive": "The answer is", "negative": ["prompt": "Let x be", "completion": " the"]],
            ["prompt": "say <think>the answer is</think> done"],
        ])
        let output = folder.file("acts.h5")
        var options = ExtractionOptions(hooks: ["blocks.2.hook_resid_post"], positions: .all, batch: 3)
        _ = try Extraction(model: model, data: data, options: options).run(output: output, resume: false)
        let store = try ActivationStore(url: output)
        #expect(store.examples.labels == [3, 1, 0, -1])
        #expect(store.examples.pairs == [-1, 0, 0, -1])
        #expect(store.examples.lines == [1, 2, 2, 3])
        #expect(store.examples.texts[0] == "The answer is")
        // auto span: the completion when there is one, else the whole input.
        let ids0 = try store.tokenIDs(example: 0)
        #expect(store.examples.spans[0] == store.examples.promptTokenCounts[0]..<ids0.count)
        #expect(store.examples.spans[1] == 0..<store.examples.tokenCounts[1])

        // Markers: the tokens that begin between "<think>" and "</think>" decode to exactly the text inside.
        options.span = .markers(start: "<think>", end: "</think>")
        options.positions = .index(-1)
        let markerData = try folder.jsonl("markers.jsonl", [["prompt": "say <think>the answer is</think> done"]])
        let markerOut = folder.file("markers.h5")
        _ = try Extraction(model: model, data: markerData, options: options).run(output: markerOut, resume: false)
        let markers = try ActivationStore(url: markerOut)
        let ids = try markers.tokenIDs(example: 0)
        let span = markers.examples.spans[0]
        #expect(model.tokenizer.decode(Array(ids[span])) == "the answer is")
        // index:-1 is the span's last token: equal to a full forward's row there.
        let capture = Capture()
        let hooks = Hooks()
        capture.attach(to: hooks, points: [.residPost(2)])
        _ = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count), hooks: hooks, logits: .none)
        let full = try #require(capture.tensors[.residPost(2)])
        let want = Array(full.row(span.upperBound - 1))
        if let message = compare(try markers.read(hook: "blocks.2.hook_resid_post").data, want, atol: 1e-5, label: "index:-1") {
            Issue.record(Comment(rawValue: message))
        }
    }
}

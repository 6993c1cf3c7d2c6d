import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport
import VaneTokenizer

/// The tiny random-weight llama and qwen2 models, as HF folders and as llama.cpp-converted GGUFs, against the
/// HF transformers references (logits and every hook, ≤ 1e-4) and the float64 references of their q8_0 GGUFs.
@Suite struct TinyModelTests {
    struct Prompt: Decodable {
        var text: String
        var ids: [Int]
        var greedy_next_12: [Int]
    }
    struct ChatExample: Decodable {
        struct Message: Decodable { var role: String; var content: String }
        var messages: [Message]
        var rendered: String
    }
    struct Reference: Decodable {
        var prompts: [Prompt]
        var chat_template_example: ChatExample
    }

    static let sources: [(name: String, path: String)] = [
        ("tiny-llama HF", "tiny-llama"), ("tiny-llama f32 GGUF", "tiny-llama.f32.gguf"),
        ("tiny-qwen2 HF", "tiny-qwen2"), ("tiny-qwen2 f32 GGUF", "tiny-qwen2.f32.gguf"),
    ]

    static func reference(_ path: String) throws -> (Reference, [String: Tensor]) {
        let folder = path.components(separatedBy: ".").first!
        let json = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("\(folder)/reference.json")))
        return (json, try loadReference(Fixtures.url("\(folder)/reference.safetensors")))
    }

    @Test(arguments: sources)
    func logitsAndHooksMatchTransformers(source: (name: String, path: String)) throws {
        let model = try LanguageModel(url: Fixtures.url(source.path))
        let (ref, tensors) = try Self.reference(source.path)
        let layers = model.config.numHiddenLayers
        for (i, prompt) in ref.prompts.enumerated() {
            let hooks = Hooks()
            let capture = Capture()
            var points: [HookPoint] = [.residPre(0)]
            for l in 0..<layers { points += [.residPost(l), .attnOut(l), .mlpOut(l), .attnResult(l)] }
            capture.attach(to: hooks, points: points)
            let cache = model.transformer.makeCache(capacity: prompt.ids.count)
            let logits = try model.transformer.forward(prompt.ids, cache: cache, hooks: hooks, logits: .all)
            func check(_ actual: Tensor, _ name: String) {
                guard let expected = tensors["p\(i).\(name)"] else {
                    Issue.record("reference lacks p\(i).\(name)")
                    return
                }
                #expect(actual.shape == expected.shape, "\(source.name) p\(i).\(name) shape")
                if let msg = compare(actual.data, expected.data, atol: 1e-4, label: "\(source.name) p\(i).\(name)") {
                    Issue.record(Comment(rawValue: msg))
                }
            }
            check(logits, "logits")
            check(capture.tensors[.residPre(0)]!, "resid_pre.0")
            for l in 0..<layers {
                check(capture.tensors[.residPost(l)]!, "resid_post.\(l)")
                check(capture.tensors[.attnOut(l)]!, "attn_out.\(l)")
                check(capture.tensors[.mlpOut(l)]!, "mlp_out.\(l)")
                check(capture.tensors[.attnResult(l)]!, "head_out.\(l)")
            }
        }
    }

    @Test(arguments: sources)
    func tokenizationAndGreedyTokens(source: (name: String, path: String)) throws {
        let model = try LanguageModel(url: Fixtures.url(source.path))
        let (ref, _) = try Self.reference(source.path)
        for prompt in ref.prompts {
            #expect(model.encode(prompt.text) == prompt.ids, "\(source.name): ids of \(prompt.text.debugDescription)")
            var options = GenerationOptions(maxTokens: 12, sampling: .greedy)
            options.stopAtEndOfTurn = false
            let result = try Generator(model).generate(promptTokens: prompt.ids, options: options)
            #expect(result.tokens == prompt.greedy_next_12, "\(source.name): greedy continuation of \(prompt.text.debugDescription)")
        }
    }

    @Test(arguments: sources)
    func chatTemplateRendersExactly(source: (name: String, path: String)) throws {
        let model = try LanguageModel(url: Fixtures.url(source.path))
        let (ref, _) = try Self.reference(source.path)
        let messages = ref.chat_template_example.messages.map { ChatMessage(role: $0.role, content: $0.content) }
        #expect(try model.renderChat(messages) == ref.chat_template_example.rendered)
    }

    /// Decoding one token at a time through the KV cache gives the logits of one batched pass.
    @Test func incrementalDecodingMatchesBatch() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-qwen2.f32.gguf"))
        let ids = [46, 332, 355, 320, 264, 300, 313, 68]
        let batch = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: 8), logits: .all)
        let cache = model.transformer.makeCache(capacity: 8)
        var stepwise: [Float] = []
        for id in ids { stepwise += try model.transformer.forward([id], cache: cache, logits: .last).data }
        if let msg = compare(stepwise, batch.data, atol: 1e-4, label: "stepwise vs batch logits") {
            Issue.record(Comment(rawValue: msg))
        }
    }

    @Test(arguments: ["tiny-llama", "tiny-qwen2"])
    func q8GGUFMatchesItsFloat64Reference(name: String) throws {
        let model = try LanguageModel(url: Fixtures.url("\(name).q8_0.gguf"))
        let (ref, _) = try Self.reference(name)
        let tensors = try loadReference(Fixtures.url("\(name).q8_0.reference.safetensors"))
        for (i, prompt) in ref.prompts.enumerated() {
            let hooks = Hooks()
            let capture = Capture()
            let layers = model.config.numHiddenLayers
            capture.attach(to: hooks, points: (0..<layers).map { .residPost($0) })
            let logits = try model.transformer.forward(prompt.ids, cache: model.transformer.makeCache(capacity: 64), hooks: hooks, logits: .all)
            if let msg = compare(logits.data, tensors["p\(i).logits"]!.data, atol: 1e-4, label: "\(name) q8_0 p\(i).logits") {
                Issue.record(Comment(rawValue: msg))
            }
            for l in 0..<layers {
                if let msg = compare(capture.tensors[.residPost(l)]!.data, tensors["p\(i).resid_post.\(l)"]!.data, atol: 1e-4,
                                     label: "\(name) q8_0 p\(i).resid_post.\(l)") {
                    Issue.record(Comment(rawValue: msg))
                }
            }
        }
    }
}

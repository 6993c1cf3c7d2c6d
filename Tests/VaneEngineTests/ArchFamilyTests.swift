import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport
import VaneTokenizer

/// Llama 3 (RoPE scaling), Mistral (sliding window), Qwen3 (per-head q/k norms, head_dim ≠ d/H, tied) and OLMo 2
/// (post-norms, full-width q/k norms): tiny random models against HF transformers 5.24 (Tests/Fixtures/arch/),
/// from the HF folder and from llama.cpp's own GGUF conversion. Tolerance: 1e-4 of each tensor's largest
/// magnitude, at every position (the prompts outrun the window and Llama 3's original context).
@Suite struct ArchFamilyTests {
    static let families = ["llama3", "mistral", "qwen3", "olmo2"]

    /// (family, source label, model path) for every source expected to reproduce transformers exactly.
    static let sources: [(family: String, label: String, url: URL)] =
        families.map { ($0, "HF", ArchFixtures.folder($0)) }
        + families.filter { $0 != "mistral" }.map { ($0, "llama.cpp GGUF", ArchFixtures.llamaCppGGUF($0)) }

    /// Logits [T, V] and resid_post of every layer for `ids`.
    static func run(_ model: LanguageModel, _ ids: [Int]) throws -> (logits: Tensor, resid: [Tensor]) {
        let hooks = Hooks(), capture = Capture()
        let layers = model.config.numHiddenLayers
        capture.attach(to: hooks, points: (0..<layers).map { .residPost($0) })
        let logits = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count),
                                                   hooks: hooks, logits: .all)
        return (logits, (0..<layers).map { capture.tensors[.residPost($0)]! })
    }

    @Test(arguments: sources)
    func logitsAndResidualsMatchTransformers(_ source: (family: String, label: String, url: URL)) throws {
        let model = try LanguageModel(url: source.url)
        let reference = try ArchFixtures.tensors(source.family)
        for (i, prompt) in try ArchFixtures.prompts(source.family).enumerated() {
            let (logits, resid) = try Self.run(model, prompt.ids)
            var checks = [("logits", logits)]
            for (l, r) in resid.enumerated() { checks.append(("resid_post.\(l)", r)) }
            for (name, actual) in checks {
                let expected = try #require(reference["p\(i).\(name)"], "reference lacks p\(i).\(name)")
                #expect(actual.shape == expected.shape, "\(source.family) \(source.label) p\(i).\(name) shape")
                if let msg = compareRelative(actual.data, expected.data, rel: 1e-4, label: "\(source.family) \(source.label) p\(i).\(name)") {
                    Issue.record(Comment(rawValue: msg))
                }
            }
        }
    }

    @Test(arguments: sources)
    func greedyTokensMatchTransformers(_ source: (family: String, label: String, url: URL)) throws {
        let model = try LanguageModel(url: source.url)
        for prompt in try ArchFixtures.prompts(source.family) {
            #expect(model.encode(prompt.text) == prompt.ids, "\(source.family) \(source.label): ids of \(prompt.text.debugDescription)")
            var options = GenerationOptions(maxTokens: 12, sampling: .greedy)
            options.stopAtEndOfTurn = false
            let result = try Generator(model).generate(promptTokens: prompt.ids, options: options)
            #expect(result.tokens == prompt.greedy_next_12, "\(source.family) \(source.label): greedy continuation of \(prompt.text.debugDescription)")
        }
    }

    /// llama.cpp writes Mistral as plain `llama` without its window, so Vane runs that GGUF with full attention, as
    /// llama.cpp does (Llama.swift says so): the first `window` positions equal transformers', later ones differ.
    @Test func mistralGGUFFromLlamaCppLosesTheWindow() throws {
        let model = try LanguageModel(url: ArchFixtures.llamaCppGGUF("mistral"))
        #expect(model.config.slidingWindow == nil)
        let window = try #require(try ModelConfig(configJSON: ArchFixtures.folder("mistral").appendingPathComponent("config.json")).slidingWindow)
        #expect(window == 6)
        let prompt = try ArchFixtures.prompts("mistral")[2]
        let expected = try #require(try ArchFixtures.tensors("mistral")["p2.logits"])
        let (logits, _) = try Self.run(model, prompt.ids)
        let V = logits.shape[1]
        let early = window * V
        if let msg = compareRelative(Array(logits.data[..<early]), Array(expected.data[..<early]), rel: 1e-4, label: "mistral llama.cpp GGUF, positions < window") {
            Issue.record(Comment(rawValue: msg))
        }
        let late = zip(logits.data[early...], expected.data[early...]).map { abs($0 - $1) }.max() ?? 0
        #expect(late > 1e-2, "positions past the window should differ without it; max |Δ| \(late)")
    }

    /// The window is read from config.json and refuses nonsense; Llama 3 scaling needs its four parameters.
    @Test func configRefusesBadScalingAndWindow() throws {
        let dir = try scratch("arch-config")
        let base = try JSONSerialization.jsonObject(with: Data(contentsOf: ArchFixtures.folder("llama3").appendingPathComponent("config.json"))) as! [String: Any]
        func config(_ edit: (inout [String: Any]) -> Void) throws -> URL {
            var c = base
            edit(&c)
            let url = dir.appendingPathComponent("config.json")
            try JSONSerialization.data(withJSONObject: c).write(to: url)
            return url
        }
        var rope = base["rope_parameters"] as! [String: Any]
        rope["low_freq_factor"] = 8.0
        let inverted = try config { $0["rope_parameters"] = rope }
        expect(errorText { _ = try ModelConfig(configJSON: inverted) }, contains: ["low_freq_factor < high_freq_factor"])
        rope = base["rope_parameters"] as! [String: Any]
        rope.removeValue(forKey: "original_max_position_embeddings")
        let missing = try config { $0["rope_parameters"] = rope }
        expect(errorText { _ = try ModelConfig(configJSON: missing) }, contains: ["original_max_position_embeddings"])
        let older = try config {
            $0.removeValue(forKey: "rope_parameters")
            $0["rope_theta"] = 500000.0
            $0["rope_scaling"] = ["rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 16]
        }
        #expect(try ModelConfig(configJSON: older).ropeScaling?.factor == 8)
        let window = try config { $0["model_type"] = "mistral"; $0["sliding_window"] = 0 }
        expect(errorText { _ = try ModelConfig(configJSON: window) }, contains: ["sliding_window is 0"])
        try? FileManager.default.removeItem(at: dir)
    }

    /// LanguageModel passes the switch through: the tiny Qwen3 model with the real template in its folder.
    @Test func languageModelPassesEnableThinking() throws {
        let folder = try scratch("qwen3-template")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = ArchFixtures.folder("qwen3")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "chat_template.jinja" && !name.hasSuffix(".gguf") {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(at: Fixtures.url("templates/qwen3").appendingPathComponent("qwen3.jinja"), to: folder.appendingPathComponent("chat_template.jinja"))
        let model = try LanguageModel(url: folder)
        let messages = [ChatMessage(role: "user", content: "What is 2+2?")]
        #expect(try model.renderChat(messages, enableThinking: false) == "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
        #expect(try model.renderChat(messages) == "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
        #expect(try model.renderChat(messages, enableThinking: true) == model.renderChat(messages))
    }
}

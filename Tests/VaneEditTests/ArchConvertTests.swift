import Foundation
import Testing
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// `vane convert` of the Llama 3, Mistral, Qwen3 and OLMo 2 tiny models (Tests/Fixtures/arch/): the GGUF written
/// from the HF folder reproduces transformers' logits and every resid_post (≤ 1e-4 of each tensor's largest
/// magnitude) and its greedy tokens, keeps what the family needs (Llama 3's rope_freqs.weight as llama.cpp writes
/// it, Mistral's window), and converts back to an HF folder that runs the same, or is refused where config.json
/// cannot say what the GGUF holds.
@Suite struct ArchConvertTests {
    static func checkAgainstTransformers(_ url: URL, family: String, label: String) throws {
        let model = try LanguageModel(url: url)
        let reference = try ArchFixtures.tensors(family)
        let layers = model.config.numHiddenLayers
        for (i, prompt) in try ArchFixtures.prompts(family).enumerated() {
            let hooks = Hooks(), capture = Capture()
            capture.attach(to: hooks, points: (0..<layers).map { .residPost($0) })
            let logits = try model.transformer.forward(prompt.ids, cache: model.transformer.makeCache(capacity: prompt.ids.count),
                                                       hooks: hooks, logits: .all)
            var checks = [("logits", logits)]
            for l in 0..<layers { checks.append(("resid_post.\(l)", capture.tensors[.residPost(l)]!)) }
            for (name, actual) in checks {
                if let msg = compareRelative(actual.data, reference["p\(i).\(name)"]!.data, rel: 1e-4, label: "\(family) \(label) p\(i).\(name)") {
                    Issue.record(Comment(rawValue: msg))
                }
            }
            var options = GenerationOptions(maxTokens: 12, sampling: .greedy)
            options.stopAtEndOfTurn = false
            #expect(try Generator(model).generate(promptTokens: prompt.ids, options: options).tokens == prompt.greedy_next_12,
                    "\(family) \(label): greedy tokens of prompt \(i)")
        }
    }

    @Test(arguments: ["llama3", "mistral", "qwen3", "olmo2"])
    func hfToGGUFAndBack(_ family: String) throws {
        let dir = try scratch("arch-convert-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let gguf = dir.appendingPathComponent("model.gguf")
        try Convert.run(ModelInput(url: ArchFixtures.folder(family)), to: OutputOptions(url: gguf))
        try Self.checkAgainstTransformers(gguf, family: family, label: "Vane's GGUF")

        let file = try GGUFFile(url: gguf)
        switch family {
        case "llama3":
            // The same per-frequency divisors llama.cpp's converter wrote (its own float32 rounding: 1e-6).
            let ours = dequantize(try #require(file.tensors.first { $0.name == "rope_freqs.weight" }))
            let theirs = dequantize(try #require(try GGUFFile(url: ArchFixtures.llamaCppGGUF(family)).tensors.first { $0.name == "rope_freqs.weight" }))
            #expect(compare(ours.data, theirs.data, atol: 1e-6, rtol: 1e-6, label: "rope_freqs.weight") == nil)
            // config.json cannot state a table of divisors: GGUF → HF is refused, with the reason.
            expect(errorText { try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: dir.appendingPathComponent("hf"))) },
                   contains: ["rope_freqs.weight", "config.json cannot state"])
            return
        case "mistral":
            #expect(file.metadata["llama.attention.sliding_window"]?.int == 6)
        default:
            break
        }
        let hf = dir.appendingPathComponent("hf")
        try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: hf))
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: hf.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["model_type"] as? String == (family == "mistral" ? "mistral" : family))
        if family == "mistral" { #expect(config["sliding_window"] as? Int == 6) }
        try Self.checkAgainstTransformers(hf, family: family, label: "HF from Vane's GGUF")
    }

    /// llama.cpp's Llama 3 GGUF (rope_freqs.weight, no scaling keys) converts to another GGUF that keeps it.
    @Test func llamaCppLlama3GGUFToGGUF() throws {
        let dir = try scratch("arch-convert-llama3-gguf")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("copy.gguf")
        try Convert.run(ModelInput(url: ArchFixtures.llamaCppGGUF("llama3")), to: OutputOptions(url: out))
        try Self.checkAgainstTransformers(out, family: "llama3", label: "GGUF from llama.cpp's GGUF")
    }
}

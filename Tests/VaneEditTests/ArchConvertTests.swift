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
/// it, Mistral's window), and converts back to an HF folder that runs the same (Llama 3's rope_freqs back to the four
/// parameters of config.json).
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
        case "mistral":
            #expect(file.metadata["llama.attention.sliding_window"]?.int == 6)
        default:
            break
        }
        let hf = dir.appendingPathComponent("hf")
        try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: hf))
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: hf.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["model_type"] as? String == (family == "llama3" ? "llama" : family))
        if family == "mistral" { #expect(config["sliding_window"] as? Int == 6) }
        if family == "llama3" {
            let rope = try #require(config["rope_parameters"] as? [String: Any])
            #expect(rope["rope_type"] as? String == "llama3")
            #expect(try #require(rope["factor"] as? Double) == 8)
            #expect(try ModelFiles(url: hf).tensors["rope_freqs.weight"] == nil, "the table is config.json's settings in an HF folder")
        }
        try Self.checkAgainstTransformers(hf, family: family, label: "HF from Vane's GGUF")
    }

    /// llama.cpp's Llama 3 GGUF (rope_freqs.weight, no scaling keys) converts to another GGUF that keeps it, and to
    /// an HF folder whose config.json states scaling parameters that give the same divisors.
    @Test func llamaCppLlama3GGUFToGGUFAndHF() throws {
        let dir = try scratch("arch-convert-llama3-gguf")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("copy.gguf"), hf = dir.appendingPathComponent("hf")
        try Convert.run(ModelInput(url: ArchFixtures.llamaCppGGUF("llama3")), to: OutputOptions(url: out))
        try Self.checkAgainstTransformers(out, family: "llama3", label: "GGUF from llama.cpp's GGUF")
        try Convert.run(ModelInput(url: ArchFixtures.llamaCppGGUF("llama3")), to: OutputOptions(url: hf))
        try Self.checkAgainstTransformers(hf, family: "llama3", label: "HF from llama.cpp's GGUF")
    }

    /// The four Llama 3 parameters come back from a divisor table: Llama 3.1 8B's (head_dim 128, θ 500000, factor 8,
    /// low 1, high 4, context 8192) exactly when the context is known, and as parameters giving the same divisors
    /// (1e-5) for any other context; a table that no parameters give is refused (nil).
    @Test func llama3ParametersFromDivisors() throws {
        let truth = Llama3RopeScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192)
        let divisors = truth.divisors(headDim: 128, theta: 500_000)
        let back = try #require(Llama3RopeScaling(divisors: divisors, headDim: 128, theta: 500_000, originalContext: 8192))
        #expect(abs(back.factor - 8) < 1e-6 && abs(back.lowFreqFactor - 1) < 1e-4 && abs(back.highFreqFactor - 4) < 1e-4,
                "\(back)")
        let other = try #require(Llama3RopeScaling(divisors: divisors, headDim: 128, theta: 500_000, originalContext: 16384))
        #expect(compare(other.divisors(headDim: 128, theta: 500_000), divisors, atol: 0, rtol: 1e-5, label: "divisors") == nil)
        var bent = divisors
        bent[bent.firstIndex { $0 > 1.01 && $0 < 7.99 }!] *= 1.1
        #expect(Llama3RopeScaling(divisors: bent, headDim: 128, theta: 500_000, originalContext: 8192) == nil)
        #expect(Llama3RopeScaling(divisors: [Float](repeating: 1, count: 64), headDim: 128, theta: 500_000, originalContext: 8192) == nil)
    }
}

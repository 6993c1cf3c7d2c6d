import Foundation
import Testing
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneTestSupport

/// Gemma 2, Gemma 3 and Phi-3 against transformers (Tests/Fixtures/arch/): logits and the residual stream after
/// every block, at every position of 4 prompts (one longer than the sliding windows), ≤ 1e-4 × each tensor's
/// largest magnitude, and the 12 greedy tokens — from the HF folder, from the GGUF `vane convert` writes of it,
/// from that GGUF converted back to an HF folder, and from llama.cpp's own GGUF where it holds the same model.
@Suite struct ArchFamilyTests {
    static let families = ["gemma2", "gemma3", "phi3"]

    /// Runs every prompt and checks logits, each resid_post and the greedy tokens.
    func checkModel(_ url: URL, _ ref: ArchReference, label: String, greedy: Bool = true) throws {
        let model = try LanguageModel(url: url)
        let layers = model.config.numHiddenLayers
        for (i, prompt) in ref.prompts.enumerated() {
            let hooks = Hooks(), capture = Capture()
            capture.attach(to: hooks, points: (0..<layers).map { .residPost($0) })
            let logits = try model.transformer.forward(prompt.ids, cache: model.transformer.makeCache(capacity: prompt.ids.count),
                                                       hooks: hooks, logits: .all)
            var problems = [ref.check(logits.data, "p\(i).logits", label: label)]
            for l in 0..<layers { problems.append(ref.check(capture.tensors[.residPost(l)]!.data, "p\(i).resid_post.\(l)", label: label)) }
            for p in problems.compactMap({ $0 }) { Issue.record(Comment(rawValue: p)) }
            if greedy {
                var options = GenerationOptions(maxTokens: 12, sampling: .greedy)
                options.stopAtEndOfTurn = false
                let result = try Generator(model).generate(promptTokens: prompt.ids, options: options)
                #expect(result.tokens == prompt.greedy_next_12, "\(label): greedy continuation of prompt \(i)")
            }
        }
    }

    @Test(arguments: families)
    func hfFolderMatchesTransformers(_ family: String) throws {
        let ref = try ArchReference(family)
        try checkModel(ref.folder, ref, label: "\(family) HF")
    }

    /// hook_attn_out and hook_mlp_out are what each block adds to the residual stream (after Gemma's post-norms):
    /// resid_mid = resid_pre + attn_out and resid_post = resid_mid + mlp_out, to float rounding (1e-6 × max).
    @Test(arguments: families)
    func residualAddsTheHookedOutputs(_ family: String) throws {
        let ref = try ArchReference(family)
        let model = try LanguageModel(url: ref.folder)
        let ids = ref.prompts[1].ids
        let hooks = Hooks(), capture = Capture()
        let layers = model.config.numHiddenLayers
        capture.attach(to: hooks, points: (0..<layers).flatMap { [.residPre($0), .attnOut($0), .residMid($0), .mlpOut($0), .residPost($0)] })
        _ = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count), hooks: hooks, logits: .none)
        for l in 0..<layers {
            let t = capture.tensors
            for (a, b, sum, name) in [(HookPoint.residPre(l), HookPoint.attnOut(l), HookPoint.residMid(l), "resid_mid"),
                                      (.residMid(l), .mlpOut(l), .residPost(l), "resid_post")] {
                let expected = zip(t[a]!.data, t[b]!.data).map { $0 + $1 }
                let scale = expected.reduce(0) { max($0, abs($1)) }
                if let msg = compare(t[sum]!.data, expected, atol: 1e-6 * scale, label: "\(family) \(name).\(l)") {
                    Issue.record(Comment(rawValue: msg))
                }
            }
        }
    }

    @Test(arguments: families)
    func convertedGGUFAndBackMatchTransformers(_ family: String) throws {
        let ref = try ArchReference(family)
        let dir = try scratch("arch-convert-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let gguf = dir.appendingPathComponent("model.gguf"), back = dir.appendingPathComponent("back")
        try Convert.run(ModelInput(url: ref.folder), to: OutputOptions(url: gguf))
        try checkModel(gguf, ref, label: "\(family) vane GGUF")
        try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: back))
        try checkModel(back, ref, label: "\(family) GGUF → HF", greedy: false)
        // The round trip writes the HF values back: exactly, except Gemma's norms, which went through the GGUF's
        // 1 + w in f32 (≤ 1 ulp of 1, 1.2e-7).
        let original = try SafetensorsFile(url: ref.folder.appendingPathComponent("model.safetensors"))
        let again = try SafetensorsFile(url: back.appendingPathComponent("model.safetensors"))
        let byName = Dictionary(uniqueKeysWithValues: again.tensors.map { ($0.name, $0) })
        #expect(Set(byName.keys) == Set(original.tensors.map(\.name)))
        for t in original.tensors {
            guard let u = byName[t.name] else { continue }
            let tolerance: Float = family != "phi3" && t.name.hasSuffix("norm.weight") ? 1.2e-7 : 0
            if let msg = compare(dequantize(u).data, dequantize(t).data, atol: tolerance, label: "\(family) round trip \(t.name)") {
                Issue.record(Comment(rawValue: msg))
            }
        }
    }

    /// llama.cpp's GGUF holds the same tensors as the HF folder (norms + 1) and the same settings, except what
    /// its converter does not write: Gemma 2's query_pre_attn_scalar (24 here; llama.cpp, and Vane reading the
    /// file, use head_dim 16) and Gemma 3's layer_types (llama.cpp assumes every sixth layer full: here all
    /// three layers slide, so layer 1 takes the local RoPE base and the window). What holds is tested: Phi-3 in
    /// full; Gemma 3's block 0 (sliding in both) at every position of every prompt; Gemma 2's tensors and
    /// settings.
    @Test(arguments: families)
    func llamaCppGGUF(_ family: String) throws {
        let ref = try ArchReference(family)
        let gguf = try ModelFiles(url: ref.llamaCppGGUF), hf = try ModelFiles(url: ref.folder)
        #expect(Set(gguf.tensors.keys) == Set(hf.tensors.keys))
        for (name, t) in hf.tensors {
            guard let u = gguf.tensors[name] else { continue }
            #expect(dequantize(u).data == dequantize(t).data, "\(family): \(name) differs between llama.cpp's GGUF and the HF folder")
        }
        var expected = hf.config
        expected.ropeStyle = gguf.config.ropeStyle
        switch family {
        case "gemma2":
            #expect(gguf.config.queryPreAttnScalar == 16)
            expected.queryPreAttnScalar = 16
        case "gemma3":
            #expect(gguf.config.slidingLayers == [true, true, true])
            expected.slidingLayers = [true, true, true]
            let model = try LanguageModel(url: ref.llamaCppGGUF)
            for (i, prompt) in ref.prompts.enumerated() {
                let hooks = Hooks(), capture = Capture()
                capture.attach(to: hooks, points: [.residPost(0)])
                _ = try model.transformer.forward(prompt.ids, cache: model.transformer.makeCache(capacity: prompt.ids.count),
                                                  hooks: hooks, logits: .none)
                if let p = ref.check(capture.tensors[.residPost(0)]!.data, "p\(i).resid_post.0", label: "gemma3 llama.cpp GGUF") {
                    Issue.record(Comment(rawValue: p))
                }
            }
        default:
            try checkModel(ref.llamaCppGGUF, ref, label: "\(family) llama.cpp GGUF")
        }
        #expect(gguf.config == expected, "\(family): settings read from llama.cpp's GGUF")
    }
}

import Foundation
import Testing
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// The tiny mixture-of-experts models (qwen2moe with a shared expert, qwen3moe with per-head q/k norms and
/// head_dim 24, olmoe with whole-projection q/k norms, mixtral) against transformers 5.24: logits, every layer's
/// resid_post and router logits ≤ 1e-4 of each tensor's max |value|, at every position of the four prompts, run
/// from the HF folder, from llama.cpp's converter's GGUF, and from `vane convert`'s GGUF and HF folder; the 12
/// greedy tokens of each prompt equal transformers'. Routing hooks: the expert weights equal an independent float64 top-k of the reference router logits,
/// a router write changes which experts run, and an expert ablated by the hook equals its baked form.
@Suite struct MoEModelTests {
    struct Prompt: Decodable { var text: String; var ids: [Int]; var greedy_next_12: [Int] }
    struct Reference: Decodable { var prompts: [Prompt] }

    static let families = ["tiny-qwen2moe", "tiny-qwen3moe", "tiny-olmoe", "tiny-mixtral"]

    static func reference(_ family: String) throws -> ([Prompt], [String: Tensor]) {
        let dir = Fixtures.url("arch/\(family)")
        let json = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
        return (json.prompts, try loadReference(dir.appendingPathComponent("reference.safetensors")))
    }

    /// Logits [T, V], resid_post and router logits per layer for one prompt.
    static func run(_ model: LanguageModel, _ ids: [Int], hooks: Hooks = Hooks()) throws -> (Tensor, Capture) {
        let capture = Capture()
        let layers = model.config.numHiddenLayers
        capture.attach(to: hooks, points: (0..<layers).flatMap { [HookPoint.residPost($0), .routerLogits($0), .expertWeights($0)] })
        let logits = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count),
                                                   hooks: hooks, logits: .all)
        return (logits, capture)
    }

    /// Problems of `actual` against the reference tensor, tolerance 1e-4 × its max |value|.
    static func check(_ actual: Tensor?, _ expected: Tensor?, _ label: String) -> String? {
        guard let expected else { return "reference lacks \(label)" }
        guard let actual else { return "\(label): not captured" }
        guard actual.shape == expected.shape else { return "\(label): shape \(actual.shape), reference \(expected.shape)" }
        let scale = expected.data.map(abs).max() ?? 1
        return compare(actual.data, expected.data, atol: 1e-4 * scale, label: label)
    }

    static func checkAll(_ url: URL, family: String, label: String) throws {
        let model = try LanguageModel(url: url)
        let (prompts, ref) = try reference(family)
        for (i, prompt) in prompts.enumerated() {
            let (logits, capture) = try run(model, prompt.ids)
            var problems = [check(logits, ref["p\(i).logits"], "\(label) p\(i).logits")]
            for l in 0..<model.config.numHiddenLayers {
                problems.append(check(capture.tensors[.residPost(l)], ref["p\(i).resid_post.\(l)"], "\(label) p\(i).resid_post.\(l)"))
                problems.append(check(capture.tensors[.routerLogits(l)], ref["p\(i).router_logits.\(l)"], "\(label) p\(i).router_logits.\(l)"))
            }
            for p in problems.compactMap({ $0 }) { Issue.record(Comment(rawValue: p)) }
        }
    }

    @Test(arguments: families)
    func hfFolderMatchesTransformers(_ family: String) throws {
        try Self.checkAll(Fixtures.url("arch/\(family)"), family: family, label: "\(family) HF")
    }

    @Test(arguments: families)
    func llamaCppGGUFMatchesTransformers(_ family: String) throws {
        try Self.checkAll(Fixtures.url("arch/\(family)/llamacpp.f32.gguf"), family: family, label: "\(family) llama.cpp GGUF")
    }

    /// Greedy continuations (no EOS stop) from the HF folder and llama.cpp's GGUF equal transformers' generate.
    @Test(arguments: families)
    func greedyTokensMatchTransformers(_ family: String) throws {
        let (prompts, _) = try Self.reference(family)
        for url in [Fixtures.url("arch/\(family)"), Fixtures.url("arch/\(family)/llamacpp.f32.gguf")] {
            let model = try LanguageModel(url: url)
            for (i, prompt) in prompts.enumerated() {
                var options = GenerationOptions(maxTokens: 12, sampling: .greedy)
                options.stopAtEndOfTurn = false
                let tokens = try Generator(model).generate(promptTokens: prompt.ids, options: options).tokens
                #expect(tokens == prompt.greedy_next_12, "\(family) \(url.lastPathComponent) prompt \(i)")
            }
        }
    }

    /// HF → GGUF (stacked experts) → HF (per-expert tensors) with `vane convert`; both outputs against the reference.
    @Test(arguments: families)
    func convertBothWaysMatchesTransformers(_ family: String) throws {
        let dir = try scratch("moe-convert-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let gguf = dir.appendingPathComponent("model.gguf"), hf = dir.appendingPathComponent("hf")
        try Convert.run(ModelInput(url: Fixtures.url("arch/\(family)")), to: OutputOptions(url: gguf, dtype: .f32))
        try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: hf, dtype: .f32))
        let written = try ModelFiles(url: gguf)
        #expect(written.tensors["blk.0.ffn_gate_exps.weight"]?.shape == [4, written.config.moe!.expertIntermediateSize, 64])
        try Self.checkAll(gguf, family: family, label: "\(family) vane GGUF")
        try Self.checkAll(hf, family: family, label: "\(family) vane HF")
    }

    /// transformers 5's fused expert layout (tiny-qwen3moe-fused: `mlp.experts.gate_up_proj` [E, 2F, d] and
    /// `mlp.experts.down_proj` [E, d, F], re-stacked from the per-expert tensors by make_fused_qwen3moe.py) binds to
    /// the same stacked tensors as the per-expert folder, byte for byte, so the logits are identical (tolerance 0)
    /// and match transformers ≤ 1e-4; diff sees no change between the two layouts, a linear merge of the two
    /// (written one tensor per expert) equals the per-expert folder (≤ 1e-7), and a folder holding both layouts is
    /// refused.
    @Test func fusedExpertLayoutEqualsPerExpert() throws {
        let fused = Fixtures.url("arch/tiny-qwen3moe-fused"), perExpert = Fixtures.url("arch/tiny-qwen3moe")
        let (a, b) = (try ModelFiles(url: fused), try ModelFiles(url: perExpert))
        #expect(Set(a.tensors.keys) == Set(b.tensors.keys))
        for (name, t) in b.tensors {
            let f = try #require(a.tensors[name])
            #expect(f.shape == t.shape && Array(f.bytes) == Array(t.bytes), "\(name): fused \(f.shape) vs per-expert \(t.shape)")
        }
        let ids = try Self.reference("tiny-qwen3moe").0[2].ids
        let (fusedLogits, _) = try Self.run(try LanguageModel(url: fused), ids)
        let (plainLogits, _) = try Self.run(try LanguageModel(url: perExpert), ids)
        #expect(fusedLogits.data == plainLogits.data, "fused and per-expert logits differ")
        try Self.checkAll(fused, family: "tiny-qwen3moe", label: "tiny-qwen3moe fused HF")

        let dir = try scratch("moe-fused")
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = try TaskVector.diff(ModelInput(url: fused), ModelInput(url: perExpert), to: dir.appendingPathComponent("d.taskvec.safetensors"))
        #expect(report.tensors.contains { $0.name.contains("ffn_gate_exps") || $0.name.contains("experts.0.gate_proj") },
                "diff lists no expert tensor: \(report.tensors.map(\.name).prefix(8))")
        #expect(report.tensors.allSatisfy { $0.sparsity == 1 }, "diff of the two layouts found changes")
        let merged = dir.appendingPathComponent("merged")
        try Merge.run(MergeConfig(yaml: """
            merge_method: linear
            models:
              - model: \(fused.path)
                parameters: {weight: 0.5}
              - model: \(perExpert.path)
                parameters: {weight: 0.5}
            dtype: float32
            """, directory: dir), to: OutputOptions(url: merged))
        if let p = compareTensors(try folderTensors(merged), try folderTensors(perExpert), atol: 1e-7) { Issue.record(Comment(rawValue: p)) }

        let mixed = try SafetensorsFile(url: fused.appendingPathComponent("model.safetensors")).tensors
            + SafetensorsFile(url: perExpert.appendingPathComponent("model.safetensors")).tensors.filter { $0.name.contains(".mlp.experts.") }
        expect(errorText { _ = try ArchitectureSpec.qwen3moe.ggufTensors(fromHF: mixed, config: b.config, path: "mixed") },
               contains: ["mixed", "given twice"])
        // A gate_up_proj whose rows the config does not explain (2 × moe_intermediate_size) is refused, naming it.
        var narrower = b.config
        narrower.moe?.expertIntermediateSize = 40
        expect(errorText { _ = try ArchitectureSpec.qwen3moe.ggufTensors(fromHF: SafetensorsFile(url: fused.appendingPathComponent("model.safetensors")).tensors,
                                                                         config: narrower, path: "narrow") },
               contains: ["narrow", "model.layers.0.mlp.experts.gate_up_proj", "[4, 96, 64]", "40 + 40"])
    }

    /// mlp.hook_expert_weights = top-k of softmax(router logits), renormalised for mixtral (norm_topk_prob false in
    /// tiny-qwen2moe), computed here in float64 from the reference router logits; 0 for unselected experts.
    @Test(arguments: families)
    func expertWeightsAreTopKOfTheReferenceRouter(_ family: String) throws {
        let model = try LanguageModel(url: Fixtures.url("arch/\(family)"))
        let moe = try #require(model.config.moe)
        let (prompts, ref) = try Self.reference(family)
        let (_, capture) = try Self.run(model, prompts[1].ids)
        for l in 0..<model.config.numHiddenLayers {
            let logits = try #require(ref["p1.router_logits.\(l)"])
            let E = moe.experts
            var expected = [Float](repeating: 0, count: logits.data.count)
            for t in 0..<(logits.data.count / E) {
                let row = logits.data[(t * E)..<((t + 1) * E)].map(Double.init)
                let top = row.max()!
                let p = row.map { Foundation.exp($0 - top) }
                let total = p.reduce(0, +)
                let chosen = (0..<E).sorted { p[$0] > p[$1] }.prefix(moe.expertsPerToken)
                let kept = chosen.map { p[$0] / total }.reduce(0, +)
                for e in chosen { expected[t * E + e] = Float(p[e] / total / (moe.normTopKProb ? kept : 1)) }
            }
            let actual = try #require(capture.tensors[.expertWeights(l)])
            if let msg = compare(actual.data, expected, atol: 1e-5, label: "\(family) expert weights layer \(l)") {
                Issue.record(Comment(rawValue: msg))
            }
        }
    }

    /// Writing the router logits changes routing: forcing experts 2 and 3 in layer 0 makes them the only ones with
    /// weight there, and moves the logits.
    @Test(arguments: families)
    func routerWriteChangesRouting(_ family: String) throws {
        let model = try LanguageModel(url: Fixtures.url("arch/\(family)"))
        let ids = try Self.reference(family).0[1].ids
        let (plain, _) = try Self.run(model, ids)
        let hooks = Hooks()
        hooks.add(.routerLogits(0)) { a in
            for t in 0..<a.shape[0] {
                let row = a.row(t)
                for e in 0..<row.count { row[e] = e >= 2 ? 10 : -10 }
            }
        }
        let (steered, capture) = try Self.run(model, ids, hooks: hooks)
        let w = try #require(capture.tensors[.expertWeights(0)])
        let E = w.shape[1]
        for t in 0..<w.shape[0] {
            let selected = (0..<E).filter { w.data[t * E + $0] != 0 }
            #expect(selected == [2, 3], "\(family) row \(t): experts \(selected)")
        }
        let moved = zip(plain.data, steered.data).map { abs($0 - $1) }.max() ?? 0
        #expect(moved > 1e-3, "\(family): logits moved by only \(moved)")
    }
}

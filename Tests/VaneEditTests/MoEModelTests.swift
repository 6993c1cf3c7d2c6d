import Foundation
import Testing
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// The tiny mixture-of-experts models (qwen2moe with a shared expert, mixtral) against transformers 5.24: logits,
/// every layer's resid_post and router logits ≤ 1e-4 of each tensor's max |value|, at every position of the four
/// prompts, run from the HF folder, from llama.cpp's converter's GGUF, and from `vane convert`'s GGUF and HF
/// folder. Routing hooks: the expert weights equal an independent float64 top-k of the reference router logits,
/// a router write changes which experts run, and an expert ablated by the hook equals its baked form.
@Suite struct MoEModelTests {
    struct Prompt: Decodable { var text: String; var ids: [Int] }
    struct Reference: Decodable { var prompts: [Prompt] }

    static let families = ["tiny-qwen2moe", "tiny-mixtral"]

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

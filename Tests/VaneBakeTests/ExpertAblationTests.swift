import Foundation
import Testing
import VaneBake
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTensor
import VaneTestSupport

/// Expert ablation baked == hooked: a model written with experts' down projections zeroed, run plainly, gives the
/// logits of the original run with those experts' weights set to 0 by ExpertSteering (stage weights, factor 0),
/// for a GGUF and an HF output (max |Δlogit| ≤ 1e-5 of the largest logit; both f32). The two steering stages
/// act where they say: weights scales exactly the named weight, router (before top-k) brings a boosted expert into
/// every token's top k.
@Suite struct ExpertAblationTests {
    static let ids = [46, 332, 355, 320, 264, 300, 46, 332]

    func logits(_ model: LanguageModel, hooks: Hooks? = nil) throws -> [Float] {
        try model.transformer.forward(Self.ids, cache: model.transformer.makeCache(capacity: Self.ids.count),
                                      hooks: hooks, logits: .all).data
    }

    @Test(arguments: ["tiny-qwen2moe", "tiny-mixtral"])
    func bakedEqualsHooked(_ family: String) throws {
        let source = Fixtures.url("arch/\(family)")
        let steering = try ExpertSteering(parsing: "0:1:0;2:0,3:0", stage: .weights)
        let original = try LanguageModel(url: source)
        let hooks = Hooks()
        try steering.install(on: hooks, config: original.config)
        let hooked = try logits(original, hooks: hooks)
        let plain = try logits(original)
        let moved = zip(plain, hooked).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-3, "\(family): the ablation moved the logits by only \(moved)")

        let dir = try scratch("ablate-experts-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["ablated.gguf", "ablated-hf"] {
            let out = dir.appendingPathComponent(name)
            try Bake.ablateExperts(ModelInput(url: source), experts: [0: [1], 2: [0, 3]],
                                   to: OutputOptions(url: out, dtype: .f32), provenance: ["edit.recipe": "test"])
            let baked = try logits(LanguageModel(url: out))
            let scale = hooked.map(abs).max()!
            if let msg = compare(baked, hooked, atol: 1e-5 * scale, label: "\(family) \(name) baked vs hooked") {
                Issue.record(Comment(rawValue: msg))
            }
        }
    }

    @Test func stagesActWhereTheySay() throws {
        let model = try LanguageModel(url: Fixtures.url("arch/tiny-qwen2moe"))
        let E = model.config.moe!.experts
        func weights(_ steering: ExpertSteering?) throws -> [Float] {
            let hooks = Hooks(), capture = Capture()
            if let steering { try steering.install(on: hooks, config: model.config) }
            capture.attach(to: hooks, points: [.expertWeights(1)])
            _ = try logits(model, hooks: hooks)
            return capture.tensors[.expertWeights(1)]!.data
        }
        let plain = try weights(nil)
        let doubled = try weights(ExpertSteering(parsing: "1:2:2", stage: .weights))
        for (i, (a, b)) in zip(plain, doubled).enumerated() {
            #expect(b == (i % E == 2 ? 2 * a : a), "weights stage, entry \(i): \(a) → \(b)")
        }
        let boosted = try weights(ExpertSteering(parsing: "1:2:1e6", stage: .router))
        for t in 0..<(boosted.count / E) {
            #expect(boosted[t * E + 2] > 0.9 * boosted[(t * E)..<((t + 1) * E)].max()!, "router stage: token \(t) \(boosted[(t * E)..<((t + 1) * E)])")
        }
        #expect(throws: VaneError.self) { try ExpertSteering(parsing: "1:9:2", stage: .weights).install(on: Hooks(), config: model.config) }
        #expect(throws: VaneError.self) { try ExpertSteering(parsing: "1:2", stage: .weights) }
    }

    /// ablate-experts on transformers 5's fused layout (tiny-qwen3moe-fused) zeroes the same experts as on the
    /// per-expert folder: both outputs, written one tensor per expert, are equal (tolerance 0).
    @Test func ablateExpertsOnTheFusedLayout() throws {
        let dir = try scratch("moe-fused-ablate")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, source) in [("from-fused", "arch/tiny-qwen3moe-fused"), ("from-per-expert", "arch/tiny-qwen3moe")] {
            try Bake.ablateExperts(ModelInput(url: Fixtures.url(source)), experts: [1: [0, 3]],
                                   to: OutputOptions(url: dir.appendingPathComponent(name), dtype: .f32), provenance: ["edit.recipe": "test"])
        }
        let ablated = try folderTensors(dir.appendingPathComponent("from-fused"))
        #expect(ablated["model.layers.1.mlp.experts.3.down_proj.weight"]?.data.allSatisfy { $0 == 0 } == true)
        #expect(ablated["model.layers.1.mlp.experts.1.down_proj.weight"]?.data.contains { $0 != 0 } == true)
        if let p = compareTensors(ablated, try folderTensors(dir.appendingPathComponent("from-per-expert")), atol: 0) {
            Issue.record(Comment(rawValue: p))
        }
    }

    /// `edit ablate` on a mixture-of-experts model reaches every expert's down projection and the shared expert's:
    /// the baked model (GGUF and HF folder) equals projecting r̂ out of hook_attn_out and hook_mlp_out at the same
    /// layers (≤ 1e-4 of the largest logit). `edit add` at the MLP (a vector at hook_resid_post) is refused with
    /// the reason; at hook_attn_out it bakes into o_proj's bias and equals steering.
    @Test(arguments: ["tiny-qwen2moe", "tiny-qwen3moe", "tiny-olmoe", "tiny-mixtral"])
    func directionEditsReachEveryExpert(_ family: String) throws {
        let source = Fixtures.url("arch/\(family)")
        let dir = try scratch("moe-direction-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try ModelInput(url: source)
        let cfg = input.config
        let layers = Array(1..<cfg.numHiddenLayers)
        let (v, url) = try randomVector(width: cfg.hiddenSize, layers: layers, in: dir, seed: 21)
        let hooks = Hooks()
        for l in layers {
            let u = unit(v.directions[l]!)
            hooks.add(.attnOut(l)) { project($0, u, rowParts: [0]) }
            hooks.add(.mlpOut(l)) { project($0, u, rowParts: [0]) }
        }
        let model = try LanguageModel(url: source)
        let hooked = try logits(model, hooks: hooks)
        let moved = zip(hooked, try logits(model)).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-3, "\(family): the hooked ablation moved the logits by only \(moved)")
        for name in ["ablated.gguf", "ablated-hf"] {
            let out = dir.appendingPathComponent(name)
            try DirectionEdits.ablate(input, direction: try .init(contentsOf: url), layers: nil, targets: [.attnOutput, .ffnDown],
                                      normPreserve: false, to: OutputOptions(url: out, dtype: .f32), command: "test")
            let baked = try logits(LanguageModel(url: out))
            if let msg = compareRelative(baked, hooked, rel: 1e-4, label: "\(family) \(name) baked vs hooked") {
                Issue.record(Comment(rawValue: msg))
            }
        }

        expect(errorText {
            try DirectionEdits.add(input, direction: try .init(contentsOf: url), scale: 2, layers: [1],
                                   to: OutputOptions(url: dir.appendingPathComponent("add.gguf")), command: "test")
        }, contains: ["block 1", "routes tokens to experts", "no weight edit equals", "vane generate --steer"])
        let (va, urlA) = try randomVector(width: cfg.hiddenSize, layers: layers, hook: .attnOut, in: dir, seed: 5)
        let added = dir.appendingPathComponent("add-attn.gguf")
        try DirectionEdits.add(input, direction: try .init(contentsOf: urlA), scale: -2, layers: [1], to: OutputOptions(url: added), command: "test")
        let steer = Hooks()
        try Steering(vectors: [(va, -2)], layers: [1], op: .add).install(on: steer, promptLength: Self.ids.count, modelLayers: cfg.numHiddenLayers)
        if let msg = compareRelative(try logits(LanguageModel(url: added)), try logits(model, hooks: steer), rel: 1e-4, label: "\(family) add at attn_out") {
            Issue.record(Comment(rawValue: msg))
        }
    }

    /// diff / apply / merge on stacked experts: with B = tiny-qwen2moe whose block 1 expert 3 is ablated (HF
    /// folder, one tensor per expert), diff(B, A) reports a change in exactly that down projection, apply(A, Δ)
    /// gives B's tensors, and a linear 0.5/0.5 merge gives 0.5·(A + B) in every expert's tensors, checked
    /// elementwise against the two inputs' safetensors read here.
    @Test func diffApplyMergeReachEveryExpert() throws {
        let a = Fixtures.url("arch/tiny-qwen2moe")
        let dir = try scratch("moe-downstream")
        defer { try? FileManager.default.removeItem(at: dir) }
        let b = dir.appendingPathComponent("ablated")
        try Bake.ablateExperts(ModelInput(url: a), experts: [1: [3]], to: OutputOptions(url: b, dtype: .f32),
                               provenance: ["edit.recipe": "test"])
        let tv = dir.appendingPathComponent("delta.taskvec.safetensors")
        let report = try TaskVector.diff(ModelInput(url: b), ModelInput(url: a), to: tv)
        let changed = report.tensors.filter { $0.sparsity < 1 }.map(\.name)
        #expect(changed == ["blk.1.ffn_down_exps.weight"] || changed == ["model.layers.1.mlp.experts.3.down_proj.weight"],
                "changed tensors: \(changed)")
        let applied = dir.appendingPathComponent("applied")
        try TaskVector.apply(base: ModelInput(url: a), taskVector: tv, scale: 1, to: OutputOptions(url: applied))
        if let p = compareTensors(try folderTensors(applied), try folderTensors(b), atol: 1e-6) { Issue.record(Comment(rawValue: p)) }

        let yaml = """
        merge_method: linear
        models:
          - model: \(a.path)
            parameters: {weight: 0.5}
          - model: \(b.path)
            parameters: {weight: 0.5}
        dtype: float32
        """
        let merged = dir.appendingPathComponent("merged")
        try Merge.run(MergeConfig(yaml: yaml, directory: dir), to: OutputOptions(url: merged))
        let (ta, tb, tm) = (try folderTensors(a), try folderTensors(b), try folderTensors(merged))
        var expected: [String: Tensor] = [:]
        for (name, x) in ta { expected[name] = Tensor(shape: x.shape, data: zip(x.data, tb[name]!.data).map { 0.5 * $0 + 0.5 * $1 }) }
        #expect(tm.keys.filter { $0.contains("experts.") }.count == 3 * 4 * 3, "per-expert tensors in the merge: \(tm.keys.filter { $0.contains("experts.") }.count)")
        if let p = compareTensors(tm, expected, atol: 1e-6) { Issue.record(Comment(rawValue: p)) }
    }
}

import Testing
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Hooks read without disturbing the pass, and writes through different hook points agree with each other.
@Suite struct HookTests {
    let ids = [46, 332, 355, 320, 264, 300]

    func run(_ model: LanguageModel, _ hooks: Hooks?) throws -> [Float] {
        try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count), hooks: hooks, logits: .all).data
    }

    @Test func readingHooksLeaveLogitsBitIdentical() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-qwen2"))
        let plain = try run(model, nil)
        let hooks = Hooks()
        Capture().attach(to: hooks, points: HookPoint.all(layers: model.config.numHiddenLayers).filter {
            if case .attnResult = $0 { false } else { true }
        })
        #expect(try run(model, hooks) == plain)
    }

    /// Zeroing head 1's z before o_proj and zeroing its result after o_proj are the same intervention.
    @Test func zeroingHeadViaZOrResultAgrees() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let c = model.config
        let viaZ = Hooks()
        viaZ.add(.attnZ(1)) { a in
            for t in 0..<a.shape[0] { for i in 0..<c.headDim { a.values[(t * c.numAttentionHeads + 1) * c.headDim + i] = 0 } }
        }
        let viaResult = Hooks()
        viaResult.add(.attnResult(1)) { a in
            for t in 0..<a.shape[0] { for i in 0..<c.hiddenSize { a.values[(t * c.numAttentionHeads + 1) * c.hiddenSize + i] = 0 } }
        }
        let z = try run(model, viaZ), r = try run(model, viaResult), plain = try run(model, nil)
        if let msg = compare(r, z, atol: 1e-5, label: "result-zeroed vs z-zeroed logits") { Issue.record(Comment(rawValue: msg)) }
        #expect(compare(plain, z, atol: 1e-3) != nil, "zeroing a head must change the logits")
    }

    /// A write at resid_post of block L is what block L+1 reads as resid_pre.
    @Test func writesPropagateDownstream() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let hooks = Hooks()
        hooks.add(.residPost(0)) { a in for i in 0..<a.values.count { a.values[i] += 0.5 } }
        let capture = Capture()
        capture.attach(to: hooks, points: [.residPost(0), .residPre(1)])
        _ = try run(model, hooks)
        // Capture was registered after the write, so both see the modified stream.
        #expect(capture.tensors[.residPost(0)]! == capture.tensors[.residPre(1)]!)
        let clean = Capture(), cleanHooks = Hooks()
        clean.attach(to: cleanHooks, points: [.residPost(0)])
        _ = try run(model, cleanHooks)
        let delta = zip(capture.tensors[.residPost(0)]!.data, clean.tensors[.residPost(0)]!.data).map { $0 - $1 }
        if let msg = compare(delta, [Float](repeating: 0.5, count: delta.count), atol: 1e-6, label: "written delta") {
            Issue.record(Comment(rawValue: msg))
        }
    }

    @Test func patternsExpandAndRejectClearly() throws {
        let points = try HookPoint.matching(["blocks.*.hook_resid_post", "hook_embed"], layers: 3)
        #expect(points.map(\.description) == ["hook_embed", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.2.hook_resid_post"])
        #expect(throws: VaneError.self) { try HookPoint.matching(["blocks.7.hook_resid_post"], layers: 3) }
        #expect(throws: VaneError.self) { try HookPoint.matching(["blocks.*.hook_resid_postt"], layers: 3) }
    }
}

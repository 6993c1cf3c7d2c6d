import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// The hook points q, k, v, rot_q, rot_k, pattern and mlp.hook_post against a float64 numpy forward written
/// from the definitions (hook_reference.py, beside this file), on every family's tiny model, prompt 2 (55 tokens:
/// past Mistral's window and Llama 3's original context). The numpy forward's logits are first checked against
/// transformers' (so the reference is anchored to an independent implementation). Tolerance: 1e-4 of each
/// tensor's largest magnitude.
@Suite(.enabled(if: numpyAvailable)) struct NewHookPointTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("hook_reference.py")

    static func numpyReference(_ family: String, ids: [Int]) throws -> [String: Tensor] {
        try numpyReference(folder: ArchFixtures.folder(family), ids: ids)
    }

    static func numpyReference(folder: URL, ids: [Int]) throws -> [String: Tensor] {
        let out = try scratch("hooks").appendingPathComponent("ref.safetensors")
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        let r = try VaneProcess.run("/usr/bin/env", ["python3", script.path, folder.path,
                                                     ids.map(String.init).joined(separator: ","), out.path])
        guard r.status == 0 else { throw VaneError("hook_reference.py failed: \(r.output)") }
        return try loadReference(out)
    }

    static func points(_ l: Int) -> [(HookPoint, String)] {
        [(.attnQ(l), "q.\(l)"), (.attnK(l), "k.\(l)"), (.attnV(l), "v.\(l)"), (.attnRotQ(l), "rot_q.\(l)"),
         (.attnRotK(l), "rot_k.\(l)"), (.attnPattern(l), "pattern.\(l)"), (.mlpPost(l), "mlp_post.\(l)")]
    }

    @Test(arguments: ["llama", "llama3", "mistral", "qwen3", "olmo2", "phi3"])
    func hooksMatchFloat64Forward(_ family: String) throws {
        let folder = family == "llama" ? Fixtures.url("tiny-llama") : ArchFixtures.folder(family)
        let ids = family == "llama" ? [46, 332, 355, 320, 264, 300, 313, 68] : try ArchFixtures.prompts(family)[2].ids
        let reference = try Self.numpyReference(folder: folder, ids: ids)
        if family != "llama" {
            let transformers = try #require(try ArchFixtures.tensors(family)["p2.logits"])
            let msg = compareRelative(reference["logits"]!.data, transformers.data, rel: 1e-5, label: "\(family): numpy forward vs transformers")
            try #require(msg == nil, Comment(rawValue: msg ?? ""))
        }
        let model = try LanguageModel(url: folder)
        let hooks = Hooks(), capture = Capture()
        let layers = model.config.numHiddenLayers
        capture.attach(to: hooks, points: (0..<layers).flatMap { Self.points($0).map(\.0) })
        _ = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count), hooks: hooks, logits: .none)
        for l in 0..<layers {
            for (point, name) in Self.points(l) {
                let actual = try #require(capture.tensors[point], "\(point) not captured")
                let expected = try #require(reference[name])
                #expect(actual.shape == expected.shape, "\(family) \(point): shape \(actual.shape) vs \(expected.shape)")
                if let msg = compareRelative(actual.data, expected.data, rel: 1e-4, label: "\(family) \(point)") {
                    Issue.record(Comment(rawValue: msg))
                }
                #expect(model.transformer.rowShape(point) == (point.isPerToken ? Array(actual.shape.dropFirst())
                    : [model.config.numAttentionHeads, model.config.maxPositionEmbeddings]), "\(family) rowShape(\(point))")
            }
        }
    }

    /// A prompt then single decoded tokens: Capture pads each call's pattern [H, 1, S] into one [H, T, T] (zeros
    /// where the causal mask put them), equal to the one-pass pattern; the window masks earlier keys in decoding too.
    @Test func patternAcrossDecodingSteps() throws {
        let ids = try ArchFixtures.prompts("mistral")[1].ids
        let reference = try Self.numpyReference("mistral", ids: ids)
        let model = try LanguageModel(url: ArchFixtures.folder("mistral"))
        let hooks = Hooks(), capture = Capture()
        capture.attach(to: hooks, points: [.attnPattern(2), .attnQ(2)])
        let cache = model.transformer.makeCache(capacity: ids.count)
        let split = ids.count - 4
        _ = try model.transformer.forward(Array(ids[..<split]), cache: cache, hooks: hooks, logits: .none)
        for id in ids[split...] { _ = try model.transformer.forward([id], cache: cache, hooks: hooks, logits: .none) }
        let pattern = try #require(capture.tensors[.attnPattern(2)])
        #expect(pattern.shape == [4, ids.count, ids.count])
        if let msg = compareRelative(pattern.data, reference["pattern.2"]!.data, rel: 1e-4, label: "stepwise pattern") {
            Issue.record(Comment(rawValue: msg))
        }
        #expect(capture.tensors[.attnQ(2)]!.shape == [ids.count, 4, 16])
    }

    /// A hook that writes the pattern changes what attention mixes: uniform weights over the visible positions
    /// make z the mean of the visible values.
    @Test func patternIsWritable() throws {
        let model = try LanguageModel(url: ArchFixtures.folder("qwen3"))
        let ids = [46, 332, 355, 320]
        let hooks = Hooks(), capture = Capture()
        hooks.add(.attnPattern(0)) { a in
            let (H, T, S) = (a.shape[0], a.shape[1], a.shape[2])
            for h in 0..<H { for t in 0..<T { for j in 0..<S { a.values[(h * T + t) * S + j] = j <= t ? 1 / Float(t + 1) : 0 } } }
        }
        capture.attach(to: hooks, points: [.attnV(0), .attnZ(0)])
        _ = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: 4), hooks: hooks, logits: .none)
        let v = capture.tensors[.attnV(0)]!, z = capture.tensors[.attnZ(0)]!
        let (H, KV, hd) = (model.config.numAttentionHeads, model.config.numKeyValueHeads, model.config.headDim)
        var expected = [Float](repeating: 0, count: z.data.count)
        for t in 0..<4 { for h in 0..<H { for i in 0..<hd {
            var s: Float = 0
            for j in 0...t { s += v.data[(j * KV + h / (H / KV)) * hd + i] }
            expected[(t * H + h) * hd + i] = s / Float(t + 1)
        } } }
        if let msg = compare(z.data, expected, atol: 1e-5, label: "z under a uniform pattern") { Issue.record(Comment(rawValue: msg)) }
    }

    /// mlp.hook_expert_out [T, E, d] on tiny-qwen2moe (prompt 2, 55 tokens) against the float64 numpy forward
    /// (anchored first: its logits and router logits against transformers' ≤ 1e-5 of their max): each selected
    /// expert's output before its routing weight, zero rows for the others, ≤ 1e-5 of the largest magnitude.
    @Test func expertOutMatchesFloat64Forward() throws {
        let ids = try ArchFixtures.prompts("qwen2moe")[2].ids
        let reference = try Self.numpyReference("qwen2moe", ids: ids)
        let transformers = try ArchFixtures.tensors("qwen2moe")
        for (name, ours) in [("p2.logits", "logits"), ("p2.router_logits.1", "router_logits.1")] {
            let msg = compareRelative(reference[ours]!.data, transformers[name]!.data, rel: 1e-5, label: "numpy \(ours) vs transformers")
            try #require(msg == nil, Comment(rawValue: msg ?? ""))
        }
        let model = try LanguageModel(url: ArchFixtures.folder("qwen2moe"))
        let (E, d) = (model.config.moe!.experts, model.config.hiddenSize)
        let hooks = Hooks(), capture = Capture()
        let layers = model.config.numHiddenLayers
        capture.attach(to: hooks, points: (0..<layers).flatMap { [HookPoint.expertOut($0), .expertWeights($0)] })
        _ = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count), hooks: hooks, logits: .none)
        for l in 0..<layers {
            let actual = try #require(capture.tensors[.expertOut(l)])
            #expect(actual.shape == [ids.count, E, d])
            #expect(model.transformer.rowShape(.expertOut(l)) == [E, d])
            if let msg = compareRelative(actual.data, reference["expert_out.\(l)"]!.data, rel: 1e-5, label: "expert_out.\(l)") {
                Issue.record(Comment(rawValue: msg))
            }
            // Zero exactly where the expert weight is 0 (the unselected experts).
            let w = capture.tensors[.expertWeights(l)]!.data
            for i in 0..<w.count where w[i] == 0 {
                #expect(actual.data[(i * d)..<((i + 1) * d)].allSatisfy { $0 == 0 }, "layer \(l) row \(i / E) expert \(i % E)")
            }
        }
    }

    /// Writing back what was read leaves the logits bit for bit as an unhooked run; doubling one expert's output
    /// equals doubling its routing weight (≤ 1e-5 of the largest logit), and moves the logits.
    @Test func expertOutIsWritable() throws {
        let model = try LanguageModel(url: ArchFixtures.folder("qwen2moe"))
        let ids = try ArchFixtures.prompts("qwen2moe")[1].ids
        let E = model.config.moe!.experts, d = model.config.hiddenSize
        func logits(_ hooks: Hooks?) throws -> [Float] {
            try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count), hooks: hooks, logits: .all).data
        }
        let plain = try logits(nil)
        let rewrite = Hooks()
        for l in 0..<model.config.numHiddenLayers {
            rewrite.add(.expertOut(l)) { a in
                let copy = Array(a.values)
                for i in copy.indices { a.values[i] = copy[i] }
            }
        }
        let rewritten = try logits(rewrite)
        #expect(rewritten == plain, "writing back the read expert outputs changed the logits")

        let outDoubled = Hooks(), weightDoubled = Hooks()
        outDoubled.add(.expertOut(1)) { a in
            for t in 0..<a.shape[0] { for j in 0..<d { a.values[(t * E + 2) * d + j] *= 2 } }
        }
        weightDoubled.add(.expertWeights(1)) { a in
            for t in 0..<a.shape[0] { a.values[t * E + 2] *= 2 }
        }
        let (a, b) = (try logits(outDoubled), try logits(weightDoubled))
        if let msg = compareRelative(a, b, rel: 1e-5, label: "expert_out ×2 vs expert weight ×2") { Issue.record(Comment(rawValue: msg)) }
        let moved = zip(a, plain).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-3, "doubling expert 2 of block 1 moved the logits by only \(moved)")
    }
}

/// Whether python3 can import numpy (the float64 references need it).
let numpyAvailable: Bool = (try? VaneProcess.run("/usr/bin/env", ["python3", "-c", "import numpy"]).status) == 0

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
}

/// Whether python3 can import numpy (the float64 references need it).
let numpyAvailable: Bool = (try? VaneProcess.run("/usr/bin/env", ["python3", "-c", "import numpy"]).status) == 0

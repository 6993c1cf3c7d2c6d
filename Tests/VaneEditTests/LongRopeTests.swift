import Foundation
import Testing
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Phi-3's LongRoPE on tiny-phi3 with a LongRoPE config.json (original context 16 of 64, partial rotary 0.75, short
/// and long factors per rotary pair), against the float64 numpy forward (VaneEngineTests/hook_reference.py), whose
/// phi3 path NewHookPointTests anchors to transformers' logits on the unscaled fixture. No transformers run of a
/// LongRoPE model is reachable here (no torch), so the numpy forward states transformers' rule from its source:
/// the table of each forward call by its last position, the rotated dims times the attention factor.
/// Tolerance: 1e-4 × each tensor's largest magnitude.
@Suite(.enabled(if: numpyPresent)) struct LongRopeTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("VaneEngineTests/hook_reference.py")
    static let short: [Double] = [1.0, 1.1, 1.3, 1.6, 2.0, 2.5]
    static let long: [Double] = [1.0, 1.5, 3.0, 6.0, 12.0, 24.0]

    /// tiny-phi3 with `rope` as its rope_parameters (LongRoPE unless told otherwise), in a scratch folder.
    static func folder(_ label: String, rope: [String: Any]? = nil) throws -> URL {
        let source = ArchFixtures.folder("phi3")
        let dir = try scratch("longrope-\(label)")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where !name.hasSuffix(".gguf") && !name.hasPrefix("reference") {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let configURL = dir.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        config["max_position_embeddings"] = 64
        config["original_max_position_embeddings"] = 16
        config["rope_parameters"] = rope ?? ["rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.75,
                                             "short_factor": short, "long_factor": long]
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        return dir
    }

    static func numpy(_ folder: URL, ids: [Int], calls: [Int]? = nil) throws -> [Float] {
        let out = folder.appendingPathComponent("numpy.safetensors")
        var args = ["python3", script.path, folder.path, ids.map(String.init).joined(separator: ","), out.path]
        if let calls { args.append(calls.map(String.init).joined(separator: ",")) }
        let r = try VaneProcess.run("/usr/bin/env", args)
        guard r.status == 0 else { throw VaneError("hook_reference.py failed: \(r.output)") }
        return try #require(try loadReference(out)["logits"]).data
    }

    static let ids: [Int] = { (try? ArchFixtures.prompts("phi3")[2].ids) ?? [] }()

    /// One call for a prompt inside the original context (short table) and one past it (long table).
    @Test func teacherForcedPassesMatchFloat64() throws {
        let dir = try Self.folder("forced")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LanguageModel(url: dir)
        let r = try #require(model.config.longRope)
        #expect(abs(r.attentionFactor - Float(1.5.squareRoot())) < 1e-6, "√(1 + ln 4 / ln 16)")
        for n in [12, 40] {
            let ids = Array(Self.ids.prefix(n))
            let logits = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: n), logits: .all)
            if let msg = compareRelative(logits.data, try Self.numpy(dir, ids: ids), rel: 1e-4, label: "LongRoPE, \(n) tokens in one call") {
                Issue.record(Comment(rawValue: msg))
            }
        }
    }

    /// A prompt of 12 tokens, then one token per call through the cache past position 16: the calls from the 17th
    /// position on use the long table while the cache keeps the keys made with the short one.
    @Test func cachedCallsCrossingTheOriginalContext() throws {
        let dir = try Self.folder("cached")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LanguageModel(url: dir)
        let ids = Array(Self.ids.prefix(30))
        let cache = model.transformer.makeCache(capacity: ids.count)
        var logits = try model.transformer.forward(Array(ids.prefix(12)), cache: cache, logits: .all).data
        for id in ids.dropFirst(12) { logits += try model.transformer.forward([id], cache: cache, logits: .all).data }
        let calls = [12] + Array(repeating: 1, count: 18)
        if let msg = compareRelative(logits, try Self.numpy(dir, ids: ids, calls: calls), rel: 1e-4, label: "LongRoPE, cached calls") {
            Issue.record(Comment(rawValue: msg))
        }
        // The same ids in one call take the long table for every row, so the early rows differ.
        let once = try Self.numpy(dir, ids: ids)
        #expect(compareRelative(Array(once.prefix(12 * 384)), Array(logits.prefix(12 * 384)), rel: 1e-3, label: "") != nil,
                "the table must depend on how the calls reach past the original context")
    }

    /// In one batched call each sequence takes the table of its own positions: a sequence crossing position 16, one
    /// already past it and one inside it give the logits of their one-sequence calls exactly (tolerance 0).
    @Test func batchedSequencesTakeTheirOwnTables() throws {
        let dir = try Self.folder("batch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Transformer(url: dir)
        var pending = [Array(Self.ids.prefix(14)), Array(Self.ids.prefix(30)), Array(Self.ids.prefix(3))]
        let batchCaches = pending.map { _ in model.makeCache(capacity: 64) }
        let aloneCaches = pending.map { _ in model.makeCache(capacity: 64) }
        for step in 0..<5 {
            let batched = try model.forward(pending.indices.map { Transformer.BatchInput(pending[$0], cache: batchCaches[$0]) },
                                            logits: .last)
            for k in pending.indices {
                let alone = try model.forward(pending[k], cache: aloneCaches[k], logits: .last)
                if let msg = compare(batched[k].data, alone.data, atol: 0, label: "step \(step) sequence \(k)") {
                    Issue.record(Comment(rawValue: msg))
                }
                pending[k] = [Sampler.argmax(batched[k].data)]
            }
        }
    }

    /// HF → GGUF writes llama.cpp's names (rope_factors_long/short.weight, rope.scaling.attn_factor and
    /// original_context_length); the GGUF runs like the folder, and GGUF → HF writes the LongRoPE config back.
    @Test func convertsBothWays() throws {
        let dir = try Self.folder("convert")
        defer { try? FileManager.default.removeItem(at: dir) }
        let gguf = dir.appendingPathComponent("model.gguf"), back = dir.appendingPathComponent("back")
        try Convert.run(ModelInput(url: dir), to: OutputOptions(url: gguf))
        let file = try GGUFFile(url: gguf)
        let longT = try #require(file.tensor(named: "rope_factors_long.weight"))
        let shortT = try #require(file.tensor(named: "rope_factors_short.weight"))
        #expect(dequantize(longT).data == Self.long.map(Float.init))
        #expect(dequantize(shortT).data == Self.short.map(Float.init))
        #expect(file.metadata["phi3.rope.scaling.original_context_length"]?.int == 16)
        #expect(file.metadata["phi3.rope.scaling.attn_factor"]?.float.map(Float.init) == Float(1.5.squareRoot()))

        try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: back))
        let written = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: back.appendingPathComponent("config.json"))) as? [String: Any])
        let rope = try #require(written["rope_parameters"] as? [String: Any])
        #expect(rope["rope_type"] as? String == "longrope")
        #expect(rope["long_factor"] as? [Double] == Self.long)
        #expect(rope["short_factor"] as? [Double] == Self.short)

        let configs = try [dir, gguf, back].map { try ModelFiles(url: $0).config.longRope }
        #expect(configs[1] == configs[0] && configs[2] == configs[0], "LongRoPE settings through both conversions")
        let ids = Array(Self.ids.prefix(40))
        let expected = try Self.numpy(dir, ids: ids)
        for url in [gguf, back] {
            let model = try LanguageModel(url: url)
            let logits = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count), logits: .all)
            if let msg = compareRelative(logits.data, expected, rel: 1e-4, label: "LongRoPE from \(url.lastPathComponent)") {
                Issue.record(Comment(rawValue: msg))
            }
        }
    }

    /// Factors that do not fit the rotary dims, or a missing one, are refused by name.
    @Test func badFactorsAreRefused() throws {
        let cases: [([String: Any], String)] = [
            (["rope_type": "longrope", "partial_rotary_factor": 0.75, "short_factor": Array(Self.short.prefix(5)), "long_factor": Self.long],
             "short_factor has 5 values; the 12 rotary dims need 6"),
            (["rope_type": "su", "short_factor": Self.short + Self.short.prefix(2), "long_factor": Self.long + [1.0, 0.0]],
             "long_factor holds 0.0"),
            (["rope_type": "longrope", "short_factor": Self.short], "needs \"short_factor\" and \"long_factor\""),
        ]
        for (i, (rope, message)) in cases.enumerated() {
            let dir = try Self.folder("bad\(i)", rope: rope)
            defer { try? FileManager.default.removeItem(at: dir) }
            #expect { _ = try ModelFiles(url: dir) } throws: { "\($0)".contains(message) }
        }
    }
}

private let numpyPresent: Bool = (try? VaneProcess.run("/usr/bin/env", ["python3", "-c", "import numpy"]).status) == 0

import Foundation
import Testing
import VaneEdit
import VaneTestSupport

/// Vane's merges against what mergekit 0.1.5 wrote for the same YAML files (Tests/Fixtures/merge, float32).
/// Tolerance: 1e-6 absolute.
@Suite struct MergeParityTests {
    @Test(arguments: [("linear", Float(1e-6)), ("task_arithmetic", 1e-6), ("ties", 1e-6), ("slerp", 1e-6), ("reasoning_vector", 1e-6)])
    func matchesMergekit(_ name: String, _ atol: Float) throws {
        let config = try MergeConfig.load(Fixtures.url("merge/\(name).yaml"))
        let out = try scratch("merge-\(name)").appendingPathComponent("out")
        try Merge.run(config, to: OutputOptions(url: out))
        let actual = try folderTensors(out)
        let expected = try folderTensors(Fixtures.url("merge/merged-\(name)/model.safetensors"))
        let problem = compareTensors(actual, expected, atol: atol)
        #expect(problem == nil, "\(name): \(problem ?? "")")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("config.json").path))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("tokenizer.json").path))
    }

    /// Merges of a mixture-of-experts model (tiny-qwen3moe in transformers 5's fused layout, which mergekit's
    /// qwen3_moe architecture names; Tests/Fixtures/merge-moe) against mergekit 0.1.5, compared tensor by tensor
    /// under Vane's names after both outputs are loaded (Vane writes one tensor per expert, mergekit the fused
    /// gate_up_proj), tolerance 1e-6 absolute. linear, task_arithmetic and ties work elementwise or row by row and
    /// agree on every tensor. slerp takes the angle of a whole tensor: mergekit's gate_up_proj holds both
    /// projections of all experts, Vane's ffn_gate_exps / ffn_up_exps one projection each, so those two differ
    /// (docs/mixture-of-experts.md) and every other tensor, down_proj included, agrees.
    @Test(arguments: ["linear", "task_arithmetic", "ties", "slerp"])
    func moeMatchesMergekit(_ name: String) throws {
        let config = try MergeConfig.load(Fixtures.url("merge-moe/\(name).yaml"))
        let out = try scratch("merge-moe-\(name)").appendingPathComponent("out")
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        try Merge.run(config, to: OutputOptions(url: out))
        let (actual, expected) = (try ModelInput(url: out), try ModelInput(url: Fixtures.url("merge-moe/merged-\(name)")))
        #expect(Set(actual.names) == Set(expected.names))
        var compared = 0
        for tensor in expected.names {
            if name == "slerp", tensor.hasSuffix("ffn_gate_exps.weight") || tensor.hasSuffix("ffn_up_exps.weight") { continue }
            let (a, e) = (try actual.values(tensor), try expected.values(tensor))
            #expect(a.shape == e.shape, "\(name) \(tensor): shape \(a.shape) vs \(e.shape)")
            if let msg = compare(a.data, e.data, atol: 1e-6, label: "\(name) \(tensor)") { Issue.record(Comment(rawValue: msg)) }
            compared += 1
        }
        #expect(compared == (name == "slerp" ? expected.names.count - 6 : expected.names.count))
        #expect(expected.names.contains("blk.2.ffn_down_exps.weight"))
    }

    /// The other methods: mergekit's outputs kept for layer 1 and the final norm (make_more.py). Tolerance 1e-6
    /// absolute.
    @Test(arguments: ["model_stock", "model_stock_rows", "nuslerp", "nuslerp_columns", "multislerp", "sce", "karcher"])
    func matchesMergekitOnKeptTensors(_ name: String) throws {
        let config = try MergeConfig.load(Fixtures.url("merge/\(name).yaml"))
        let out = try scratch("merge-\(name)").appendingPathComponent("out")
        try Merge.run(config, to: OutputOptions(url: out))
        let expected = try folderTensors(Fixtures.url("merge/merged-\(name)/model.safetensors"))
        let actual = try folderTensors(out).filter { expected[$0.key] != nil }
        #expect(expected.count == 10)
        let problem = compareTensors(actual, expected, atol: 1e-6)
        #expect(problem == nil, "\(name): \(problem ?? "")")
    }
}

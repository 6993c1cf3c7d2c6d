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

import Foundation
import Testing
import VaneEdit
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Wrong inputs stop with an error that names the problem, before anything is written.
@Suite struct BadInputTests {
    func message(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    func config(_ yaml: String) throws -> MergeConfig {
        try MergeConfig(yaml: yaml, directory: Fixtures.url("merge"), path: "test.yaml")
    }

    @Test func mismatchedShapes() throws {
        let dir = try scratch("shapes")
        let bad = dir.appendingPathComponent("bad")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        for f in ["config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(at: Fixtures.url("merge/base/\(f)"), to: bad.appendingPathComponent(f))
        }
        var tensors = try folderTensors(Fixtures.url("merge/base")).sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) }
        let i = tensors.firstIndex { $0.name == "model.norm.weight" }!
        tensors[i].tensor = Tensor(shape: [32], data: [Float](repeating: 1, count: 32))
        try SafetensorsWriter.write(tensors, to: bad.appendingPathComponent("model.safetensors"))
        let m = message {
            _ = try TaskVector.diff(ModelInput(url: Fixtures.url("merge/ft_a")), ModelInput(url: bad), to: dir.appendingPathComponent("tv.safetensors"))
        }
        #expect(m.contains("output_norm.weight") && m.contains("[64]") && m.contains("[32]"), "\(m)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("tv.safetensors").path))
    }

    @Test func mismatchedArchitecture() throws {
        let m = message {
            _ = try TaskVector.diff(ModelInput(url: Fixtures.url("tiny-llama")), ModelInput(url: Fixtures.url("tiny-qwen2")),
                                    to: try scratch("arch").appendingPathComponent("tv.safetensors"))
        }
        #expect(m.contains("architectures differ") && m.contains("qwen2"), "\(m)")
    }

    @Test func missingBaseModel() {
        let m = message { _ = try config("merge_method: ties\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: 0.5}\n") }
        #expect(m.contains("ties needs a base_model"), "\(m)")
    }

    @Test func densityOutOfRange() {
        for d in ["0", "1.5", "-0.2"] {
            let m = message {
                _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: \(d)}\n")
            }
            #expect(m.contains("outside (0, 1]"), "\(d): \(m)")
        }
    }

    @Test func unknownMethod() {
        let m = message { _ = try config("merge_method: frankenmerge\nmodels:\n  - model: ft_a\n") }
        #expect(m.contains("unknown merge_method \"frankenmerge\"") && m.contains("dare_ties"), "\(m)")
    }

    @Test func invalidYAML() {
        let m = message { _ = try config("merge_method: [linear\n") }
        #expect(m.contains("test.yaml: not valid YAML"), "\(m)")
    }

    @Test func unreadableInput() throws {
        let cfg = try config("merge_method: linear\nmodels:\n  - model: nowhere\n    parameters: {weight: 1}\n")
        let m = message { try Merge.run(cfg, to: OutputOptions(url: try scratch("unreadable").appendingPathComponent("out"))) }
        #expect(m.contains("nowhere") && m.contains("no such file"), "\(m)")
        let n = message { _ = try ModelInput(url: Fixtures.url("merge/linear.yaml")) }
        #expect(n.contains("linear.yaml"), "\(n)")
    }

    @Test func outputOverwritesInput() throws {
        let cfg = try config("merge_method: linear\nmodels:\n  - model: ft_a\n    parameters: {weight: 1}\n")
        let m = message { try Merge.run(cfg, to: OutputOptions(url: Fixtures.url("merge/ft_a"))) }
        #expect(m.contains("would overwrite the input"), "\(m)")
        let gguf = Fixtures.url("tiny-llama.f32.gguf")
        let n = message { try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: gguf)) }
        #expect(n.contains("would overwrite the input"), "\(n)")
    }

    @Test func quantizedDtypeForHFFolder() throws {
        let m = message {
            try Convert.run(ModelInput(url: Fixtures.url("tiny-llama.f32.gguf")),
                            to: OutputOptions(url: try scratch("q").appendingPathComponent("hf"), dtype: .q8_0))
        }
        #expect(m.contains("cannot hold Q8_0"), "\(m)")
    }

    /// A misspelt key is an error naming the key, the method, where it is, and the keys the method reads.
    @Test func unknownParameter() {
        let m = message {
            _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, densty: 0.5}\n")
        }
        #expect(m.contains("test.yaml") && m.contains("\"densty\"") && m.contains("ties") && m.contains("models[0] (ft_a)")
                && m.contains("did you mean density") && m.contains("weight, density"), "\(m)")
        let top = message {
            _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1}\nparameters: {normalise: true}\n")
        }
        #expect(top.contains("\"normalise\"") && top.contains("in parameters:") && top.contains("ties") && top.contains("lambda"), "\(top)")
    }

    /// Keys are per method: density is a ties parameter but not a linear one; gamma only breadcrumbs'.
    @Test func parameterOfAnotherMethod() {
        let m = message { _ = try config("merge_method: linear\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: 0.5}\n") }
        #expect(m.contains("\"density\"") && m.contains("linear") && m.contains("per model (or at the top level for every model): weight;"), "\(m)")
        let g = message { _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, gamma: 0.1}\n") }
        #expect(g.contains("\"gamma\"") && g.contains("ties"), "\(g)")
        let b = message { _ = try config("merge_method: breadcrumbs\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: 0.9, gamma: 0.1}\n") }
        #expect(b == "no error", "\(b)")
    }

    /// A global parameter given per model is an error rather than silently ignored.
    @Test func globalParameterPerModel() {
        let m = message { _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, normalize: false}\n") }
        #expect(m.contains("normalize") && m.contains("global parameter of merge_method ties") && m.contains("top-level parameters:"), "\(m)")
        let t = message { _ = try config("merge_method: slerp\nbase_model: ft_a\nmodels:\n  - model: ft_a\n  - model: ft_b\n    parameters: {t: 0.5}\n") }
        #expect(t.contains("global parameter of merge_method slerp"), "\(t)")
    }

    @Test func slerpNeedsT() {
        let m = message { _ = try config("merge_method: slerp\nbase_model: ft_a\nmodels:\n  - model: ft_a\n  - model: ft_b\n") }
        #expect(m.contains("needs the parameter t"), "\(m)")
    }
}

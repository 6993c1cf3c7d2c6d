import Foundation
import Testing
import VaneEdit
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Wrong inputs stop with an error that names the problem, before anything is written.
@Suite struct BadInputTests {
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
        let m = errorText {
            _ = try TaskVector.diff(ModelInput(url: Fixtures.url("merge/ft_a")), ModelInput(url: bad), to: dir.appendingPathComponent("tv.safetensors"))
        }
        #expect(m.contains("output_norm.weight") && m.contains("[64]") && m.contains("[32]"), "\(m)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("tv.safetensors").path))
    }

    @Test func mismatchedArchitecture() throws {
        let m = errorText {
            _ = try TaskVector.diff(ModelInput(url: Fixtures.url("tiny-llama")), ModelInput(url: Fixtures.url("tiny-qwen2")),
                                    to: try scratch("arch").appendingPathComponent("tv.safetensors"))
        }
        #expect(m.contains("architectures differ") && m.contains("qwen2"), "\(m)")
    }

    @Test func missingBaseModel() {
        let m = errorText { _ = try config("merge_method: ties\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: 0.5}\n") }
        #expect(m.contains("ties needs a base_model"), "\(m)")
    }

    @Test func densityOutOfRange() {
        for d in ["0", "1.5", "-0.2"] {
            let m = errorText {
                _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: \(d)}\n")
            }
            #expect(m.contains("outside (0, 1]"), "\(d): \(m)")
        }
    }

    @Test func unknownMethod() {
        let m = errorText { _ = try config("merge_method: frankenmerge\nmodels:\n  - model: ft_a\n") }
        #expect(m.contains("unknown merge_method \"frankenmerge\"") && m.contains("dare_ties"), "\(m)")
    }

    @Test func invalidYAML() {
        let m = errorText { _ = try config("merge_method: [linear\n") }
        #expect(m.contains("test.yaml: not valid YAML"), "\(m)")
    }

    @Test func unreadableInput() throws {
        let cfg = try config("merge_method: linear\nmodels:\n  - model: nowhere\n    parameters: {weight: 1}\n")
        let m = errorText { try Merge.run(cfg, to: OutputOptions(url: try scratch("unreadable").appendingPathComponent("out"))) }
        #expect(m.contains("nowhere") && m.contains("no such file"), "\(m)")
        let n = errorText { _ = try ModelInput(url: Fixtures.url("merge/linear.yaml")) }
        #expect(n.contains("linear.yaml"), "\(n)")
    }

    @Test func outputOverwritesInput() throws {
        let cfg = try config("merge_method: linear\nmodels:\n  - model: ft_a\n    parameters: {weight: 1}\n")
        let m = errorText { try Merge.run(cfg, to: OutputOptions(url: Fixtures.url("merge/ft_a"))) }
        #expect(m.contains("would overwrite the input"), "\(m)")
        let gguf = Fixtures.url("tiny-llama.f32.gguf")
        let n = errorText { try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: gguf)) }
        #expect(n.contains("would overwrite the input"), "\(n)")
    }

    @Test func quantizedDtypeForHFFolder() throws {
        let m = errorText {
            try Convert.run(ModelInput(url: Fixtures.url("tiny-llama.f32.gguf")),
                            to: OutputOptions(url: try scratch("q").appendingPathComponent("hf"), dtype: .q8_0))
        }
        #expect(m.contains("cannot hold Q8_0"), "\(m)")
    }

    /// A misspelt key is an error naming the key, the method, where it is, and the keys the method reads.
    @Test func unknownParameter() {
        let m = errorText {
            _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, densty: 0.5}\n")
        }
        #expect(m.contains("test.yaml") && m.contains("\"densty\"") && m.contains("ties") && m.contains("models[0] (ft_a)")
                && m.contains("did you mean density") && m.contains("weight, density"), "\(m)")
        let top = errorText {
            _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1}\nparameters: {normalise: true}\n")
        }
        #expect(top.contains("\"normalise\"") && top.contains("in parameters:") && top.contains("ties") && top.contains("lambda"), "\(top)")
    }

    /// Keys are per method: density is a ties parameter but not a linear one; gamma only breadcrumbs'.
    @Test func parameterOfAnotherMethod() {
        let m = errorText { _ = try config("merge_method: linear\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: 0.5}\n") }
        #expect(m.contains("\"density\"") && m.contains("linear") && m.contains("per model (or at the top level for every model): weight;"), "\(m)")
        let g = errorText { _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, gamma: 0.1}\n") }
        #expect(g.contains("\"gamma\"") && g.contains("ties"), "\(g)")
        let b = errorText { _ = try config("merge_method: breadcrumbs\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: 0.9, gamma: 0.1}\n") }
        #expect(b == "no error", "\(b)")
    }

    /// A global parameter given per model is an error rather than silently ignored.
    @Test func globalParameterPerModel() {
        let m = errorText { _ = try config("merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, normalize: false}\n") }
        #expect(m.contains("normalize") && m.contains("global parameter of merge_method ties") && m.contains("top-level parameters:"), "\(m)")
        let t = errorText { _ = try config("merge_method: slerp\nbase_model: ft_a\nmodels:\n  - model: ft_a\n  - model: ft_b\n    parameters: {t: 0.5}\n") }
        #expect(t.contains("global parameter of merge_method slerp"), "\(t)")
    }

    /// Every parameter is checked against the range its method declares, before any output.
    @Test func parameterValuesOutOfRange() {
        let ties = "merge_method: ties\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: "
        let crumbs = "merge_method: breadcrumbs\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: "
        let slerp = "merge_method: slerp\nbase_model: ft_a\nmodels:\n  - model: ft_a\n  - model: ft_b\nparameters: "
        let cases: [(String, [String])] = [
            (ties + "{weight: .nan, density: 0.5}\n", ["test.yaml", "weight in models[0] (ft_a)", "nan", "a finite number"]),
            (ties + "{weight: .inf, density: 0.5}\n", ["weight", "inf", "a finite number"]),
            (ties + "{weight: [1, .nan], density: 0.5}\n", ["weight", "nan"]),
            (ties + "{weight: [], density: 0.5}\n", ["weight", "empty list"]),
            (ties + "{weight: true, density: 0.5}\n", ["weight", "is a bool"]),
            (ties + "{weight: 1, density: .nan}\n", ["density", "nan", "(0, 1]"]),
            (ties + "{weight: 1}\nparameters: {normalize: [1, 0]}\n", ["normalize in parameters", "true or false"]),
            (ties + "{weight: 1}\nparameters: {lambda: .inf}\n", ["lambda", "inf"]),
            (slerp + "{t: 1.5}\n", ["t in parameters", "1.5", "[0, 1]"]),
            (slerp + "{t: -0.1}\n", ["t in parameters", "[0, 1]"]),
            (slerp + "{t: .nan}\n", ["t in parameters", "nan"]),
            (crumbs + "{weight: 1, density: 0.5, gamma: 1.5}\n", ["gamma", "1.5", "[0, 1]"]),
            (crumbs + "{weight: 1, density: 0.5, gamma: -0.1}\n", ["gamma", "-0.1", "[0, 1]"]),
            (crumbs + "{weight: 1, density: 0.9, gamma: 0.2}\n", ["density 0.9 + gamma 0.2", "ft_a", "exceeds 1"]),
        ]
        for (yaml, parts) in cases {
            let m = errorText { _ = try config(yaml) }
            for part in parts { #expect(m.contains(part), "\(yaml): \(m)") }
        }
        #expect(errorText { _ = try config(crumbs + "{weight: 1, density: 0.8, gamma: 0.2}\n") } == "no error")
    }

    /// A slerp whose two models are both the base used to trap in the merge and leave a .partial folder behind.
    @Test func slerpOfTheBaseWithItself() throws {
        let m = errorText { _ = try config("merge_method: slerp\nbase_model: ft_a\nmodels:\n  - model: ft_a\n  - model: ft_a\nparameters: {t: 0.5}\n") }
        #expect(m.contains("test.yaml") && m.contains("two different models"), "\(m)")
    }

    @Test func applyRefusesNonFiniteScale() throws {
        let dir = try scratch("scale")
        let out = dir.appendingPathComponent("out")
        let m = errorText {
            try TaskVector.apply(base: ModelInput(url: Fixtures.url("merge/base")), taskVector: dir.appendingPathComponent("tv.safetensors"),
                                 scale: .nan, to: OutputOptions(url: out))
        }
        #expect(m.contains("scale nan is not a finite number"), "\(m)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// Deep nesting overflowed the stack inside Yams and nested aliases made it expand for ever, even unused;
    /// both are refused from the text, naming the file and line, in well under a second.
    @Test func hostileYAMLIsRefusedBeforeParsing() {
        let start = Date()
        var laughs = "a0: &a0 x\n"
        for level in 1...9 { laughs += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n" }
        let cases: [(String, [String])] = [
            ("merge_method: linear\n" + laughs + "models:\n  - model: ft_a\n", ["test.yaml:7:", "*a4", "aliases expand to more than 10000"]),
            ("merge_method: linear\nx: " + String(repeating: "[", count: 5_000) + "\n", ["test.yaml:2:", "nested deeper than 64"]),
            ("merge_method: linear\nx: " + String(repeating: "{a: ", count: 20_000) + "\n", ["test.yaml:2:", "nested deeper than 64"]),
            ("merge_method: linear\nx:\n" + String(repeating: "- ", count: 5_000) + "1\n", ["test.yaml:3:", "nested deeper than 64"]),
            ("x:\n" + (1...200).map { String(repeating: " ", count: $0) + "a\($0):" }.joined(separator: "\n") + "\n", ["test.yaml:65:", "nested deeper than 64"]),
        ]
        for (yaml, parts) in cases {
            let m = errorText { _ = try config(yaml) }
            for part in parts { #expect(m.contains(part), "\(yaml.prefix(80)): \(m.prefix(300))") }
        }
        // Brackets, anchors and indentation in quotes, comments and block scalars are text, and a few aliases are fine.
        let fine = "merge_method: linear\n# [[[[ *a *a\nw: &w 1\nnote: '[[[[{{{{ *w *w'\ntext: |\n" + (1...100).map { String(repeating: " ", count: $0 + 1) + "t" }.joined(separator: "\n")
            + "\nmodels:\n  - model: ft_a\n    parameters: {weight: *w}\n  - model: ft_b\n    parameters: {weight: *w}\n"
        #expect(errorText { _ = try config(fine) } == "no error")
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func slerpNeedsT() {
        let m = errorText { _ = try config("merge_method: slerp\nbase_model: ft_a\nmodels:\n  - model: ft_a\n  - model: ft_b\n") }
        #expect(m.contains("needs the parameter t"), "\(m)")
    }
}

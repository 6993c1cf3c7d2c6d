import Foundation
import Testing
import VaneEdit
import VaneTestSupport

/// Configs of the methods beyond task arithmetic that mergekit refuses are refused too, with the reason.
@Suite struct MergeConfigTests {
    func config(_ yaml: String) throws -> MergeConfig {
        try MergeConfig(yaml: yaml, directory: Fixtures.url("merge"), path: "test.yaml")
    }

    @Test func modelCountsAndParameterValues() {
        let two = "models:\n  - model: ft_a\n    parameters: {weight: 1}\n  - model: ft_b\n    parameters: {weight: 1}\n"
        let cases: [(String, [String])] = [
            ("merge_method: nuslerp\n" + two + "  - model: base\n    parameters: {weight: 1}\n",
             ["test.yaml", "nuslerp interpolates exactly two models", "has 3"]),
            ("merge_method: model_stock\nbase_model: base\nmodels:\n  - model: ft_a\n",
             ["model_stock needs at least two models besides the base_model", "has 1"]),
            ("merge_method: sce\n" + two, ["sce needs a base_model"]),
            ("merge_method: sce\nbase_model: base\n" + two, ["unknown parameter \"weight\"", "sce reads only top-level parameters: select_topk, int8_mask"]),
            ("merge_method: karcher\nmodels:\n  - model: ft_a\nparameters: {max_iter: 2.5}\n", ["max_iter in parameters is 2.5", "a whole number"]),
            ("merge_method: multislerp\n" + two + "parameters: {eps: 0}\n", ["eps in parameters is 0.0", "a number above 0"]),
            ("merge_method: multislerp\nmodels:\n  - model: ft_a\n  - model: ft_b\n", ["ft_a has no weight; multislerp needs one per model"]),
            ("merge_method: della\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: 0.5, epsilon: 1.5}\n",
             ["epsilon in models[0] (ft_a) parameters is 1.5, outside [0, 1]"]),
        ]
        for (yaml, parts) in cases {
            let m = errorText { _ = try config(yaml) }
            expect(m, contains: parts)
        }
    }

    /// mergekit's DELLA needs density ± epsilon inside (0, 1); the error names the tensor.
    @Test func dellaEpsilonBeyondDensity() throws {
        let merge = try config("merge_method: della\nbase_model: base\nmodels:\n  - model: ft_a\n    parameters: {weight: 1, density: 0.2, epsilon: 0.3}\n")
        let out = try scratch("della-epsilon").appendingPathComponent("out")
        let m = errorText { try Merge.run(merge, to: OutputOptions(url: out)) }
        expect(m, contains: ["della on", "density 0.2 ± epsilon 0.3 leaves (0, 1)", "epsilon below both density and 1 − density"])
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    /// nuslerp and multislerp merge the models themselves when there is no base; with one, their task vectors.
    @Test func optionalBase() throws {
        for method in ["nuslerp", "multislerp"] {
            let yaml = "merge_method: \(method)\nmodels:\n  - model: ft_a\n    parameters: {weight: 1}\n  - model: ft_b\n    parameters: {weight: 1}\n"
            #expect(try config(yaml).baseModel == nil)
            #expect(try config(yaml + "base_model: base\n").baseModel != nil)
        }
    }
}

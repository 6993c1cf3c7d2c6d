import Foundation
import Testing
import VaneEdit
import VaneRecipes
import VaneTestSupport

@Suite struct ReasoningVectorTests {
    /// The recipe computes the same thing as reasoning_vector.yaml: ft_b + (ft_a − base).
    @Test func recipeMatchesReasoningVectorMerge() throws {
        let out = try scratch("recipe").appendingPathComponent("out")
        let report = try ReasoningVector.run(
            grpo: ModelInput(url: Fixtures.url("merge/ft_a")), sft: ModelInput(url: Fixtures.url("merge/base")),
            target: ModelInput(url: Fixtures.url("merge/ft_b")), scale: 1, to: OutputOptions(url: out))
        let problem = compareTensors(try folderTensors(out), try folderTensors(Fixtures.url("merge/merged-reasoning_vector/model.safetensors")), atol: 1e-6)
        #expect(problem == nil, "\(problem ?? "")")
        #expect(report.tensors.count == 30)
    }
}

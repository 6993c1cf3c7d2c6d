import Foundation
import Testing
import VaneEdit
import VaneRecipes
import VaneTensor
import VaneTestSupport

@Suite struct ReasoningVectorTests {
    /// The recipe computes the same thing as reasoning_vector.yaml: ft_b + (ft_a − base).
    @Test func recipeMatchesReasoningVectorMerge() throws {
        let out = try scratch("recipe").appendingPathComponent("out")
        let (report, _) = try ReasoningVector.run(
            grpo: ModelInput(url: Fixtures.url("merge/ft_a")), sft: ModelInput(url: Fixtures.url("merge/base")),
            target: ModelInput(url: Fixtures.url("merge/ft_b")), scale: 1, to: OutputOptions(url: out))
        let problem = compareTensors(try folderTensors(out), try folderTensors(Fixtures.url("merge/merged-reasoning_vector/model.safetensors")), atol: 1e-6)
        #expect(problem == nil, "\(problem ?? "")")
        #expect(report.tensors.count == 30)
    }

    /// With GRPO = base carrying ft_a's MLP tensors and SFT = base, only the MLP tensors change (target +
    /// (GRPO − SFT), computed here); the rest are the target's bytes, and the report counts 21 unchanged tensors.
    @Test func copiesWhereGRPOEqualsSFT() throws {
        let base = Fixtures.url("merge/base"), ftB = Fixtures.url("merge/ft_b")
        let dir = try scratch("rv-sparse")
        let grpo = try mixFolders(base, Fixtures.url("merge/ft_a"), into: dir.appendingPathComponent("grpo")) { $0.contains(".mlp.") }
        let out = dir.appendingPathComponent("out")
        let (report, written) = try ReasoningVector.run(grpo: ModelInput(url: grpo), sft: ModelInput(url: base),
                                                        target: ModelInput(url: ftB), scale: 1, to: OutputOptions(url: out))
        #expect(written.computed == [.f32: 9] && written.copied == [.f32: 21], "\(written)")
        #expect(report.changed.count == 9 && report.tensors.count == 30)
        let g = try folderTensors(grpo), s = try folderTensors(base), t = try folderTensors(ftB), r = try folderTensors(out)
        let target = try storedBytes(ftB), result = try storedBytes(out)
        for (name, x) in t {
            if name.contains(".mlp.") {
                let expected = (0..<x.count).map { x.data[$0] + (g[name]!.data[$0] - s[name]!.data[$0]) }
                #expect(compare(r[name]!.data, expected, atol: 0, label: name) == nil)
            } else {
                #expect(result[name]?.bytes == target[name]?.bytes, "\(name) not copied byte for byte")
            }
        }
    }
}

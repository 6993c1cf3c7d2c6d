import Foundation
import VaneEdit
import VaneModelIO
import VaneTensor

/// Reasoning Vectors (task arithmetic): a GRPO-trained model minus its SFT twin, added to a target model.
public enum ReasoningVector {
    /// The reasoning-vector recipe in one pass: OUT = TARGET + α·(GRPO − SFT) for the tensors `filter` accepts
    /// (others copied from TARGET), returning the per-tensor report of GRPO − SFT.
    public static func run(grpo: ModelInput, sft: ModelInput, target: ModelInput, scale: Float,
                           filter: TensorFilter = .all, to options: OutputOptions,
                           progress: (ProgressEvent) -> Void = { _ in }) throws -> DiffReport {
        let (common, _) = try TaskVector.matchTensors(grpo, sft)
        _ = try TaskVector.matchTensors(target, grpo)
        var report = DiffReport(a: grpo.url.path, b: sft.url.path, aSHA256: try ModelIdentity(files: grpo.files).sha256(),
                                bSHA256: try ModelIdentity(files: sft.files).sha256(),
                                tensors: [], excluded: common.filter { !filter.accepts($0, in: target.files.spec) }, missing: [])
        var stats: [TensorDiffStats] = []
        var out: [OutputTensor] = []
        for name in target.names {
            let shape = target.stored(name)!.shape
            guard filter.accepts(name, in: target.files.spec), scale != 0 else {
                out.append(OutputTensor(name: name, shape: shape, source: .copy(target)))
                continue
            }
            out.append(OutputTensor(name: name, shape: shape, source: .computed {
                let g = try grpo.values(name), s = try sft.values(name)
                let d = TaskVector.delta(g, s)
                stats.append(TensorDiffStats(name: name, shape: shape, a: g.data, b: s.data, delta: d))
                var t = try target.values(name)
                for i in 0..<t.count { t.data[i] += scale * d[i] }
                return t
            }))
        }
        let provenance = ["command": "recipe reasoning-vector", "grpo": grpo.url.path, "grpo_sha256": report.aSHA256,
                          "sft": sft.url.path, "sft_sha256": report.bSHA256, "target": target.url.path, "scale": "\(scale)"]
        try ModelWriter.write(out, template: target, to: options, provenance: provenance,
                              inputs: [grpo.url, sft.url, target.url], task: "reasoning-vector",
                              progress: progress) { name in
            for m in [grpo, sft, target] { m.release(name) }
        }
        report.tensors = stats
        return report
    }
}

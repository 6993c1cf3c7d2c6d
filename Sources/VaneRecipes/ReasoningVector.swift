import Foundation
import VaneEdit
import VaneModelIO
import VaneTensor

/// Reasoning Vectors (task arithmetic): a GRPO-trained model minus its SFT twin, added to a target model.
public enum ReasoningVector {
    /// The reasoning-vector recipe in one pass: OUT = TARGET + α·(GRPO − SFT) for the tensors `filter` accepts,
    /// returning the per-tensor report of GRPO − SFT and what was written. Tensors left out, and those where GRPO
    /// and SFT hold the same values, are copied from TARGET byte for byte; changed ones keep the type the three
    /// models agree on (F32 where they differ or one is quantized) unless `options.dtype` says otherwise.
    public static func run(grpo: ModelInput, sft: ModelInput, target: ModelInput, scale: Float,
                           filter: TensorFilter = .all, to options: OutputOptions,
                           progress: (ProgressEvent) -> Void = { _ in }) throws -> (report: DiffReport, written: WriteSummary) {
        let match = try TaskVector.matchTensors(grpo, sft)
        try match.requireSameNames(grpo, sft)
        try TaskVector.matchTensors(target, grpo).requireSameNames(target, grpo)
        var report = DiffReport(a: grpo.url.path, b: sft.url.path, aSHA256: try ModelIdentity(files: grpo.files).sha256(),
                                bSHA256: try ModelIdentity(files: sft.files).sha256(),
                                tensors: [], excluded: match.common.filter { !filter.accepts($0, in: target.files.spec) }, missing: [])
        var stats: [String: TensorDiffStats] = [:]
        var out: [OutputTensor] = []
        for name in target.names {
            let shape = target.stored(name)!.shape
            guard filter.accepts(name, in: target.files.spec) else {
                out.append(OutputTensor(name: name, shape: shape, source: .copy(target)))
                continue
            }
            if try grpo.sameValues(name, as: sft) {
                stats[name] = .unchanged(name: name, shape: shape)
                out.append(OutputTensor(name: name, shape: shape, source: .copy(target)))
                continue
            }
            guard scale != 0 else {
                out.append(OutputTensor(name: name, shape: shape, source: .copy(target)))
                let g = try grpo.values(name), s = try sft.values(name)
                stats[name] = TensorDiffStats(name: name, shape: shape, a: g.data, b: s.data, delta: TaskVector.delta(g, s))
                continue
            }
            out.append(OutputTensor(name: name, shape: shape, source: .computed(from: [target, grpo, sft]) {
                let g = try grpo.values(name), s = try sft.values(name)
                let d = TaskVector.delta(g, s)
                stats[name] = TensorDiffStats(name: name, shape: shape, a: g.data, b: s.data, delta: d)
                var t = try target.values(name)
                for i in 0..<t.count { t.data[i] += scale * d[i] }
                return t
            }))
        }
        let provenance = ["command": "recipe reasoning-vector", "grpo": grpo.url.path, "grpo_sha256": report.aSHA256,
                          "sft": sft.url.path, "sft_sha256": report.bSHA256, "target": target.url.path, "scale": "\(scale)"]
        let written = try ModelWriter.write(out, template: target, to: options, provenance: provenance,
                                            inputs: [grpo.url, sft.url, target.url], task: "reasoning-vector",
                                            progress: progress) { name in
            for m in [grpo, sft, target] { m.release(name) }
        }
        report.tensors = target.names.compactMap { stats[$0] }
        return (report, written)
    }
}

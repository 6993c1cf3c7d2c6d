import Foundation
import VaneEdit
import VaneModelIO
import VaneTensor

extension Bake {
    /// Expert ablation baked into the weights: expert e of block L gets a zero down projection
    /// (`blk.L.ffn_down_exps.weight[e]`, HF `…experts.{e}.down_proj`), so its output is 0 wherever it is routed
    /// while the router, the top-k choice and the other experts' weights stay as they were. Equals the hook
    /// `mlp.hook_expert_weights[:, e] = 0` (ExpertSteering, stage `weights`, factor 0). A routing boost has no
    /// such exact weight form (the softmax couples the experts), so it is only offered as a hook.
    public static func ablateExperts(_ input: ModelInput, experts: [Int: [Int]], to options: OutputOptions,
                                     provenance: [String: String], progress: (ProgressEvent) -> Void = { _ in }) throws {
        let c = input.config
        guard let moe = c.moe else {
            throw VaneError("\(input.url.path) is a \(c.architecture) model, which has no experts to ablate")
        }
        var changes: [String: (Tensor) -> Tensor] = [:]
        for (layer, chosen) in experts {
            try checkLayer(layer, c)
            guard c.routes(layer) else { throw VaneError("block \(layer) of \(input.url.lastPathComponent) has a dense MLP, no experts") }
            if let bad = chosen.first(where: { !(0..<moe.experts).contains($0) }) {
                throw VaneError("expert \(bad) of block \(layer) is out of range: the model has experts 0…\(moe.experts - 1)")
            }
            changes["blk.\(layer).ffn_down_exps.weight"] = { w in
                var w = w
                let slice = w.count / moe.experts
                for e in chosen { for i in (e * slice)..<((e + 1) * slice) { w.data[i] = 0 } }
                return w
            }
        }
        guard !changes.isEmpty else { throw VaneError("no experts to ablate") }
        try write(input, changes: changes, added: [:], to: options, provenance: provenance, progress: progress)
    }
}

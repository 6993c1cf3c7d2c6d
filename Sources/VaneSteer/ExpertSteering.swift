import Foundation
import VaneEngine
import VaneModelIO

/// Steering a mixture-of-experts model's routing: chosen experts' routing weights multiplied by a factor, in one
/// of two named places (layers are block indices from 0, as in `blocks.L.mlp.*`):
///
///     weights   after top-k and renormalisation: mlp.hook_expert_weights[t, e] ×= factor. Which experts run and
///               the other experts' weights are unchanged; factor 0 removes the expert's output (ablation), and
///               is exactly the baked edit `vane edit ablate-experts` (its down projection zeroed).
///     router    before top-k and renormalisation: mlp.hook_router_logits[t, e] += ln(factor), which multiplies
///               the expert's softmax probability by the factor before the top k are chosen (RICE's
///               reinforcement): a boosted expert may enter the top k, the others' renormalised weights shrink,
///               and factor 0 means the expert is never chosen (its tokens go to the next-best expert). No
///               weight edit equals this in general (the softmax couples the experts), so it stays a hook.
public struct ExpertSteering: Sendable, Equatable {
    public enum Stage: String, Sendable, CaseIterable {
        case weights
        case router
    }

    public struct Term: Sendable, Equatable {
        public var layer: Int
        public var experts: [Int]
        public var factor: Float

        public init(layer: Int, experts: [Int], factor: Float) {
            self.layer = layer
            self.experts = experts
            self.factor = factor
        }
    }

    public var terms: [Term]
    public var stage: Stage

    public init(terms: [Term], stage: Stage) {
        self.terms = terms
        self.stage = stage
    }

    /// Parses `L:E,E:FACTOR`, several separated by `;` (`1:2,3:4.0;2:0:0` boosts experts 2 and 3 of block 1
    /// fourfold and ablates expert 0 of block 2).
    public init(parsing text: String, stage: Stage) throws {
        var terms: [Term] = []
        for part in text.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let fields = part.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let form = "expected LAYER:EXPERT[,EXPERT…]:FACTOR, e.g. 1:2,3:4.0"
            guard fields.count == 3, let layer = Int(fields[0]), layer >= 0 else {
                throw VaneError("--steer-experts \"\(part)\": \(form)")
            }
            let experts = try fields[1].split(separator: ",").map { e -> Int in
                guard let v = Int(e.trimmingCharacters(in: .whitespaces)), v >= 0 else {
                    throw VaneError("--steer-experts \"\(part)\": expert \"\(e)\" is not a number; \(form)")
                }
                return v
            }
            guard !experts.isEmpty else { throw VaneError("--steer-experts \"\(part)\": no experts; \(form)") }
            guard let factor = Float(fields[2]), factor.isFinite, factor >= 0 else {
                throw VaneError("--steer-experts \"\(part)\": factor \"\(fields[2])\" must be a number ≥ 0; \(form)")
            }
            terms.append(Term(layer: layer, experts: experts, factor: factor))
        }
        guard !terms.isEmpty else { throw VaneError("--steer-experts \"\(text)\" names no experts", hint: "e.g. 1:2,3:4.0") }
        self.init(terms: terms, stage: stage)
    }

    /// Checks each term against the model and registers the hooks.
    public func install(on hooks: Hooks, config c: ModelConfig) throws {
        guard let moe = c.moe else {
            throw VaneError("expert steering needs a mixture-of-experts model; this one is \(c.architecture), which has no experts")
        }
        for term in terms {
            guard c.routes(term.layer) else {
                throw VaneError("block \(term.layer) has no experts (the model's routed blocks are "
                                + (0..<c.numHiddenLayers).filter(c.routes).map(String.init).joined(separator: ", ") + ")")
            }
            if let bad = term.experts.first(where: { $0 >= moe.experts }) {
                throw VaneError("expert \(bad) of block \(term.layer) is out of range: the model has experts 0…\(moe.experts - 1)")
            }
            let (experts, factor) = (term.experts, term.factor)
            switch stage {
            case .weights:
                hooks.add(.expertWeights(term.layer)) { a in
                    for t in 0..<a.shape[0] {
                        let row = a.row(t)
                        for e in experts { row[e] *= factor }
                    }
                }
            case .router:
                let shift = factor == 0 ? -Float.infinity : Foundation.log(factor)
                hooks.add(.routerLogits(term.layer)) { a in
                    for t in 0..<a.shape[0] {
                        let row = a.row(t)
                        for e in experts { row[e] += shift }
                    }
                }
            }
        }
    }
}

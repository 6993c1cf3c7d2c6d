import Foundation
import VaneEngine

/// How large a steering intervention is next to the activations it changes, measured on the unsteered forward
/// pass of a prompt (exact f32). At each steered hook point and layer, over the prompt's positions (position 0,
/// the attention sink, whose norm dwarfs the others', left out when there are others):
///
///     residual_norm     median ‖h‖
///     direction_share   mean |h·v̂| / ‖h‖, the share of the activation's norm along the direction: what `ablate`
///                       removes (the norm after ablation is ‖h‖·√(1 − share²) for one position)
///     added_share(f)    |f·s|·‖v‖ / residual_norm, the size of what `add` adds at sweep factor f, relative to h
///
/// `warnings` turns these into the risks worth a line on the terminal (README, "Steering").
public struct SteerMeasurement: Sendable {
    public struct Site: Sendable {
        public var step: Steering.Step
        public var residualNorm: Double
        public var directionShare: Double

        public func addedShare(at factor: Double = 1) -> Double {
            let norm = step.direction.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return abs(factor * Double(step.scale)) * norm / max(residualNorm, 1e-30)
        }
    }

    public var sites: [Site]

    /// `add` warns when the added vector reaches this share of the activation's norm (the shipped vectors'
    /// text degrades from ~0.12: efficiency-smollm2 at scale 1, concise-smollm2 at 0.6).
    public static let addedShareLimit = 0.1
    /// `ablate` / `clamp` warn when the direction carries this share of the activation's norm somewhere…
    public static let directionShareLimit = 0.3
    /// …or when they act at every position over more than this fraction of the model's layers.
    public static let layerFractionLimit = 0.25

    /// Measures `steering`'s sites (zero scales have none) on `tokens` run unsteered.
    public init(_ steering: Steering, model: LanguageModel, tokens: [Int]) throws {
        let plan = try steering.plan(modelLayers: model.config.numHiddenLayers)
        guard !plan.isEmpty else {
            sites = []
            return
        }
        let hooks = Hooks()
        var norms: [[[Double]]] = plan.map { $0.steps.map { _ in [] } }
        var shares = norms
        for (p, (point, steps)) in plan.enumerated() {
            hooks.add(point) { a in
                for (t, position) in a.positions.enumerated() where position > 0 || a.positions.count == 1 {
                    let h = a.row(t)
                    var squared = 0.0
                    for x in h { squared += Double(x) * Double(x) }
                    let norm = squared.squareRoot()
                    for (k, step) in steps.enumerated() {
                        var dot = 0.0
                        for (x, u) in zip(h, step.unit) { dot += Double(x) * Double(u) }
                        norms[p][k].append(norm)
                        shares[p][k].append(norm > 0 ? abs(dot) / norm : 0)
                    }
                }
            }
        }
        _ = try model.transformer.forward(tokens, cache: model.transformer.makeCache(capacity: tokens.count),
                                          hooks: hooks, logits: .none, precision: .exact)
        sites = plan.enumerated().flatMap { p, entry in
            entry.steps.enumerated().map { k, step in
                Site(step: step, residualNorm: Stats.median(norms[p][k]),
                     directionShare: shares[p][k].reduce(0, +) / Double(max(shares[p][k].count, 1)))
            }
        }
    }

    /// The largest `added_share` over the `add` sites at sweep factor `factor`, with its site; nil without any.
    public func largestAdded(at factor: Double = 1) -> (share: Double, site: Site)? {
        sites.filter { $0.step.op == .add }.map { ($0.addedShare(at: factor), $0) }.max { $0.0 < $1.0 }
    }

    /// One line per risk: `add` at `factor` reaching `addedShareLimit` of the activation's norm; an ablated or
    /// clamped direction carrying `directionShareLimit` of it; ablation or clamping at every position over more
    /// than `layerFractionLimit` of the model's layers. `factor` names the sweep scale in the message when not 1.
    public func warnings(at factor: Double = 1, modelLayers: Int) -> [String] {
        var out: [String] = []
        func pct(_ x: Double) -> String { "\(Int((x * 100).rounded()))%" }
        let scaleNote = factor == 1 ? "" : " at sweep scale " + String(format: "%g", factor)
        if let top = largestAdded(at: factor), top.share >= Self.addedShareLimit {
            out.append("steering\(scaleNote) adds a vector \(String(format: "%.2f", top.share))× the activation's norm "
                + "at \(top.site.step.point) (median ‖h‖ \(String(format: "%.1f", top.site.residualNorm)) over the prompt); "
                + "text often breaks from 0.1×: lower the scale")
        }
        let removing = sites.filter { $0.step.op != .add }
        // A rotation moves h by the angle it turns, whatever share the direction carries.
        let projecting = removing.filter { if case .rotate = $0.step.op { false } else { true } }
        if let top = projecting.max(by: { $0.directionShare < $1.directionShare }), top.directionShare >= Self.directionShareLimit {
            out.append("the \(top.step.op) direction carries \(pct(top.directionShare)) of the activation's norm at "
                + "\(top.step.point) (mean |h·v̂|/‖h‖ over the prompt): \(top.step.op) moves every steered activation by "
                + "that much")
        }
        let everywhere = removing.filter { $0.step.positions == .all }
        let layers = Set(everywhere.map(\.step.layer))
        if Double(layers.count) > Self.layerFractionLimit * Double(modelLayers),
           let top = everywhere.max(by: { $0.directionShare < $1.directionShare }) {
            let mean = everywhere.map(\.directionShare).reduce(0, +) / Double(everywhere.count)
            out.append("\(top.step.op) at every position over \(layers.count) of \(modelLayers) layers: the direction "
                + "carries \(pct(mean)) of the activation's norm on average there, \(pct(top.directionShare)) at "
                + "\(top.step.point) (over the prompt); errors compound across layers — consider fewer layers or "
                + "positions=generated")
        }
        return out
    }
}

import Foundation
import VanePlot
import VaneActivations
import VaneEngine
import VaneModelIO

/// Control vectors from an activation store's labelled (or paired) examples, and their scores on a store.
///
/// Each example contributes one row per layer: the stored row when the store is pooled (last, mean, index:K),
/// the mean of its span's rows when it holds all positions. Labels come from /examples/label (1 positive,
/// 0 negative, −1 left out), pairs from /examples/pair. Layer 0 is never used (`ControlVector.noLayerZero`).
public struct VectorBuilder {
    public let store: ActivationStore

    public init(store: ActivationStore) { self.store = store }

    /// The steering hooks the store holds, with their layers.
    public var available: [SteerHook: [Int]] {
        var out: [SteerHook: [Int]] = [:]
        for name in store.hooks { if let (h, l) = SteerHook.parse(point: name) { out[h, default: []].append(l) } }
        return out.mapValues { $0.sorted() }
    }

    /// The hook to use: the one asked for, else resid_post when stored, else the only steering hook stored.
    public func resolveHook(_ hook: SteerHook?) throws -> SteerHook {
        let have = available
        if let hook {
            guard have[hook] != nil else {
                throw VaneError("\(store.url.path) holds no blocks.*.hook_\(hook) activations; it holds \(store.hooks.prefix(4).joined(separator: ", "))\(store.hooks.count > 4 ? ", …" : "")")
            }
            return hook
        }
        if have[.residPost] != nil { return .residPost }
        guard have.count == 1, let only = have.keys.first else {
            throw VaneError("\(store.url.path) holds " + (have.isEmpty ? "no [T, d] block hooks (resid_post, resid_mid, attn_out, mlp_out)" : "several hooks (\(have.keys.map(\.rawValue).sorted().joined(separator: ", ")))"),
                             hint: have.isEmpty ? "extract with --hooks 'blocks.*.hook_resid_post'" : "choose one with --hook")
        }
        return only
    }

    /// The layers to use: those asked for (each must be stored), else every stored layer but 0.
    public func resolveLayers(_ layers: [Int]?, hook: SteerHook) throws -> [Int] {
        let stored = available[hook] ?? []
        guard let layers else {
            let out = stored.filter { $0 > 0 }
            guard !out.isEmpty else {
                throw VaneError("\(store.url.path) holds \(hook) only at layer 0: \(ControlVector.noLayerZero)",
                                hint: "extract more layers, e.g. --hooks 'blocks.*.hook_\(hook)'")
            }
            return out
        }
        try ControlVector.refuseLayerZero(layers)
        let modelLayers = store.provenance.dims[1]
        if let bad = layers.first(where: { $0 >= modelLayers }) {
            throw VaneError("layer \(bad) is out of range: the store's model has layers 0…\(modelLayers - 1)")
        }
        if let missing = layers.first(where: { !stored.contains($0) }) {
            throw VaneError("\(store.url.path) holds no blocks.\(missing).hook_\(hook); it holds layers \(stored.map(String.init).joined(separator: ","))")
        }
        return layers
    }

    public var examples: ContrastiveExamples {
        let pairs = store.examples.pairs
        return ContrastiveExamples(labels: store.examples.labels, pairs: pairs.contains { $0 >= 0 } ? pairs : nil)
    }

    /// One row per example [N, d] of a hook point.
    public func rows(_ point: HookPoint) throws -> (rows: [Float], width: Int) {
        let t = try store.read(point)
        let d = t.cols
        guard let offsets = store.tokenOffsets else { return (t.data, d) }
        var out = [Float](repeating: 0, count: store.count * d)
        for i in 0..<store.count {
            let span = offsets[i]..<offsets[i + 1]
            guard !span.isEmpty else { continue }
            for r in span { for c in 0..<d { out[i * d + c] += t.data[r * d + c] } }
            for c in 0..<d { out[i * d + c] /= Float(span.count) }
        }
        return (out, d)
    }

    public func compute(_ method: DirectionMethod, hook: SteerHook? = nil, layers: [Int]? = nil, normalize: Bool = false,
                        commandLine: String? = nil, modelName: String? = nil, modelHint: String? = nil,
                        progress: (ProgressEvent) -> Void = { _ in }) throws -> ControlVector {
        let examples = self.examples
        guard examples.labels.contains(1), examples.labels.contains(0) else {
            throw VaneError("\(store.url.path) has no labelled examples (/examples/label is −1 throughout), and \(method) needs positives (1) and negatives (0)",
                             hint: "extract from a JSONL whose examples carry \"label\" (or contrastive pairs)")
        }
        let hook = try resolveHook(hook)
        let layers = try resolveLayers(layers, hook: hook)
        let task = "vector \(method.rawValue)"
        progress(ProgressEvent(task: task, done: 0, total: layers.count))
        var directions: [Int: [Float]] = [:], scores: [LayerScore] = []
        var width = 0
        for (i, l) in layers.enumerated() {
            let (rows, d) = try rows(hook.point(l))
            width = d
            let (v, s) = try Directions.compute(method, rows: rows, width: d, examples: examples, normalize: normalize, layer: l)
            directions[l] = v
            scores.append(s)
            progress(ProgressEvent(task: task, done: i + 1, total: layers.count, note: "layer \(l)"))
        }
        let p = store.provenance
        return ControlVector(directions: directions, width: width, hook: hook, modelHint: modelHint ?? p.architecture,
                             method: method.rawValue + (normalize ? " (normalized)" : ""),
                             modelName: modelName ?? URL(fileURLWithPath: p.modelPath).lastPathComponent,
                             modelSHA256: p.modelSHA256.isEmpty ? nil : p.modelSHA256, modelLayers: p.dims[1],
                             command: commandLine, scores: scores)
    }

    /// The vector's separation of this store's labelled examples, layer by layer, at the vector's hook: at
    /// `layers`, else at every layer both the vector and the store have.
    public func score(_ vector: ControlVector, layers: [Int]? = nil) throws -> [LayerScore] {
        let examples = self.examples
        let pos = examples.positives, neg = examples.negatives
        guard !pos.isEmpty, !neg.isEmpty else {
            throw VaneError("\(store.url.path) needs positive (label 1) and negative (label 0) examples to score a vector; it has \(pos.count) and \(neg.count)")
        }
        let stored = available[vector.hook] ?? []
        let chosen: [Int]
        if let layers {
            try ControlVector.refuseLayerZero(layers)
            if let l = layers.first(where: { vector.directions[$0] == nil }) {
                throw VaneError("the vector has no direction at layer \(l); it has layers \(LayerList.describe(vector.layers))")
            }
            if let l = layers.first(where: { !stored.contains($0) }) {
                throw VaneError("\(store.url.path) holds no blocks.\(l).hook_\(vector.hook); it holds layers \(LayerList.describe(stored))")
            }
            chosen = layers
        } else {
            chosen = vector.layers.filter(stored.contains)
            guard !chosen.isEmpty else {
                throw VaneError("the vector (\(vector.hook) at layers \(LayerList.describe(vector.layers))) and \(store.url.path) "
                    + "(\(stored.isEmpty ? "no \(vector.hook) activations" : "\(vector.hook) at layers \(LayerList.describe(stored))")) share no layer",
                                hint: "extract the vector's hook at its layers, e.g. --hooks 'blocks.*.hook_\(vector.hook)'")
            }
        }
        return try chosen.map { l in
            let (rows, d) = try rows(vector.hook.point(l))
            guard d == vector.width else {
                throw VaneError("vector width \(vector.width) does not match the store's width \(d) at layer \(l)")
            }
            return Directions.score(vector.directions[l]!, rows: rows, width: d, positives: pos, negatives: neg, layer: l)
        }
    }

    public static func table(_ scores: [LayerScore]) -> String {
        var s = "layer      norm   auroc  cohens_d\n"
        for x in scores { s += String(format: "%5d  %8.3f  %6.3f  %8.3f\n", x.layer, x.norm, x.auroc, x.cohensD) }
        return s
    }

    public static func plot(_ scores: [LayerScore], title: String) -> SVGPlot {
        let x = scores.map { Double($0.layer) }
        return SVGPlot([
            SVGPlot.Panel(title: "\(title): AUROC by layer", xLabel: "layer", yLabel: "AUROC", x: x,
                          series: [.init("AUROC", scores.map { Double($0.auroc) })]),
            SVGPlot.Panel(title: "\(title): Cohen's d by layer", xLabel: "layer", yLabel: "Cohen's d", x: x,
                          series: [.init("Cohen's d", scores.map { Double($0.cohensD) })]),
        ])
    }
}

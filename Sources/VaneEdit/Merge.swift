import Foundation
import VaneModelIO
import VaneTensor

/// Runs a merge: opens every model once (mmap), checks they share architecture, tensor names and shapes, then
/// merges and writes one tensor at a time, so memory peaks near the largest tensor times the number of inputs.
public enum Merge {
    struct Plan {
        var sparsification: MergeMath.Sparsification?
        var consensus: Bool
        var normalize: Bool
        var rescale: Bool
    }

    /// mergekit's settings for each generalized-task-arithmetic method (sparsification, sign consensus, and the
    /// defaults of `normalize` and `rescale`).
    static func plan(_ method: MergeConfig.Method) -> Plan? {
        switch method {
        case .task_arithmetic: Plan(sparsification: nil, consensus: false, normalize: false, rescale: false)
        case .ties: Plan(sparsification: .magnitude, consensus: true, normalize: true, rescale: false)
        case .dare_linear: Plan(sparsification: .random, consensus: false, normalize: false, rescale: true)
        case .dare_ties: Plan(sparsification: .random, consensus: true, normalize: false, rescale: true)
        case .breadcrumbs: Plan(sparsification: .outliers(gamma: 0.01), consensus: false, normalize: false, rescale: false)
        case .breadcrumbs_ties: Plan(sparsification: .outliers(gamma: 0.01), consensus: true, normalize: false, rescale: false)
        case .linear, .slerp: nil
        }
    }

    /// Position of a tensor through the model for gradient parameters: layer L of N at L / (N − 1), the embedding
    /// at 0, the final norm and output head at 1.
    static func position(_ name: String, layers: Int) -> Double {
        if name.hasPrefix("blk.") {
            let layer = Int(name.dropFirst(4).prefix { $0 != "." }) ?? 0
            return layers > 1 ? Double(layer) / Double(layers - 1) : 0
        }
        return name.hasPrefix("token_embd") ? 0 : 1
    }

    /// Merges as `config` says and writes the result. `seed` makes DARE's random drops reproducible.
    public static func run(_ config: MergeConfig, to options: OutputOptions, seed: UInt64 = 0) throws {
        var opened: [URL: ModelInput] = [:]
        for url in config.inputs { opened[url] = try ModelInput(url: url) }
        let template = opened[config.baseModel ?? config.models[0].url]!
        for url in config.inputs where url != template.url {
            let other = opened[url]!
            _ = try TaskVector.matchTensors(template, other)
            if other.config.architecture != template.config.architecture {
                throw VaneError("\(url.path) is \(other.config.architecture), the base is \(template.config.architecture)")
            }
        }
        var out = options
        if out.dtype == nil { out.dtype = config.dtype }

        let layers = template.config.numHiddenLayers
        let tensors = template.names.map { name in
            OutputTensor(name: name, shape: template.stored(name)!.shape, source: .computed {
                try mergeTensor(name, config: config, inputs: opened, position: position(name, layers: layers), seed: seed)
            })
        }
        var provenance = ["command": "merge", "merge_method": config.method.rawValue]
        for (i, m) in config.models.enumerated() { provenance["model.\(i)"] = m.url.path }
        if let base = config.baseModel { provenance["base_model"] = base.path }
        try ModelWriter.write(tensors, template: template, tokenizer: config.tokenizerSource.flatMap { opened[$0] },
                              to: out, provenance: provenance, inputs: config.inputs, progressLabel: "merge") { name in
            for input in opened.values { input.release(name) }
        }
    }

    static func mergeTensor(_ name: String, config: MergeConfig, inputs: [URL: ModelInput], position: Double,
                            seed: UInt64) throws -> Tensor {
        let hf = inputs.values.first?.files.spec.hf(fromGGUF: name) ?? name
        func number(_ key: String, _ model: MergeConfig.Model?) -> Double? {
            (model?.parameters[key] ?? config.parameters[key])?.number(tensor: hf, position: position)
        }
        func flag(_ key: String, _ fallback: Bool) -> Bool { number(key, nil).map { $0 != 0 } ?? fallback }
        func need(_ key: String, _ model: MergeConfig.Model?) throws -> Double {
            guard let v = number(key, model) else {
                throw VaneError("no \(key) applies to tensor \(hf)\(model.map { " of \($0.url.path)" } ?? "") (a filter list without a default entry?)")
            }
            return v
        }

        switch config.method {
        case .linear:
            let xs = try config.models.map { try inputs[$0.url]!.values(name) }
            let weights = try config.models.map { Float(try need("weight", $0)) }
            return Tensor(shape: xs[0].shape, data: MergeMath.linear(xs.map(\.data), weights: weights, normalize: flag("normalize", true)))
        case .slerp:
            let base = config.baseModel!
            let other = config.models.first { $0.url != base }!
            let a = try inputs[base]!.values(name), b = try inputs[other.url]!.values(name)
            return Tensor(shape: a.shape, data: MergeMath.slerp(t: try need("t", nil), a.data, b.data))
        default:
            let plan = plan(config.method)!
            let base = try inputs[config.baseModel!]!.values(name)
            var tasks: [MergeMath.TaskVector] = []
            for m in config.models where m.url != config.baseModel {
                let x = try inputs[m.url]!.values(name)
                tasks.append(.init(delta: TaskVector.delta(x, base), weight: Float(try need("weight", m)),
                                   density: number("density", m) ?? 1))
            }
            var sparsification = plan.sparsification
            if case .outliers = sparsification { sparsification = .outliers(gamma: number("gamma", nil) ?? 0.01) }
            let data = try MergeMath.taskArithmetic(
                base: base.data, tasks: &tasks, sparsification: sparsification, consensus: plan.consensus,
                normalize: flag("normalize", plan.normalize), rescale: flag("rescale", plan.rescale),
                lambda: number("lambda", nil) ?? 1, rng: { SplitMix64(seed: seed, name: name, index: $0) }, name: hf)
            return Tensor(shape: base.shape, data: data)
        }
    }
}

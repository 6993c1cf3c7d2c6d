import Foundation
import VaneModelIO
import VaneTensor

/// Runs a merge: opens every model once (mmap), checks they share architecture, tensor names and shapes, then
/// merges and writes one tensor at a time, so memory peaks near the largest tensor times the number of inputs.
public enum Merge {
    struct Plan {
        var sparsification: MergeMath.Sparsification?
        var consensus: Bool
    }

    /// mergekit's settings for each generalized-task-arithmetic method: sparsification and sign consensus (the
    /// defaults of `normalize` and `rescale` are declared with the method's parameters).
    static func plan(_ method: MergeConfig.Method) -> Plan? {
        switch method {
        case .task_arithmetic: Plan(sparsification: nil, consensus: false)
        case .ties: Plan(sparsification: .magnitude, consensus: true)
        case .dare_linear: Plan(sparsification: .random, consensus: false)
        case .dare_ties: Plan(sparsification: .random, consensus: true)
        case .breadcrumbs: Plan(sparsification: .outliers, consensus: false)
        case .breadcrumbs_ties: Plan(sparsification: .outliers, consensus: true)
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
    public static func run(_ config: MergeConfig, to options: OutputOptions, seed: UInt64 = 0,
                           progress: (ProgressEvent) -> Void = { _ in }) throws {
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
                              to: out, provenance: provenance, inputs: config.inputs, task: "merge",
                              progress: progress) { name in
            for input in opened.values { input.release(name) }
        }
    }

    static func mergeTensor(_ name: String, config: MergeConfig, inputs: [URL: ModelInput], position: Double,
                            seed: UInt64) throws -> Tensor {
        let hf = inputs.values.first?.files.spec.hf(fromGGUF: name) ?? name
        // The model's own value (of a per-model parameter), else the top-level one, else the declared default.
        func value(_ key: String, _ model: MergeConfig.Model? = nil) throws -> Double {
            let given = model?.parameters[key] ?? config.parameters[key]
            guard let v = given?.number(tensor: hf, position: position) ?? config.method.parameter(key)?.defaultValue else {
                throw VaneError("no \(key) applies to tensor \(hf)\(model.map { " of \($0.url.path)" } ?? "") (a filter list without a default entry?)")
            }
            return v
        }

        switch config.method {
        case .linear:
            let xs = try config.models.map { try inputs[$0.url]!.values(name) }
            let weights = try config.models.map { Float(try value("weight", $0)) }
            return Tensor(shape: xs[0].shape, data: MergeMath.linear(xs.map(\.data), weights: weights, normalize: try value("normalize") != 0))
        case .slerp:
            // MergeConfig.validate guarantees a base and one other model.
            guard let base = config.baseModel, let other = config.models.first(where: { $0.url != base }) else {
                throw VaneError("slerp needs a base_model and one other model")
            }
            let a = try inputs[base]!.values(name), b = try inputs[other.url]!.values(name)
            return Tensor(shape: a.shape, data: MergeMath.slerp(t: try value("t"), a.data, b.data))
        default:
            let plan = plan(config.method)!
            let base = try inputs[config.baseModel!]!.values(name)
            var tasks: [MergeMath.TaskVector] = []
            for m in config.models where m.url != config.baseModel {
                let x = try inputs[m.url]!.values(name)
                let gamma = try plan.sparsification == .outliers ? value("gamma", m) : 0
                tasks.append(.init(delta: TaskVector.delta(x, base), weight: Float(try value("weight", m)),
                                   density: try value("density", m), gamma: gamma))
            }
            let data = try MergeMath.taskArithmetic(
                base: base.data, tasks: &tasks, sparsification: plan.sparsification, consensus: plan.consensus,
                normalize: try value("normalize") != 0, rescale: try value("rescale") != 0,
                lambda: try value("lambda"), rng: { SplitMix64(seed: seed, name: name, index: $0) }, name: hf)
            return Tensor(shape: base.shape, data: data)
        }
    }
}

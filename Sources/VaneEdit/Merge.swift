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

    /// Merges as `config` says and writes the result. `seed` makes DARE's random drops reproducible. A tensor
    /// the merge leaves as it was — every model holds the base's values (methods with a base), or every model the
    /// same values and the weights sum to one or are normalized (linear) — is copied from the base byte for byte.
    /// The task-arithmetic methods (those with a `plan`) read a tensor a model lacks as that model's zero delta.
    @discardableResult
    public static func run(_ config: MergeConfig, to options: OutputOptions, seed: UInt64 = 0,
                           progress: (ProgressEvent) -> Void = { _ in }) throws -> WriteSummary {
        var opened: [URL: ModelInput] = [:]
        for url in config.inputs { opened[url] = try ModelInput(url: url) }
        let template = opened[config.baseModel ?? config.models[0].url]!
        // Task-arithmetic methods read a tensor a model lacks as its zero delta; every other method, and the
        // tokenizer source, need the template's tensors in every input.
        let zeroDeltaAllowed = plan(config.method) != nil
        for url in config.inputs where url != template.url {
            let other = opened[url]!
            let match = try TaskVector.matchTensors(template, other)
            if let name = match.bOnly.first {
                throw VaneError("tensor \(name) is in \(url.path) but not in \(template.url.path), whose tensors the output follows")
            }
            if zeroDeltaAllowed && config.models.contains(where: { $0.url == url }) { continue }
            try match.requireSameNames(template, other, hint: zeroDeltaAllowed ? nil
                                       : "\(config.method.rawValue) needs every tensor in every model; task_arithmetic, ties, dare and breadcrumbs read a missing tensor as zero delta")
        }
        var out = options
        if out.dtype == nil { out.dtype = config.dtype }

        let layers = template.config.numHiddenLayers
        let models = config.models.map { opened[$0.url]! }
        var tensors: [OutputTensor] = []
        for name in template.names {
            let shape = template.stored(name)!.shape
            if try unchanged(name, config: config, template: template, inputs: opened) {
                tensors.append(OutputTensor(name: name, shape: shape, source: .copy(template)))
                continue
            }
            tensors.append(OutputTensor(name: name, shape: shape, source: .computed(from: models.filter { $0.stored(name) != nil }) {
                try mergeTensor(name, config: config, inputs: opened, position: position(name, layers: layers), seed: seed)
            }))
        }
        var provenance = ["command": "merge", "merge_method": config.method.rawValue]
        for (i, m) in config.models.enumerated() { provenance["model.\(i)"] = m.url.path }
        if let base = config.baseModel { provenance["base_model"] = base.path }
        return try ModelWriter.write(tensors, template: template, tokenizer: config.tokenizerSource.flatMap { opened[$0] },
                                     to: out, provenance: provenance, inputs: config.inputs, task: "merge",
                                     progress: progress) { name in
            for input in opened.values { input.release(name) }
        }
    }

    /// Whether merging `name` gives the template's (base's) values exactly, so that it is copied: every model
    /// that has it holds the template's values, and for linear (which has no base) the weights do not scale them.
    static func unchanged(_ name: String, config: MergeConfig, template: ModelInput, inputs: [URL: ModelInput]) throws -> Bool {
        if config.method == .linear {
            guard config.models.allSatisfy({ inputs[$0.url]!.stored(name) != nil }) else { return false }
            let hf = template.files.spec.hf(fromGGUF: name) ?? name
            let position = position(name, layers: template.config.numHiddenLayers)
            func number(_ p: MergeConfig.Parameter?) -> Double? { p?.number(tensor: hf, position: position) }
            let normalize = (number(config.parameters["normalize"]) ?? config.method.parameter("normalize")?.defaultValue ?? 0) != 0
            if !normalize {
                let weights = config.models.map { number($0.parameters["weight"] ?? config.parameters["weight"]) }
                guard weights.allSatisfy({ $0 != nil }), weights.reduce(0.0, { $0 + $1! }) == 1 else { return false }
            }
        }
        for m in config.models where m.url != template.url {
            let model = inputs[m.url]!
            if model.stored(name) == nil { continue }
            guard try template.sameValues(name, as: model) else { return false }
        }
        return true
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
                let model = inputs[m.url]!
                let x = model.stored(name) == nil ? base : try model.values(name)
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

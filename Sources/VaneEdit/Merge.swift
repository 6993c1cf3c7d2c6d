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
        case .della: Plan(sparsification: .rankedRandom, consensus: true)
        case .della_linear: Plan(sparsification: .rankedRandom, consensus: false)
        case .linear, .slerp, .model_stock, .nuslerp, .multislerp, .sce, .karcher: nil
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
                                       : "\(config.method.rawValue) needs every tensor in every model; the task-arithmetic methods (task_arithmetic, ties, dare, breadcrumbs, della) read a missing tensor as zero delta")
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
        // The model's own value (of a per-model parameter), else the top-level one, else the declared default; a
        // filter list with no entry for this tensor passes on to the next, as in mergekit.
        func value(_ key: String, _ index: Int?) throws -> Double {
            let model = index.map { config.models[$0] }
            let given = model?.parameters[key]?.number(tensor: hf, position: position)
                ?? config.parameters[key]?.number(tensor: hf, position: position)
            guard let v = given ?? config.method.parameter(key)?.defaultValue else {
                throw VaneError("no \(key) applies to tensor \(hf)\(model.map { " of \($0.url.path)" } ?? "") (a filter list without a default entry?)")
            }
            return v
        }
        // Handed over as a temporary, so that combine owns the only copy and can free each model once used.
        return try combine(config.method, try TensorInputs(name, config: config, inputs: inputs), value: value, name: hf) {
            SplitMix64(seed: seed, name: name, index: $0)
        }
    }

    /// One tensor of every input: the models in the config's order (which of them is the base) and the base's
    /// values (nil when the method has none).
    struct TensorInputs {
        var models: [Tensor]
        var isBase: [Bool]
        var base: Tensor? = nil

        init(models: [Tensor], isBase: [Bool], base: Tensor? = nil) {
            self.models = models
            self.isBase = isBase
            self.base = base
        }

        /// Tensor `name` of every model `config` lists, and of its base (read once when it is also listed). A
        /// model lacking the tensor (Merge.run allows it for the task-arithmetic methods) holds the base's values:
        /// its zero delta.
        init(_ name: String, config: MergeConfig, inputs: [URL: ModelInput]) throws {
            let base = config.method.base == .unused ? nil : config.baseModel
            let baseValues = try base.map { try inputs[$0]!.values(name) }
            models = try config.models.map { m in
                if let baseValues, m.url == base || inputs[m.url]!.stored(name) == nil { return baseValues }
                return try inputs[m.url]!.values(name)
            }
            isBase = config.models.map { $0.url == base }
            self.base = baseValues
        }
    }

    /// Merges one tensor. `value(key, i)` is the parameter for model i of `inputs.models` (nil: a global one);
    /// `rng(i)` the generator for the random drops of the i-th model besides the base. MergeConfig.validate has
    /// checked the number of models each method needs.
    static func combine(_ method: MergeConfig.Method, _ inputs: consuming TensorInputs, value: (String, Int?) throws -> Double,
                        name: String, rng: @escaping (Int) -> SplitMix64) throws -> Tensor {
        let others = inputs.models.indices.filter { !inputs.isBase[$0] }
        var xs: [[Float]] { others.map { inputs.models[$0].data } }
        let base = inputs.base
        let shape = base?.shape ?? inputs.models[0].shape
        func weights(_ indices: [Int]) throws -> [Float] { try indices.map { Float(try value("weight", $0)) } }
        let data: [Float]
        switch method {
        case .linear:
            data = MergeMath.linear(inputs.models.map(\.data), weights: try weights(Array(inputs.models.indices)),
                                    normalize: try value("normalize", nil) != 0)
        case .slerp:
            data = MergeMath.slerp(t: try value("t", nil), base!.data, xs[0])
        case .model_stock:
            let lanes = try value("filter_wise", nil) != 0 ? Lanes(shape: shape, axis: shape.count - 1) : .whole(shape.reduce(1, *))
            data = MergeMath.modelStock(base: base!.data, xs, lanes: lanes)
        case .nuslerp:
            let w = try others.map { try value("weight", $0) }
            let total = w[0] + w[1]
            let t = abs(total) < 1e-6 ? 0.5 : w[1] / total
            let lanes = try value("nuslerp_flatten", nil) != 0 ? .whole(shape.reduce(1, *))
                : Lanes(shape: shape, axis: try value("nuslerp_row_wise", nil) != 0 ? 0 : shape.count - 1)
            if let base {
                let d = MergeMath.nuslerp(t: t, TaskVector.delta(inputs.models[others[0]], base),
                                          TaskVector.delta(inputs.models[others[1]], base), lanes: lanes)
                data = zip(base.data, d).map { $0 + $1 }
            } else {
                data = MergeMath.nuslerp(t: t, xs[0], xs[1], lanes: lanes)
            }
        case .multislerp:
            data = try MergeMath.multislerp(base: base?.data, xs, weights: try weights(others),
                                            normalizeWeights: try value("normalize_weights", nil) != 0,
                                            eps: try value("eps", nil), name: name)
        case .sce:
            data = MergeMath.sce(base: base!.data, xs, selectTopK: try value("select_topk", nil))
        case .karcher:
            // mergekit merges the base as one more input, after the listed models unless listed itself.
            let extra = inputs.isBase.contains(true) ? [] : base.map { [$0.data] } ?? []
            data = MergeMath.karcher(inputs.models.map(\.data) + extra, maxIter: Int(try value("max_iter", nil)),
                                     tol: try value("tol", nil))
        default:
            let plan = plan(method)!
            var tasks: [MergeMath.TaskVector] = []
            for i in others {
                let gamma = try plan.sparsification == .outliers ? value("gamma", i) : 0
                let epsilon = try plan.sparsification == .rankedRandom ? value("epsilon", i) : 0
                tasks.append(.init(delta: TaskVector.delta(inputs.models[i], base!), weight: Float(try value("weight", i)),
                                   density: try value("density", i), gamma: gamma, epsilon: epsilon))
                // Held once, as its task vector.
                inputs.models[i] = Tensor(zeros: [0])
            }
            data = try MergeMath.taskArithmetic(
                base: base!.data, tasks: &tasks, sparsification: plan.sparsification, consensus: plan.consensus,
                normalize: try value("normalize", nil) != 0, rescale: try value("rescale", nil) != 0,
                lambda: try value("lambda", nil), shape: shape, rng: rng, name: name)
        }
        return Tensor(shape: shape, data: data)
    }
}

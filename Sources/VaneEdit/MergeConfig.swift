import Foundation
import VaneTensor
import Yams
import VaneModelIO

/// A merge described in mergekit's YAML schema:
///
///     merge_method: ties                 # linear, task_arithmetic, ties, dare_linear, dare_ties, slerp,
///                                        # breadcrumbs, breadcrumbs_ties, della, della_linear, model_stock,
///                                        # nuslerp, multislerp, sce, karcher
///     base_model: path/to/base           # see Method.base for which methods need one
///     models:
///       - model: path/to/a
///         parameters: {weight: 1.0, density: 0.5}
///     parameters: {normalize: true, lambda: 1.0, t: 0.5, …}   # defaults for every model's parameters
///     dtype: bfloat16                    # output dtype (out_dtype wins when both are given)
///     tokenizer_source: base             # or a model path; also `tokenizer: {source: …}`
///
/// A parameter is a number or bool; a list of numbers (a gradient, interpolated over the layers); or a list of
/// {filter, value} entries, the first whose filter is a substring of the tensor's HF name (or that has no filter)
/// giving the value. Each method declares the parameters it reads (`Method.parameters`); any other key is an
/// error, so a typo cannot silently fall back to a default. Model paths resolve against the YAML file's folder;
/// a model name the command line accepts (`smollm2`) names that model.
public struct MergeConfig: Sendable {
    public enum Method: String, CaseIterable, Sendable {
        case linear, task_arithmetic, ties, dare_linear, dare_ties, slerp, breadcrumbs, breadcrumbs_ties
        case della, della_linear, model_stock, nuslerp, multislerp, sce, karcher

        /// What the method does with `base_model` (mergekit's input contract for it).
        public enum BaseUse: Sendable {
            /// Not read (linear).
            case unused
            /// Required: the models are taken relative to it.
            case required
            /// When given, the models are taken relative to it; without one, the models themselves are merged.
            case optional
            /// Merged as one more input, like the models (karcher: mergekit adds the base to the inputs).
            case input
        }

        public var base: BaseUse {
            switch self {
            case .linear: .unused
            case .nuslerp, .multislerp: .optional
            case .karcher: .input
            default: .required
            }
        }

        /// The parameters the method reads, as mergekit declares them (its `parameters()` and
        /// `tensor_parameters()`), with mergekit's defaults.
        public var parameters: [Declared] {
            switch self {
            case .linear: return [.model("weight", range: .finite), .global("normalize", 1, range: .bool)]
            case .slerp: return [.global("t", range: .closed(0, 1))]
            case .task_arithmetic, .ties, .dare_linear, .dare_ties, .breadcrumbs, .breadcrumbs_ties, .della, .della_linear:
                // density: the fraction of each task vector kept; gamma: the fraction of its largest entries
                // breadcrumbs drops (mergekit `magnitude_outliers`), so density + gamma ≤ 1 as well; epsilon: how
                // far della's keep probability moves from density with the magnitude rank (density ± epsilon).
                var list: [Declared] = [.model("weight", range: .finite), .model("density", 1, range: .openClosed(0, 1))]
                if self == .breadcrumbs || self == .breadcrumbs_ties { list.append(.model("gamma", 0.01, range: .closed(0, 1))) }
                if self == .della || self == .della_linear { list.append(.model("epsilon", 0.15, range: .closed(0, 1))) }
                list += [.global("normalize", self == .ties || self == .della ? 1 : 0, range: .bool),
                         .global("rescale", [.dare_linear, .dare_ties, .della, .della_linear].contains(self) ? 1 : 0, range: .bool),
                         .global("lambda", 1, range: .finite),
                         // Accepted so that mergekit configs load; Vane's sign masks are booleans anyway.
                         .global("int8_mask", 0, range: .bool)]
                return list
            case .model_stock:
                // filter_wise: one interpolation ratio per row (output filter) instead of one per tensor.
                return [.global("filter_wise", 0, range: .bool)]
            case .nuslerp:
                // The two weights give t = w₂ / (w₁ + w₂); row_wise and flatten choose the vectors interpolated.
                return [.model("weight", range: .finite), .global("nuslerp_row_wise", 0, range: .bool),
                        .global("nuslerp_flatten", 1, range: .bool)]
            case .multislerp:
                return [.model("weight", range: .finite), .global("normalize_weights", 1, range: .bool),
                        .global("eps", 1e-8, range: .positive)]
            case .sce:
                // select_topk: the fraction of entries (those varying most across the models) kept.
                return [.global("select_topk", 1, range: .closed(0, 1)), .global("int8_mask", 0, range: .bool)]
            case .karcher:
                return [.global("max_iter", 10, range: .count), .global("tol", 1e-5, range: .positive)]
            }
        }

        /// The declaration of `name`, if the method has one.
        public func parameter(_ name: String) -> Declared? { parameters.first { $0.name == name } }
    }

    /// A parameter a method reads. A global one is set under the top-level `parameters:`; a per-model one under
    /// each model's `parameters:`, and the top-level `parameters:` may give it for every model at once.
    public struct Declared: Sendable {
        public var name: String
        public var perModel: Bool
        /// nil: required (bools are 1 and 0).
        public var defaultValue: Double?
        /// The values the parameter accepts; checked for every number a config gives it.
        public var range: Range

        static func global(_ name: String, _ value: Double? = nil, range: Range) -> Declared {
            Declared(name: name, perModel: false, defaultValue: value, range: range)
        }
        static func model(_ name: String, _ value: Double? = nil, range: Range) -> Declared {
            Declared(name: name, perModel: true, defaultValue: value, range: range)
        }
    }

    public enum Range: Sendable, CustomStringConvertible {
        /// true or false (a bare 0 or 1 too, as YAML writers sometimes give it).
        case bool
        /// Any finite number.
        case finite
        case closed(Double, Double)
        /// Excludes the lower end.
        case openClosed(Double, Double)
        /// A finite number above 0.
        case positive
        /// A whole number, 0 or more.
        case count

        public func contains(_ x: Double) -> Bool {
            switch self {
            case .bool: x == 0 || x == 1
            case .finite: x.isFinite
            case .closed(let lo, let hi): x >= lo && x <= hi
            case .openClosed(let lo, let hi): x > lo && x <= hi
            case .positive: x.isFinite && x > 0
            case .count: x >= 0 && x <= 1e9 && x == x.rounded()
            }
        }

        public var description: String {
            switch self {
            case .bool: "true or false"
            case .finite: "a finite number"
            case .positive: "a number above 0"
            case .count: "a whole number, 0 or more"
            case .closed(let lo, let hi): "[\(Self.format(lo)), \(Self.format(hi))]"
            case .openClosed(let lo, let hi): "(\(Self.format(lo)), \(Self.format(hi))]"
            }
        }

        static func format(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }
    }

    public indirect enum Parameter: Sendable, Equatable {
        case number(Double)
        case bool(Bool)
        /// Values spread evenly over the layers, interpolated linearly in between.
        case gradient([Double])
        case filtered([Filtered])

        public struct Filtered: Sendable, Equatable {
            public var filter: String?
            public var value: Parameter
        }

        /// The value for a tensor (HF name) at `position` ∈ [0, 1] through the layers; nil when no filter matches.
        public func number(tensor: String, position: Double) -> Double? {
            switch self {
            case .number(let v): return v
            case .bool(let b): return b ? 1 : 0
            case .gradient(let values):
                guard values.count > 1 else { return values.first }
                let x = position * Double(values.count - 1)
                let i = min(Int(x.rounded(.down)), values.count - 2)
                let f = x - Double(i)
                return (1 - f) * values[i] + f * values[i + 1]
            case .filtered(let entries):
                return entries.first { $0.filter.map { tensor.contains($0) } ?? true }?.value.number(tensor: tensor, position: position)
            }
        }

        /// For messages: the value as the config gave it.
        var summary: String {
            switch self {
            case .number(let v): "\(v)"
            case .bool(let b): "\(b)"
            case .gradient(let values): "the list \(values)"
            case .filtered: "a list of {filter, value}"
            }
        }

        /// Every number the parameter can take (for range checks).
        var allNumbers: [Double] {
            switch self {
            case .number(let v): [v]
            case .bool: []
            case .gradient(let values): values
            case .filtered(let entries): entries.flatMap(\.value.allNumbers)
            }
        }
    }

    public struct Model: Sendable {
        public var url: URL
        public var parameters: [String: Parameter]
    }

    public var method: Method
    public var models: [Model]
    public var baseModel: URL?
    public var parameters: [String: Parameter]
    public var dtype: GGMLType?
    /// The model whose tokenizer the output carries; nil = the base model (or the first model).
    public var tokenizerSource: URL?

    /// Reads and checks a YAML file.
    public static func load(_ url: URL) throws -> MergeConfig {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw VaneError("cannot read the merge config \(url.path): \(error.localizedDescription)")
        }
        return try MergeConfig(yaml: text, directory: url.deletingLastPathComponent(), path: url.path)
    }

    /// The first node Yams cannot construct safely, and why (YAMLLimits bounds the depth of this walk).
    static func unsupported(_ node: Node) -> (Node, String)? {
        switch node {
        case .scalar(let s):
            // YAML 1.1 base-60 numbers (1:30) overflow Int inside Yams; merge configs have no use for them.
            let sexagesimal = s.style == .plain && s.string.range(of: #"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$"#,
                                                                   options: .regularExpression) != nil
            return sexagesimal ? (node, "\"\(s.string)\" is a base-60 number, which merge configs do not take; quote it if it is a name") : nil
        case .sequence(let s):
            return s.lazy.compactMap(unsupported).first
        case .mapping(let m):
            for (key, value) in m {
                if key.scalar == nil { return (key, "a mapping key must be a plain name, not a list or mapping") }
                if let bad = unsupported(key) ?? unsupported(value) { return bad }
            }
            return nil
        }
    }

    public init(yaml: String, directory: URL, path: String = "<config>") throws {
        func fail(_ message: String, hint: String? = nil) -> VaneError { VaneError("\(path): \(message)", hint: hint) }
        try YAMLLimits.check(yaml, path: path)
        let root: Any?
        do {
            // Yams traps on a mapping key that is not a scalar (`? [a]: b`) and on a base-60 number too large for
            // Int (`4470000000000000000:47`), so the node tree is checked before anything is constructed.
            if let node = try Yams.compose(yaml: yaml), let (bad, why) = Self.unsupported(node) {
                throw fail("line \(bad.mark?.line ?? 0): \(why)")
            }
            root = try Yams.load(yaml: yaml)
        } catch let error as VaneError {
            throw error
        } catch {
            throw fail("not valid YAML: \(error)")
        }
        guard let doc = root as? [String: Any] else { throw fail("expected a mapping with merge_method and models") }
        if doc["slices"] != nil {
            throw fail("`slices` (layer ranges taken from different models) is not supported", hint: "list whole models under `models:`")
        }
        guard let methodName = doc["merge_method"] as? String else { throw fail("merge_method is missing") }
        guard let method = Method(rawValue: methodName) else {
            throw fail("unknown merge_method \"\(methodName)\"", hint: "Vane merges with " + Method.allCases.map(\.rawValue).joined(separator: ", "))
        }
        func resolve(_ any: Any?, _ what: String) throws -> URL? {
            guard let any else { return nil }
            let spec: String? = any as? String ?? ((any as? [String: Any])?["model"] as? String)
            guard let spec, !spec.isEmpty else { throw fail("\(what) must be a model path") }
            if spec.contains("+") && !FileManager.default.fileExists(atPath: spec) && spec.split(separator: "+").count == 2 {
                throw fail("\(what) \"\(spec)\" names a LoRA (model+lora), which Vane does not merge")
            }
            // A model name the command line accepts (`smollm2`) names that model here too.
            let named: URL
            do { named = try DefaultModel.resolve(spec) } catch let error as VaneError {
                throw fail("\(what) \"\(spec)\": \(error.message)", hint: error.hint)
            }
            if named.path != URL(fileURLWithPath: spec).path { return named }
            return spec.hasPrefix("/") ? URL(fileURLWithPath: spec) : directory.appendingPathComponent(spec).standardizedFileURL
        }
        func parameters(_ any: Any?, _ what: String) throws -> [String: Parameter] {
            guard let any else { return [:] }
            guard let map = any as? [String: Any] else { throw fail("\(what) must be a mapping of names to values") }
            var out: [String: Parameter] = [:]
            for (k, v) in map { out[k] = try parameter(v, "\(what).\(k)") }
            return out
        }
        func parameter(_ v: Any, _ what: String) throws -> Parameter {
            if let b = v as? Bool { return .bool(b) }
            if let i = v as? Int { return .number(Double(i)) }
            if let d = v as? Double { return .number(d) }
            if let list = v as? [Any] {
                let numbers = list.compactMap { ($0 as? Int).map(Double.init) ?? ($0 as? Double) }
                if numbers.count == list.count, !list.isEmpty, !list.contains(where: { $0 is Bool }) { return .gradient(numbers) }
                var entries: [Parameter.Filtered] = []
                for e in list {
                    guard let m = e as? [String: Any], let value = m["value"] else {
                        throw fail("\(what): expected numbers or {filter, value} entries")
                    }
                    entries.append(.init(filter: m["filter"] as? String, value: try parameter(value, what)))
                }
                return .filtered(entries)
            }
            throw fail("\(what) is \(v), expected a number, a bool, a list of numbers or of {filter, value}")
        }

        guard let list = doc["models"] as? [Any], !list.isEmpty else {
            throw fail("`models` is missing or empty")
        }
        var models: [Model] = []
        for (i, entry) in list.enumerated() {
            guard let m = entry as? [String: Any], let url = try resolve(m["model"], "models[\(i)].model") else {
                throw fail("models[\(i)] needs a `model:` path")
            }
            models.append(Model(url: url, parameters: try parameters(m["parameters"], "models[\(i)].parameters")))
        }
        let base = try resolve(doc["base_model"], "base_model")
        let global = try parameters(doc["parameters"], "parameters")

        var dtype: GGMLType?
        for key in ["dtype", "out_dtype"] {
            guard let name = doc[key] as? String else { continue }
            guard let t = Encode.type(named: name), Encode.safetensorsTypes.contains(t) else {
                throw fail("\(key) \"\(name)\" is not float32, float16 or bfloat16")
            }
            dtype = t
        }
        let tokenizerSpec = doc["tokenizer_source"] ?? (doc["tokenizer"] as? [String: Any])?["source"]
        var tokenizer: URL?
        if let spec = tokenizerSpec as? String {
            switch spec {
            case "base": tokenizer = nil
            case "union": throw fail("tokenizer_source: union is not supported", hint: "name the model whose tokenizer to keep, or `base`")
            default: tokenizer = try resolve(spec, "tokenizer_source")
            }
        } else if tokenizerSpec != nil {
            throw fail("tokenizer_source must be `base` or a model path")
        }

        self.method = method
        self.models = models
        self.baseModel = base
        self.parameters = global
        self.dtype = dtype
        self.tokenizerSource = tokenizer
        try validate(fail)
    }

    func validate(_ fail: (String, String?) -> VaneError) throws {
        if method.base == .required && baseModel == nil {
            throw fail("merge_method \(method.rawValue) needs a base_model", "add `base_model: <path>` (the model the task vectors are taken against)")
        }
        try checkParameterNames(fail)
        let tasks = models.filter { $0.url != baseModel }
        let besides = baseModel == nil ? "" : " besides the base_model"
        switch method {
        case .slerp:
            guard models.count == 2, let baseModel, models.contains(where: { $0.url == baseModel }), tasks.count == 1 else {
                throw fail("slerp interpolates exactly two different models, one of them the base_model", nil)
            }
        case .nuslerp:
            guard tasks.count == 2 else { throw fail("nuslerp interpolates exactly two models\(besides); the config has \(tasks.count)", nil) }
        case .model_stock:
            guard tasks.count >= 2 else { throw fail("model_stock needs at least two models besides the base_model; the config has \(tasks.count)", nil) }
        case .linear, .karcher: break
        default:
            guard !tasks.isEmpty else { throw fail("\(method.rawValue) needs at least one model\(besides)", nil) }
        }
        for p in method.parameters where p.defaultValue == nil {
            if !p.perModel {
                guard parameters[p.name] != nil else {
                    throw fail("\(method.rawValue) needs the parameter \(p.name)" + (p.name == "t" ? " (0 = base_model, 1 = the other model)" : ""),
                               "set it under the top-level parameters:")
                }
                continue
            }
            // linear weighs every model; the task-vector methods every model but the base.
            for m in method == .linear ? models : tasks where m.parameters[p.name] == nil && parameters[p.name] == nil {
                throw fail("\(m.url.path) has no \(p.name); \(method.rawValue) needs one per model", nil)
            }
        }
        try checkParameterValues(fail)
    }

    /// Every number given to a parameter lies in its declared range; bools go only where bools belong.
    func checkParameterValues(_ fail: (String, String?) -> VaneError) throws {
        let places = [("parameters", parameters)]
            + models.enumerated().map { ("models[\($0)] (\($1.url.lastPathComponent)) parameters", $1.parameters) }
        for (place, params) in places {
            for (key, value) in params.sorted(by: { $0.key < $1.key }) {
                guard let range = method.parameter(key)?.range else { continue }
                let what = "\(key) in \(place)"
                switch (range, value) {
                case (.bool, .bool): continue
                case (.bool, .number(let x)) where range.contains(x): continue
                case (.bool, _): throw fail("\(what) is \(value.summary), expected true or false", nil)
                case (_, .bool): throw fail("\(what) is a bool, expected a number in \(range)", nil)
                default: break
                }
                let numbers = value.allNumbers
                guard !numbers.isEmpty else { throw fail("\(what) is an empty list, expected a number in \(range)", nil) }
                for x in numbers where !x.isFinite || !range.contains(x) {
                    throw fail("\(what) is \(x), outside \(range)",
                               key == "density" ? "density is the fraction of each task vector kept" : nil)
                }
            }
        }
        // breadcrumbs drops gamma of the largest entries and keeps density, so both together cannot pass 1.
        guard method.parameter("gamma") != nil else { return }
        for m in models where m.url != baseModel {
            func most(_ key: String) -> Double {
                (m.parameters[key] ?? parameters[key])?.allNumbers.max() ?? method.parameter(key)?.defaultValue ?? 0
            }
            let density = most("density"), gamma = most("gamma")
            guard density + gamma <= 1 else {
                throw fail("density \(density) + gamma \(gamma) for \(m.url.lastPathComponent) exceeds 1",
                           "gamma is the fraction of the largest entries dropped, density the fraction kept")
            }
        }
    }

    /// Every key must be a parameter the method declares: per model only its per-model ones, at the top level
    /// any of them (there a per-model one is the default for every model).
    func checkParameterNames(_ fail: (String, String?) -> VaneError) throws {
        let m = method.rawValue
        let perModel = method.parameters.filter(\.perModel).map(\.name)
        let global = method.parameters.filter { !$0.perModel }.map(\.name)
        let valid = perModel.isEmpty
            ? "\(m) reads only top-level parameters: " + global.joined(separator: ", ")
            : "\(m) reads per model (or at the top level for every model): " + perModel.joined(separator: ", ")
                + "; only at the top level: " + global.joined(separator: ", ")
        func unknown(_ key: String, _ place: String) -> VaneError {
            let near = method.parameters.map(\.name).first { editDistance($0, key) <= 2 }
            return fail("unknown parameter \"\(key)\" in \(place) for merge_method \(m)" + (near.map { " (did you mean \($0)?)" } ?? ""),
                        valid)
        }
        for key in parameters.keys.sorted() where method.parameter(key) == nil {
            throw unknown(key, "parameters:")
        }
        for (i, model) in models.enumerated() {
            for key in model.parameters.keys.sorted() {
                let place = "models[\(i)] (\(model.url.lastPathComponent)) parameters:"
                guard let p = method.parameter(key) else { throw unknown(key, place) }
                guard p.perModel else {
                    throw fail("\(key) in \(place) is a global parameter of merge_method \(m)", "move it to the top-level parameters:")
                }
            }
        }
    }

    /// Every model the merge reads, base first, each once.
    public var inputs: [URL] {
        var seen: [URL] = []
        for u in [baseModel].compactMap({ $0 }) + models.map(\.url) + [tokenizerSource].compactMap({ $0 }) where !seen.contains(u) {
            seen.append(u)
        }
        return seen
    }
}

/// Levenshtein distance, to suggest the parameter a misspelt key meant.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in a.indices {
        var diagonal = row[0]
        row[0] = i + 1
        for j in b.indices {
            let above = row[j + 1]
            row[j + 1] = min(above + 1, row[j] + 1, diagonal + (a[i] == b[j] ? 0 : 1))
            diagonal = above
        }
    }
    return row[b.count]
}

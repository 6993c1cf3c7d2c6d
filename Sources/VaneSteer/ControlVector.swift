import Foundation
import VaneEdit
import VaneModelIO
import VaneTensor

// Control-vector files: GGUF as llama.cpp's cvector-generator and repeng write them and llama.cpp's
// `--control-vector` reads them.
//
//     general.architecture        string  "controlvector"
//     controlvector.model_hint    string  the model's architecture ("llama", "qwen2")
//     controlvector.layer_count   u32     number of direction tensors (llama.cpp writes i32; both are read)
//     direction.{L}               F32 [d] one per layer, L ≥ 1
//
// llama.cpp adds direction.L to the output of block L, 0-based (`cvec.apply_to(cur, il)` after the block's
// feed-forward residual add; the file's data for block L sits at offset (L − 1)·d, and it refuses direction.0,
// since block 0 is never steered). In Vane's terms direction.L is added at `blocks.L.hook_resid_post`, so a vector
// read at `blocks.L.hook_resid_post` is written as direction.L, unchanged, and layer 0 cannot be written. (Note
// that cvector-generator measures direction.L on block L−1's output, one block earlier than where it adds it;
// Vane measures and adds at the same point.)
//
// Vane adds keys that llama.cpp ignores and Vane checks when it loads:
//
//     vane.format_version   u32       1
//     vane.hook             string    resid_post | resid_mid | attn_out | mlp_out (where the directions are added)
//     vane.method           string    how the directions were computed (mean-diff, pca-diff, …, combine)
//     vane.model            string    the model's file or folder name, for messages
//     vane.model_sha256     string    the model's identity (ModelIdentity.swift in VaneModelIO)
//     vane.model_layers     u32       the model's block count: every direction.L has L < it
//     vane.command          string    the command line that made the file
//     vane.layers           i32[]     layers with scores, and per layer:
//     vane.layer_norms      f32[]     ‖direction‖
//     vane.layer_auroc      f32[]     AUROC of the projection, positives against negatives
//     vane.layer_cohens_d   f32[]     Cohen's d of the projection
//     vane.condition.*                 a CAST condition vector's decision rule (Condition.swift)
//
// A file without vane.hook (llama.cpp's, repeng's) is taken as resid_post, which is what llama.cpp does with it.
//
// Reading refuses what would make steering meaningless: two tensors for one layer (direction.5 and direction.05),
// and any value that is not finite or whose magnitude exceeds `ControlVector.maxMagnitude`.

/// How well one layer's direction separates the two classes of the examples it was computed from.
public struct LayerScore: Sendable, Equatable, Codable {
    public var layer: Int
    public var norm: Float
    public var auroc: Float
    public var cohensD: Float

    public init(layer: Int, norm: Float, auroc: Float, cohensD: Float) {
        self.layer = layer
        self.norm = norm
        self.auroc = auroc
        self.cohensD = cohensD
    }
}

/// One direction per layer, added (times a scale) at the same hook point of each layer.
public struct ControlVector: Sendable, Equatable {
    public static let formatVersion = 1
    /// The largest |value| a direction may hold. Residual-stream components of LLMs stay within about 1e4 even in
    /// their "massive activations", so a mean difference of them does too; 1e6 leaves two orders of magnitude for
    /// that, while a value beyond it — or 3e38, one step from infinity once scaled — can only be damage, and makes
    /// generation stop at once.
    public static let maxMagnitude: Float = 1e6

    /// layer → direction [width].
    public var directions: [Int: [Float]]
    public var width: Int
    public var hook: SteerHook
    /// controlvector.model_hint: the model's architecture.
    public var modelHint: String
    public var method: String?
    public var modelName: String?
    public var modelSHA256: String?
    /// The model's block count, when known: every layer is below it.
    public var modelLayers: Int?
    public var command: String?
    public var scores: [LayerScore]
    /// The condition of a CAST condition vector (Condition.swift); nil for a behaviour vector.
    public var condition: SteerCondition?

    public init(directions: [Int: [Float]], width: Int, hook: SteerHook = .residPost, modelHint: String,
                method: String? = nil, modelName: String? = nil, modelSHA256: String? = nil, modelLayers: Int? = nil,
                command: String? = nil, scores: [LayerScore] = [], condition: SteerCondition? = nil) {
        precondition(directions.values.allSatisfy { $0.count == width }, "every direction has the vector's width")
        self.directions = directions
        self.width = width
        self.hook = hook
        self.modelHint = modelHint
        self.method = method
        self.modelName = modelName
        self.modelSHA256 = modelSHA256
        self.modelLayers = modelLayers
        self.command = command
        self.scores = scores
        self.condition = condition
    }

    public var layers: [Int] { directions.keys.sorted() }

    /// Why no control vector holds layer 0, the one reason every command gives: direction.L is added at
    /// blocks.L.<hook> (block L's output for resid_post), and llama.cpp's files start at direction.1 — it never
    /// steers block 0's output and refuses a file holding direction.0.
    public static let noLayerZero = "layer 0 is not part of any control vector: direction.L is added at block L's "
        + "hook point, and llama.cpp's format starts at direction.1 (it never steers block 0's output and refuses "
        + "a file with direction.0)"
    public static let noLayerZeroHint = "choose layers from 1, e.g. --layers 1-8"

    /// Refuses `layers` when they name layer 0 (`noLayerZero`); `what` says where they came from.
    public static func refuseLayerZero(_ layers: [Int], _ what: String = "--layers") throws {
        if layers.contains(0) { throw VaneError("\(what): \(noLayerZero)", hint: noLayerZeroHint) }
    }

    // MARK: Reading

    /// Reads a control vector written by Vane, llama.cpp or repeng.
    public init(contentsOf url: URL) throws {
        let file: GGUFFile
        do { file = try GGUFFile(url: url) } catch {
            throw VaneError("\(url.path): cannot read as a GGUF control vector: \(error)")
        }
        let path = url.path
        guard let arch = file["general.architecture"]?.string, arch == "controlvector" else {
            throw VaneError("\(path): general.architecture is \(file["general.architecture"].map { "\($0)" } ?? "missing"), not \"controlvector\"",
                             hint: "this looks like a model, not a control vector")
        }
        var directions: [Int: [Float]] = [:]
        var tensorNames: [Int: String] = [:]
        var width: Int?
        for t in file.tensors {
            guard t.name.hasPrefix("direction."), let layer = Int(t.name.dropFirst("direction.".count)) else {
                throw VaneError("\(path): tensor \(t.name) is not named direction.<layer>")
            }
            guard layer >= 1 else {
                throw VaneError("\(path): tensor \(t.name): \(Self.noLayerZero)", hint: "the file is not a control vector llama.cpp or Vane can load")
            }
            if let other = tensorNames[layer] {
                throw VaneError("\(path): tensors \(other) and \(t.name) are both layer \(layer)'s direction",
                                hint: "keep one of them; a layer has one direction")
            }
            tensorNames[layer] = t.name
            guard t.shape.count == 1, [.f32, .f16, .bf16].contains(t.type) else {
                throw VaneError("\(path): tensor \(t.name) is \(t.type) \(t.shape), expected a 1-D F32 vector")
            }
            if let w = width, w != t.shape[0] {
                throw VaneError("\(path): tensor \(t.name) has width \(t.shape[0]) but earlier directions have \(w)")
            }
            width = t.shape[0]
            let values = dequantize(t).data
            try Self.checkValues(values, "\(path): tensor \(t.name)")
            directions[layer] = values
        }
        guard let width else { throw VaneError("\(path): the file holds no direction tensors") }
        let modelLayers = file["vane.model_layers"]?.int
        if let modelLayers, !(1...Int(Int32.max)).contains(modelLayers) {
            throw VaneError("\(path): vane.model_layers is \(modelLayers); a block count is 1…\(Int32.max)")
        }
        if let modelLayers, let top = directions.keys.max(), top >= modelLayers {
            throw VaneError("\(path): tensor \(tensorNames[top] ?? "") is layer \(top), but vane.model_layers says the "
                + "model has layers 0…\(modelLayers - 1)", hint: "the file is damaged; compute the vector again")
        }
        var hook = SteerHook.residPost
        if let h = file["vane.hook"]?.string { hook = try SteerHook(parsing: h) }
        var scores: [LayerScore] = []
        if let layers = file["vane.layers"]?.intArray {
            let norms = file["vane.layer_norms"]?.floatArray ?? [], auroc = file["vane.layer_auroc"]?.floatArray ?? []
            let cohen = file["vane.layer_cohens_d"]?.floatArray ?? []
            guard norms.count == layers.count, auroc.count == layers.count, cohen.count == layers.count else {
                throw VaneError("\(path): vane.layers has \(layers.count) entries but the score arrays have \(norms.count), \(auroc.count), \(cohen.count)")
            }
            if let stray = layers.first(where: { directions[$0] == nil }) {
                throw VaneError("\(path): vane.layers scores layer \(stray), which has no direction tensor")
            }
            scores = layers.indices.map {
                LayerScore(layer: layers[$0], norm: Float(norms[$0]), auroc: Float(auroc[$0]), cohensD: Float(cohen[$0]))
            }
        }
        self.init(directions: directions, width: width, hook: hook,
                  modelHint: file["controlvector.model_hint"]?.string ?? "", method: file["vane.method"]?.string,
                  modelName: file["vane.model"]?.string, modelSHA256: file["vane.model_sha256"]?.string,
                  modelLayers: modelLayers, command: file["vane.command"]?.string, scores: scores,
                  condition: try SteerCondition(file: file, path: path, directions: directions))
    }

    // MARK: Writing

    /// Writes the vector atomically as a GGUF control vector that llama.cpp loads with `--control-vector`.
    public func write(to url: URL) throws {
        if directions[0] != nil { throw VaneError("cannot write \(url.path): \(Self.noLayerZero)", hint: Self.noLayerZeroHint) }
        for l in layers { try Self.checkValues(directions[l]!, "cannot write \(url.path): layer \(l)") }
        var meta: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("controlvector")),
            ("controlvector.model_hint", .string(modelHint)),
            ("controlvector.layer_count", .uint32(UInt32(directions.count))),
            ("vane.format_version", .uint32(UInt32(Self.formatVersion))),
            ("vane.hook", .string(hook.rawValue)),
        ]
        if let method { meta.append(("vane.method", .string(method))) }
        if let modelName { meta.append(("vane.model", .string(modelName))) }
        if let modelSHA256 { meta.append(("vane.model_sha256", .string(modelSHA256))) }
        if let modelLayers { meta.append(("vane.model_layers", .uint32(UInt32(modelLayers)))) }
        if let command { meta.append(("vane.command", .string(command))) }
        if !scores.isEmpty {
            meta.append(("vane.layers", .array(scores.map { .int32(Int32($0.layer)) })))
            meta.append(("vane.layer_norms", .array(scores.map { .float32($0.norm) })))
            meta.append(("vane.layer_auroc", .array(scores.map { .float32($0.auroc) })))
            meta.append(("vane.layer_cohens_d", .array(scores.map { .float32($0.cohensD) })))
        }
        if let condition { meta += condition.metadata }
        let layers = self.layers
        let entries = layers.map { TensorEntry(name: "direction.\($0)", type: .f32, shape: [width]) }
        try GGUFWriter.write(to: url, metadata: meta, entries: entries) { i, emit in
            try directions[layers[i]]!.withUnsafeBytes { try emit($0) }
        }
    }

    /// Refuses a direction holding a value that is not finite or exceeds `maxMagnitude`; `place` says whose.
    static func checkValues(_ values: [Float], _ place: String) throws {
        if let i = values.firstIndex(where: { !(abs($0) <= maxMagnitude) }) {
            throw VaneError("\(place): value [\(i)] is \(values[i]); a direction's values must be finite and within "
                + "±\(maxMagnitude)", hint: "the vector is damaged or was computed from broken activations")
        }
    }

    // MARK: Checking against a model

    /// Refuses a vector that does not fit the model: a different width or layers it lacks always; a different
    /// model (by sha256, or by architecture for files without one) unless `force`.
    public func check(against model: ModelIdentity, force: Bool = false) throws {
        let name = modelName.map { " (made for \($0))" } ?? ""
        guard width == model.hiddenSize else {
            throw VaneError("vector width \(width)\(name) does not match \(model.name)'s hidden size \(model.hiddenSize)",
                             hint: "the vector was made for a different model; no --force can add vectors of another width")
        }
        if let bad = layers.first(where: { $0 >= model.layers }) {
            throw VaneError("the vector has a direction for layer \(bad) but \(model.name) has layers 0…\(model.layers - 1)")
        }
        guard !force else { return }
        if let sha = modelSHA256 {
            let actual = try model.sha256()
            guard sha == actual else {
                throw VaneError("the vector was made for another model\(name): its vane.model_sha256 is \(sha.prefix(16))…, \(model.name) has \(actual.prefix(16))…",
                                 hint: "pass --force to steer this model with it anyway")
            }
        } else if !modelHint.isEmpty && modelHint != model.architecture {
            throw VaneError("the vector's controlvector.model_hint is \"\(modelHint)\" but \(model.name) is a \"\(model.architecture)\" model",
                             hint: "pass --force to steer this model with it anyway")
        }
    }

    // MARK: Arithmetic

    /// Σ scaleᵢ · vectorᵢ, layer by layer (a layer missing from a vector counts as zero). The vectors must agree
    /// in width and hook; they must come from the same model unless `force`. Scores are dropped: they described
    /// the inputs.
    public static func combine(_ terms: [(vector: ControlVector, scale: Float)], force: Bool = false) throws -> ControlVector {
        guard let first = terms.first?.vector else { throw VaneError("combine needs at least one vector") }
        for (v, _) in terms.dropFirst() {
            guard v.width == first.width else {
                throw VaneError("cannot combine vectors of width \(first.width) and \(v.width)")
            }
            guard v.hook == first.hook else {
                throw VaneError("cannot combine vectors added at different hooks (\(first.hook) and \(v.hook))")
            }
            if !force, let a = first.modelSHA256, let b = v.modelSHA256, a != b {
                throw VaneError("the vectors were made for different models (sha256 \(a.prefix(16))… and \(b.prefix(16))…)",
                                 hint: "pass --force to combine them anyway")
            }
        }
        var sum: [Int: [Float]] = [:]
        for (v, s) in terms {
            for (l, d) in v.directions {
                var acc = sum[l] ?? [Float](repeating: 0, count: first.width)
                for i in 0..<first.width { acc[i] += s * d[i] }
                sum[l] = acc
            }
        }
        let shas = Set(terms.compactMap(\.vector.modelSHA256))
        let depths = Set(terms.compactMap(\.vector.modelLayers))
        let recipe = terms.map { "\($0.vector.method ?? "vector")×\($0.scale)" }.joined(separator: " + ")
        return ControlVector(directions: sum, width: first.width, hook: first.hook, modelHint: first.modelHint,
                             method: "combine(\(recipe))", modelName: first.modelName,
                             modelSHA256: shas.count == 1 ? shas.first : nil, modelLayers: depths.count == 1 ? depths.first : nil)
    }
}

/// `PATH[:SCALE]` as the CLI writes a vector with its scale (`concise.gguf:-2`).
public struct ScaledVectorPath: Sendable, Equatable {
    public var path: String
    public var scale: Float

    public init(path: String, scale: Float) {
        self.path = path
        self.scale = scale
    }

    public init(parsing text: String) throws {
        guard !FileManager.default.fileExists(atPath: text), let cut = text.lastIndex(of: ":") else {
            self.init(path: text, scale: 1)
            return
        }
        let scaleText = String(text[text.index(after: cut)...])
        guard let scale = Float(scaleText), scale.isFinite else {
            throw VaneError("\"\(text)\": scale \"\(scaleText)\" is not a number", hint: "write VECTOR.gguf:SCALE, e.g. vec.gguf:-2.5")
        }
        self.init(path: String(text[..<cut]), scale: scale)
    }
}

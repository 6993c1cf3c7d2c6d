import Foundation
import VaneEdit
import VaneModelIO
import VaneTensor

/// Directions baked into the weights that write to the residual stream, so that an edited model file does
/// without run-time hooks what a hook would do. Directions are per layer, width d; r̂ = r/‖r‖. Matrices are in HF
/// layout [out, in] (GGUF llama Q/K permutations do not concern o_proj, down_proj or the embedding).
///
///     heads       o_proj W_O [d, H·hd]: head h owns columns h·hd ..< (h+1)·hd; for each chosen head,
///                 W_O[:, h] ← (I − r̂r̂ᵀ) W_O[:, h]. Equals projecting r̂ out of attn.hook_result[L, h].
///     ablate      each targeted writer W ← (I − r̂r̂ᵀ) W (o_proj [d, H·hd], down_proj [d, F], their biases
///                 b ← (I − r̂r̂ᵀ) b; the embedding's rows e ← (I − r̂r̂ᵀ) e). Equals projecting r̂ out of
///                 hook_attn_out / hook_mlp_out (/ hook_embed) at the same layers. With `normPreserve`, each row of
///                 W is then rescaled to its original norm (heretic's row-normalised variant; no longer equal
///                 to a hook).
///
///                 In a block with experts the MLP output is Σ_e w_e · D_e a_e (+ the gated shared expert's D_s a_s),
///                 linear in each down projection, so down_proj means every expert's (`ffn_down_exps` [E, d, F],
///                 each D_e ← (I − r̂r̂ᵀ) D_e) and the shared expert's: still exactly hook_mlp_out's projection.
///
///                 Families whose o_proj / down_proj outputs pass a norm before the residual (OLMo 2:
///                 ArchitectureSpec.postNorms) are refused for ablate and add at those writers: no weight edit
///                 there equals the hooked edit. Head edits stay exact (hook_result sits before the norm).
///     add         a constant c added to block L's output as a bias: `blk.L.ffn_down.bias` += c (c added after
///                 the MLP: hook_mlp_out / hook_resid_post), or `blk.L.attn_output.bias` += c (after attention:
///                 hook_attn_out / hook_resid_mid). llama.cpp's llama loader reads both as optional tensors. A block
///                 with experts has no down_proj bias that adds a constant to its MLP output (the routing weights
///                 need not sum to 1; where top-k renormalisation makes them, no per-expert bias is read; a shared
///                 expert is gated): refused there.
///
/// Every other tensor is copied unchanged (its stored bytes, for a GGUF output); the edited ones are computed in
/// f32 from the dequantized source and written as `OutputOptions.dtype` (F32 when nil).
public enum Bake {
    /// A weight that writes to the residual stream.
    public enum Writer: String, Sendable, CaseIterable, CustomStringConvertible {
        case attnOutput = "o_proj"
        case ffnDown = "down_proj"
        case embed

        public var description: String { rawValue }

        /// GGUF names of the weight and bias this writer has at `layer` (the embedding has no layer or bias).
        func names(layer: Int) -> (weight: String, bias: String?) {
            switch self {
            case .attnOutput: ("blk.\(layer).attn_output.weight", "blk.\(layer).attn_output.bias")
            case .ffnDown: ("blk.\(layer).ffn_down.weight", "blk.\(layer).ffn_down.bias")
            case .embed: ("token_embd.weight", nil)
            }
        }

        /// Parses `o_proj,down_proj,embed` (GGUF spellings attn_output and ffn_down too).
        public static func parse(list text: String) throws -> [Writer] {
            var out: [Writer] = []
            for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let w: Writer? = switch part {
                case "o_proj", "attn_output": .attnOutput
                case "down_proj", "ffn_down": .ffnDown
                case "embed", "embed_tokens", "token_embd": .embed
                default: nil
                }
                guard let w else {
                    throw VaneError("target \"\(part)\" is not a residual-stream writer", hint: "use o_proj, down_proj or embed")
                }
                if !out.contains(w) { out.append(w) }
            }
            guard !out.isEmpty else { throw VaneError("no targets given", hint: "use o_proj, down_proj or embed") }
            return out
        }
    }

    /// Heads to edit at one layer, with the direction to remove from their output.
    public struct HeadEdit: Sendable, Equatable {
        public var layer: Int
        public var heads: [Int]
        public var direction: [Float]

        public init(layer: Int, heads: [Int], direction: [Float]) {
            self.layer = layer
            self.heads = heads
            self.direction = direction
        }
    }

    // MARK: Edits

    /// Projects each edit's direction out of its heads' o_proj columns.
    public static func heads(_ input: ModelInput, edits: [HeadEdit], to options: OutputOptions,
                             provenance: [String: String], progress: (ProgressEvent) -> Void = { _ in }) throws {
        let c = input.config
        let (H, hd) = (c.numAttentionHeads, c.headDim)
        var changes: [String: (Tensor) -> Tensor] = [:]
        for e in edits {
            try checkLayer(e.layer, c)
            let unit = try unitDirection(e.direction, c, what: "the direction at layer \(e.layer)")
            if let bad = e.heads.first(where: { !(0..<H).contains($0) }) {
                throw VaneError("head \(bad) at layer \(e.layer) is out of range: \(input.url.lastPathComponent) has heads 0…\(H - 1) per layer")
            }
            let name = Writer.attnOutput.names(layer: e.layer).weight
            guard changes[name] == nil else { throw VaneError("layer \(e.layer) is listed twice; give all its heads in one edit") }
            let columns = e.heads.flatMap { h in (h * hd)..<((h + 1) * hd) }
            changes[name] = { w in projectColumns(w, columns: columns, unit: unit) }
        }
        try write(input, changes: changes, added: [:], to: options, provenance: provenance, progress: progress)
    }

    /// Projects r̂_L out of every targeted writer at each layer of `directions`; the embedding (when targeted)
    /// takes `embedDirection`.
    public static func ablate(_ input: ModelInput, directions: [Int: [Float]], targets: [Writer],
                              embedDirection: [Float]? = nil, normPreserve: Bool = false,
                              to options: OutputOptions, provenance: [String: String],
                              progress: (ProgressEvent) -> Void = { _ in }) throws {
        let c = input.config
        if let writer = targets.first(where: { $0 != .embed }) { try checkExact(input, writer, edit: "projecting a direction out of") }
        var changes: [String: (Tensor) -> Tensor] = [:]
        for (layer, r) in directions {
            try checkLayer(layer, c)
            let unit = try unitDirection(r, c, what: "the direction at layer \(layer)")
            for w in targets where w != .embed {
                if w == .ffnDown, c.routes(layer) {
                    changes["blk.\(layer).ffn_down_exps.weight"] = { projectExperts($0, unit: unit, normPreserve: normPreserve) }
                    let shared = "blk.\(layer).ffn_down_shexp.weight"
                    if input.stored(shared) != nil { changes[shared] = { projectOutputs($0, unit: unit, normPreserve: normPreserve) } }
                    continue
                }
                let (weight, bias) = w.names(layer: layer)
                changes[weight] = { projectOutputs($0, unit: unit, normPreserve: normPreserve) }
                if let bias, input.stored(bias) != nil { changes[bias] = { projectOutputs($0, unit: unit, normPreserve: false) } }
            }
        }
        if targets.contains(.embed) {
            guard let embedDirection else { throw VaneError("the embed target needs a direction for the embedding") }
            let unit = try unitDirection(embedDirection, c, what: "the embedding's direction")
            changes["token_embd.weight"] = { projectRows($0, unit: unit, normPreserve: normPreserve) }
        }
        guard !changes.isEmpty else { throw VaneError("nothing to ablate: no layers or targets") }
        try write(input, changes: changes, added: [:], to: options, provenance: provenance, progress: progress)
    }

    /// Adds `constants[L]` to block L's output through the bias of `writer` (o_proj or down_proj). GGUF output
    /// only: transformers' llama reads o_proj / down_proj biases only with attention_bias / mlp_bias, which bring
    /// q/k/v or gate/up biases along, so an HF folder would silently lose the constant.
    public static func add(_ input: ModelInput, constants: [Int: [Float]], writer: Writer = .ffnDown,
                           to options: OutputOptions, provenance: [String: String],
                           progress: (ProgressEvent) -> Void = { _ in }) throws {
        guard options.format == .gguf else {
            throw VaneError("\(options.url.path): an additive edit is written as a bias, which an HF folder cannot carry for transformers' llama",
                            hint: "write a .gguf (llama.cpp and Vane read blk.L.ffn_down.bias), then convert if needed")
        }
        guard writer != .embed else { throw VaneError("an additive edit goes to o_proj or down_proj, not the embedding") }
        try checkExact(input, writer, edit: "adding a constant to")
        let c = input.config
        var changes: [String: (Tensor) -> Tensor] = [:]
        var added: [String: (after: String, values: [Float])] = [:]
        for (layer, v) in constants {
            try checkLayer(layer, c)
            try checkWidth(v, c, what: "the vector at layer \(layer)")
            if writer == .ffnDown, c.routes(layer) {
                let weights = c.moe?.normTopKProb == true ? "whose top-k weights sum to 1, but the loaders read no per-expert down_proj bias that could carry the constant"
                    : "whose weights need not sum to 1"
                throw VaneError("block \(layer) of \(input.url.lastPathComponent) routes tokens to experts: its MLP output is Σ routing weight × expert output (\(weights)), so no weight edit equals adding the vector at hook_mlp_out / hook_resid_post there",
                                hint: "steer with the vector instead (vane generate --steer VEC, op add), or use a vector measured at hook_attn_out, which bakes into o_proj's bias exactly")
            }
            let names = writer.names(layer: layer)
            guard let bias = names.bias else { continue }
            if input.stored(bias) != nil {
                changes[bias] = { t in Tensor(shape: t.shape, data: zip(t.data, v).map { $0 + $1 }) }
            } else {
                added[bias] = (names.weight, v)
            }
        }
        guard !constants.isEmpty else { throw VaneError("nothing to add: no layers") }
        try write(input, changes: changes, added: added, to: options, provenance: provenance, progress: progress)
    }

    // MARK: Arithmetic (HF layout)

    /// W[:, j] ← W[:, j] − r̂ (r̂·W[:, j]) for the given columns of W [d, n].
    static func projectColumns(_ w: Tensor, columns: [Int], unit r: [Float]) -> Tensor {
        var out = w
        let n = w.shape[1], d = w.shape[0]
        for j in columns {
            var dot = 0.0
            for i in 0..<d { dot += Double(w.data[i * n + j]) * Double(r[i]) }
            for i in 0..<d { out.data[i * n + j] -= Float(dot) * r[i] }
        }
        return out
    }

    /// (I − r̂r̂ᵀ) W for W [d, n] (every column), or (I − r̂r̂ᵀ) b for a bias [d]; with `normPreserve` each row of W
    /// is rescaled to its norm before.
    static func projectOutputs(_ w: Tensor, unit r: [Float], normPreserve: Bool) -> Tensor {
        let d = w.shape[0], n = w.shape.count > 1 ? w.shape[1] : 1
        var dots = [Double](repeating: 0, count: n)
        for i in 0..<d {
            let ri = Double(r[i])
            for j in 0..<n { dots[j] += Double(w.data[i * n + j]) * ri }
        }
        var out = w
        for i in 0..<d {
            for j in 0..<n { out.data[i * n + j] = Float(Double(w.data[i * n + j]) - dots[j] * Double(r[i])) }
        }
        if normPreserve { rescaleRows(&out, like: w) }
        return out
    }

    /// (I − r̂r̂ᵀ) D_e for each expert's down projection D_e [d, F] of a stacked tensor [E, d, F].
    static func projectExperts(_ w: Tensor, unit r: [Float], normPreserve: Bool) -> Tensor {
        let (E, d, F) = (w.shape[0], w.shape[1], w.shape[2])
        var out = w
        for e in 0..<E {
            let span = (e * d * F)..<((e + 1) * d * F)
            let projected = projectOutputs(Tensor(shape: [d, F], data: Array(w.data[span])), unit: r, normPreserve: normPreserve)
            out.data.replaceSubrange(span, with: projected.data)
        }
        return out
    }

    /// e ← (I − r̂r̂ᵀ) e for each row e of E [V, d]; with `normPreserve` each row then keeps its norm.
    static func projectRows(_ e: Tensor, unit r: [Float], normPreserve: Bool) -> Tensor {
        let d = e.shape[1]
        var out = e
        for row in 0..<e.shape[0] {
            var dot = 0.0
            for i in 0..<d { dot += Double(e.data[row * d + i]) * Double(r[i]) }
            for i in 0..<d { out.data[row * d + i] = Float(Double(e.data[row * d + i]) - dot * Double(r[i])) }
        }
        if normPreserve { rescaleRows(&out, like: e) }
        return out
    }

    static func rescaleRows(_ w: inout Tensor, like original: Tensor) {
        let n = w.shape.count > 1 ? w.shape[1] : w.data.count
        for row in 0..<(w.data.count / n) {
            let span = (row * n)..<((row + 1) * n)
            let before = original.data[span].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let after = w.data[span].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            guard after > 0 else { continue }
            for k in span { w.data[k] = Float(Double(w.data[k]) * before / after) }
        }
    }

    // MARK: Checks and writing

    /// What a head edit means where a norm follows o_proj (ArchitectureSpec.postNorms), for the command's output;
    /// nil elsewhere.
    public static func headEditNote(_ input: ModelInput) -> String? {
        let spec = input.files.spec
        guard spec.postNorms else { return nil }
        return "note: \(spec.name) normalizes o_proj's output before the residual stream; this head edit equals projecting the direction out of attn.hook_result (before that norm), not out of hook_attn_out"
    }

    /// Refuses to edit o_proj / down_proj where a norm follows them (ArchitectureSpec.postNorms): the baked model
    /// would differ from the hooked edit at hook_attn_out / hook_mlp_out, and from any fixed edit of the output.
    static func checkExact(_ input: ModelInput, _ writer: Writer, edit: String) throws {
        let spec = input.files.spec
        guard spec.postNorms else { return }
        let hook = writer == .attnOutput ? "hook_attn_out" : "hook_mlp_out"
        throw VaneError("\(input.url.lastPathComponent) is \(spec.name): an RMSNorm follows \(writer) before the residual stream, so \(edit) \(writer)'s weights is not \(edit) \(hook) (which sits after that norm)",
                        hint: "steer with a hook at \(hook) or hook_resid_post instead (vane steer), or edit heads (vane edit heads), which equals the hooked edit of attn.hook_result")
    }

    static func checkLayer(_ layer: Int, _ c: ModelConfig) throws {
        guard (0..<c.numHiddenLayers).contains(layer) else {
            throw VaneError("layer \(layer) is out of range: the model has layers 0…\(c.numHiddenLayers - 1)")
        }
    }

    static func checkWidth(_ v: [Float], _ c: ModelConfig, what: String) throws {
        guard v.count == c.hiddenSize else {
            throw VaneError("\(what) has width \(v.count) but the model's hidden size is \(c.hiddenSize)",
                            hint: "the direction was made for a different model")
        }
        guard v.allSatisfy(\.isFinite) else { throw VaneError("\(what) holds a non-finite value") }
    }

    static func unitDirection(_ v: [Float], _ c: ModelConfig, what: String) throws -> [Float] {
        try checkWidth(v, c, what: what)
        let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0 else { throw VaneError("\(what) is zero, so it has no direction to remove") }
        return v.map { Float(Double($0) / norm) }
    }

    /// Writes the input with `changes` applied to the named tensors and `added` tensors (1-D, [d]) placed after
    /// the tensor each names.
    static func write(_ input: ModelInput, changes: [String: (Tensor) -> Tensor],
                      added: [String: (after: String, values: [Float])], to options: OutputOptions,
                      provenance: [String: String], progress: (ProgressEvent) -> Void) throws {
        for name in changes.keys where input.stored(name) == nil {
            throw VaneError("\(input.url.path) has no tensor \(name)")
        }
        for (name, a) in added where input.stored(a.after) == nil {
            throw VaneError("\(input.url.path) has no tensor \(a.after) to put \(name) beside")
        }
        var tensors: [OutputTensor] = []
        for name in input.names {
            guard let stored = input.stored(name) else { continue }
            if let change = changes[name] {
                tensors.append(OutputTensor(name: name, shape: stored.shape, source: .computed { change(try input.values(name)) }))
            } else {
                tensors.append(OutputTensor(name: name, shape: stored.shape, source: .copy(input)))
            }
            for (extra, a) in added.sorted(by: { $0.key < $1.key }) where a.after == name {
                let values = a.values
                tensors.append(OutputTensor(name: extra, shape: [values.count], source: .computed { Tensor(shape: [values.count], data: values) }))
            }
        }
        try ModelWriter.write(tensors, template: input, to: options, provenance: provenance, inputs: [input.url],
                              task: "baking", progress: progress, done: input.release)
    }
}

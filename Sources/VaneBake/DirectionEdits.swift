import Foundation
import VaneEdit
import VaneModelIO
import VaneSteer

/// The three baked edits driven by control-vector files, with their provenance (`vane.edit.*` in a GGUF,
/// `__metadata__` of each safetensors shard in an HF folder):
///
///     edit.recipe            heads | ablate | add | thinkedit
///     edit.source            the edited model's file or folder name
///     edit.source_sha256     its identity (ModelIdentity)
///     edit.direction         the vector file's name
///     edit.direction_sha256  sha256 of the vector file
///     edit.hook              the vector's hook (where its directions were measured or are added)
///     edit.layers            layers edited, comma-separated
///     edit.heads             L.h,… (heads)
///     edit.targets           o_proj,down_proj,embed (ablate)
///     edit.direction_layer   the one layer whose direction served every layer (ablate, when given)
///     edit.norm_preserve     true | false (ablate)
///     edit.scales            the scale per layer, L:α,… (add)
///     edit.command           the command line
public enum DirectionEdits {
    /// A control vector with the sha256 of its file.
    public struct Direction {
        public var vector: ControlVector
        public var url: URL
        public var sha256: String

        public init(contentsOf url: URL) throws {
            vector = try ControlVector(contentsOf: url)
            self.url = url
            sha256 = try SHA256.hex(ofFile: url)
        }

        public init(vector: ControlVector, url: URL, sha256: String) {
            self.vector = vector
            self.url = url
            self.sha256 = sha256
        }
    }

    /// `L.h,L.h,…` as `--heads` takes it.
    public static func parseHeads(_ text: String) throws -> [(layer: Int, head: Int)] {
        let out = try text.split(separator: ",").map { part -> (layer: Int, head: Int) in
            let bits = part.trimmingCharacters(in: .whitespaces).split(separator: ".")
            guard bits.count == 2, let l = Int(bits[0]), let h = Int(bits[1]), l >= 0, h >= 0 else {
                throw VaneError("heads \"\(text)\": \"\(part)\" is not LAYER.HEAD", hint: "write heads like 12.3,14.0")
            }
            return (l, h)
        }
        guard !out.isEmpty else { throw VaneError("heads \"\(text)\" names no head", hint: "write heads like 12.3,14.0") }
        return out
    }

    /// Projects each chosen head's layer direction out of its o_proj columns.
    public static func heads(_ input: ModelInput, direction: Direction, heads: [(layer: Int, head: Int)],
                             to options: OutputOptions, recipe: String = "heads", command: String,
                             extra: [String: String] = [:], progress: (ProgressEvent) -> Void = { _ in }) throws {
        let v = direction.vector
        try checkWidth(v, input)
        var byLayer: [Int: [Int]] = [:]
        for (l, h) in heads where !(byLayer[l]?.contains(h) ?? false) { byLayer[l, default: []].append(h) }
        try ControlVector.refuseLayerZero(byLayer.keys.sorted(), "heads of layer 0")
        let edits = try byLayer.keys.sorted().map { l -> Bake.HeadEdit in
            guard let d = v.directions[l] else {
                throw VaneError("head \(l).\(byLayer[l]![0]): the vector has no direction at layer \(l); it has layers \(LayerList.describe(v.layers))")
            }
            return Bake.HeadEdit(layer: l, heads: byLayer[l]!.sorted(), direction: d.map { -$0 })
        }
        var p = try provenance(input, direction, recipe: recipe, layers: edits.map(\.layer), command: command)
        p["edit.heads"] = heads.map { "\($0.layer).\($0.head)" }.joined(separator: ",")
        p.merge(extra) { $1 }
        try Bake.heads(input, edits: edits, to: options, provenance: p, progress: progress)
    }

    /// Projects the vector's direction out of the targeted writers at `layers` (default: every layer the vector
    /// has), each layer with its own direction, or every layer with the direction of `directionLayer`. The
    /// embedding takes the direction of `directionLayer`, else of the lowest edited layer.
    public static func ablate(_ input: ModelInput, direction: Direction, layers: [Int]?, targets: [Bake.Writer],
                              directionLayer: Int? = nil, normPreserve: Bool, to options: OutputOptions,
                              command: String, progress: (ProgressEvent) -> Void = { _ in }) throws {
        let v = direction.vector
        try checkWidth(v, input)
        let chosen = layers ?? v.layers
        try LayerList.check(chosen, modelLayers: input.config.numHiddenLayers)
        try ControlVector.refuseLayerZero(chosen)
        try ControlVector.refuseLayerZero(directionLayer.map { [$0] } ?? [], "--direction-layer")
        func dir(_ l: Int) throws -> [Float] {
            guard let d = v.directions[l] else {
                throw VaneError("the vector has no direction at layer \(l); it has layers \(LayerList.describe(v.layers))",
                                 hint: "choose --layers among those, or use one direction everywhere with --direction-layer")
            }
            return d
        }
        let global = try directionLayer.map(dir)
        let edited = targets == [.embed] ? [] : chosen
        var directions: [Int: [Float]] = [:]
        for l in edited { directions[l] = try global ?? dir(l) }
        let embed = targets.contains(.embed) ? try global ?? dir(chosen.min() ?? 0) : nil
        var p = try provenance(input, direction, recipe: "ablate", layers: edited, command: command)
        p["edit.targets"] = targets.map(\.rawValue).joined(separator: ",")
        p["edit.norm_preserve"] = String(normPreserve)
        if let directionLayer { p["edit.direction_layer"] = String(directionLayer) }
        try Bake.ablate(input, directions: directions, targets: targets, embedDirection: embed,
                        normPreserve: normPreserve, to: options, provenance: p, progress: progress)
    }

    /// Adds scale·v_L to block L's output as a bias: down_proj's for vectors added at resid_post or mlp_out,
    /// o_proj's for resid_mid or attn_out — the same change as steering with `add` at the vector's hook.
    public static func add(_ input: ModelInput, direction: Direction, scale: Float, layers: [Int]?,
                           to options: OutputOptions, command: String, progress: (ProgressEvent) -> Void = { _ in }) throws {
        let v = direction.vector
        try checkWidth(v, input)
        let chosen = layers ?? v.layers
        try LayerList.check(chosen, modelLayers: input.config.numHiddenLayers)
        try ControlVector.refuseLayerZero(chosen)
        var constants: [Int: [Float]] = [:]
        for l in chosen {
            guard let d = v.directions[l] else {
                throw VaneError("the vector has no direction at layer \(l); it has layers \(LayerList.describe(v.layers))")
            }
            constants[l] = d.map { scale * $0 }
        }
        let writer: Bake.Writer = v.hook == .residPost || v.hook == .mlpOut ? .ffnDown : .attnOutput
        var p = try provenance(input, direction, recipe: "add", layers: chosen, command: command)
        p["edit.scales"] = chosen.map { "\($0):\(scale)" }.joined(separator: ",")
        p["edit.bias"] = writer == .ffnDown ? "ffn_down" : "attn_output"
        try Bake.add(input, constants: constants, writer: writer, to: options, provenance: p, progress: progress)
    }

    static func checkWidth(_ v: ControlVector, _ input: ModelInput) throws {
        guard v.width == input.config.hiddenSize else {
            throw VaneError("direction width \(v.width) does not match \(input.url.lastPathComponent)'s hidden size \(input.config.hiddenSize)",
                             hint: "the vector was made for a different model")
        }
    }

    static func provenance(_ input: ModelInput, _ direction: Direction, recipe: String, layers: [Int],
                           command: String) throws -> [String: String] {
        [
            "edit.recipe": recipe,
            "edit.source": input.url.lastPathComponent,
            "edit.source_sha256": try ModelIdentity(files: input.files).sha256(),
            "edit.direction": direction.url.lastPathComponent,
            "edit.direction_sha256": direction.sha256,
            "edit.hook": direction.vector.hook.rawValue,
            "edit.layers": layers.map(String.init).joined(separator: ","),
            "edit.command": command,
        ]
    }
}

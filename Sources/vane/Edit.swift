import ArgumentParser
import Foundation
import VaneRecipes
import VaneActivations
import VaneBake
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneSteer

struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bake a direction into the weights: ThinkEdit heads, directional ablation, additive bias.",
        discussion: """
            Edited tensors are computed in f32 from the dequantized source and written as --dtype (F32 by default, \
            so that the baked model equals the hooked one); every other tensor is copied byte for byte. The output \
            records vane.edit.* provenance (`vane inspect` shows it).
            """,
        subcommands: [HeadsEdit.self, Ablate.self, Add.self,
                      AblateExperts.self])

    struct HeadsEdit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "heads", abstract: "W_O[:, h] ← (I − v vᵀ) W_O[:, h], v = −d̂_L, for each chosen head.")

        @Argument(help: "The model (.gguf, HF folder, or `smollm2`).") var model: String
        @Option(help: "The control vector giving d_L per layer.") var direction: String
        @Option(help: "Edit the K best-scoring heads (needs --scores or --data).") var topK: Int?
        @Option(help: "Edit these heads: LAYER.HEAD,… e.g. 12.3,14.0.") var heads: String?
        @Option(help: "Head scores as `vane heads --json` writes them.") var scores: String?
        @Option(help: "Score heads on this store (.h5) or JSONL (label-0 examples) for --top-k.") var data: String?
        @OptionGroup var out: ModelOutputOptions

        func validate() throws {
            guard (topK == nil) != (heads == nil) else { throw ValidationError("give exactly one of --top-k and --heads") }
            if topK != nil && (scores == nil) == (data == nil) { throw ValidationError("--top-k needs exactly one of --scores and --data") }
        }

        func run() throws {
            let input = try ModelInput(url: DefaultModel.resolve(model))
            let dir = try DirectionEdits.Direction(contentsOf: URL(fileURLWithPath: direction))
            let progress = ProgressLine()
            var chosen: [(layer: Int, head: Int)]
            if let heads {
                chosen = try DirectionEdits.parseHeads(heads)
            } else {
                let all: [HeadScore]
                if let scores {
                    all = try HeadAttribution.read(json: URL(fileURLWithPath: scores))
                } else if let data, data.hasSuffix(".h5") {
                    all = try HeadAttribution.scores(store: try ActivationStore(url: URL(fileURLWithPath: data)), directions: dir.vector.directions)
                } else {
                    all = try HeadAttribution.scores(model: try LanguageModel(url: input.url), data: URL(fileURLWithPath: data ?? ""),
                                                     span: .completion, directions: dir.vector.directions,
                                                     progress: progress.report)
                }
                chosen = try HeadAttribution.top(topK ?? 0, of: all).map { ($0.layer, $0.head) }
            }
            if let headNote = Bake.headEditNote(input) { note(headNote) }
            try DirectionEdits.heads(input, direction: dir, heads: chosen, to: out.options(), command: commandLine,
                                     progress: progress.report)
            wrote(out.output, "\(plural(chosen.count, "head")) edited: \(chosen.map { "\($0.layer).\($0.head)" }.joined(separator: ","))")
        }
    }

    struct Ablate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "W ← (I − r̂ r̂ᵀ) W for each targeted residual-stream writer (directional ablation, abliteration).")

        @Argument(help: "The model (.gguf, HF folder, or `smollm2`).") var model: String
        @Option(help: "The control vector giving r per layer.") var direction: String
        @Option(help: "Layers to edit, e.g. 8-20, from 1 (default: every layer the vector has).") var layers: String?
        @Option(help: "Writers to edit: o_proj, down_proj, embed, comma-separated.") var targets = "o_proj,down_proj"
        @Option(help: "Use this layer's direction everywhere (one global direction).") var directionLayer: Int?
        @Flag(help: "Rescale each edited row to its original norm (heretic's norm-preserving variant).") var normPreserve = false
        @OptionGroup var out: ModelOutputOptions

        func run() throws {
            let input = try ModelInput(url: DefaultModel.resolve(model))
            try DirectionEdits.ablate(input, direction: try DirectionEdits.Direction(contentsOf: URL(fileURLWithPath: direction)),
                                      layers: try layers.map(LayerList.parse), targets: try Bake.Writer.parse(list: targets),
                                      directionLayer: directionLayer, normPreserve: normPreserve, to: out.options(),
                                      command: commandLine, progress: ProgressLine().report)
            wrote(out.output, "\(targets) ablated")
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bake `add` steering: α·v_L added to block L's output as an o_proj / down_proj bias (GGUF).")

        @Argument(help: "The model (.gguf, HF folder, or `smollm2`).") var model: String
        @Option(help: "The control vector, VECTOR.gguf[:SCALE].") var vector: String
        @Option(help: "Layers, e.g. 8-20, from 1 (default: every layer the vector has).") var layers: String?
        @OptionGroup var out: ModelOutputOptions

        func run() throws {
            let input = try ModelInput(url: DefaultModel.resolve(model))
            let scaled = try ScaledVectorPath(parsing: vector)
            try DirectionEdits.add(input, direction: try DirectionEdits.Direction(contentsOf: URL(fileURLWithPath: scaled.path)),
                                   scale: scaled.scale, layers: try layers.map(LayerList.parse), to: out.options(),
                                   command: commandLine, progress: ProgressLine().report)
            wrote(out.output, "\(scaled.scale) × \(scaled.path) added as biases")
        }
    }
}

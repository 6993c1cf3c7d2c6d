import ArgumentParser
import Foundation
import VaneActivations
import VaneSteer

struct Vector: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Control vectors: compute from a store, score, export, combine.",
        subcommands: [Compute.self, Score.self, Export.self, Combine.self, Condition.self])

    struct Compute: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compute a control vector from an activation store's labelled or paired examples.")

        @Argument(help: "An activation store (vane extract).") var store: String
        @Option(help: "mean-diff, pca-diff, pca-center, pca-uncentered or probe.") var method: String
        @Option(help: "Layers, e.g. 8-20, from 1 (default: every stored layer but 0, which no vector holds).") var layers: String?
        @Option(help: "resid_post, resid_mid, attn_out or mlp_out (default: resid_post when stored).") var hook: String?
        @Flag(help: "Make every direction a unit vector.") var normalize = false
        @Option(name: .shortAndLong, help: "The vector file to write (.gguf).") var output: String

        func validate() throws {
            _ = try choice(DirectionMethod.self, method, "--method")
            if let layers { _ = try LayerList.parse(layers) }
            try checkOutput(output, inputs: [store], extensions: ["gguf"], what: "a control vector (GGUF)")
        }

        func run() throws {
            let method = DirectionMethod(rawValue: method) ?? .meanDiff
            let builder = VectorBuilder(store: try ActivationStore(url: URL(fileURLWithPath: store)))
            let vector = try builder.compute(method, hook: try hook.map(SteerHook.init(parsing:)),
                                             layers: try layers.map(LayerList.parse), normalize: normalize,
                                             commandLine: commandLine, progress: ProgressLine().report)
            try vector.write(to: URL(fileURLWithPath: output))
            print(VectorBuilder.table(vector.scores), terminator: "")
            wrote(output, "\(method) over \(plural(builder.store.count, "example")) at \(vector.hook), \(plural(vector.layers.count, "layer")) \(LayerList.describe(vector.layers))")
        }
    }

    struct Condition: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find a condition (CAST) on a labelled store: a direction per layer, and the layer, cosine threshold and comparator that best separate label 1 (the condition holds) from label 0, by F1.")

        @Argument(help: "An activation store (vane extract) of prompts labelled 1 (condition holds) or 0.") var store: String
        @Option(help: "mean-diff, pca-diff, pca-center, pca-uncentered or probe.") var method = "mean-diff"
        @Option(help: "Layers to search, e.g. 4-20, from 1 (default: every stored layer but 0).") var layers: String?
        @Option(help: "resid_post, resid_mid, attn_out or mlp_out (default: resid_post when stored).") var hook: String?
        @Option(help: "Also write F1 against layer as an SVG plot here.") var plot: String?
        @Option(name: .shortAndLong, help: "The condition vector file to write (.gguf), for --steer-if.") var output: String

        func validate() throws {
            _ = try choice(DirectionMethod.self, method, "--method")
            if let layers { _ = try LayerList.parse(layers) }
            try checkOutput(output, inputs: [store], extensions: ["gguf"], what: "a condition vector (GGUF)")
            if let plot { try checkOutput(plot, inputs: [store], extensions: ["svg"], what: "an SVG plot") }
        }

        func run() throws {
            let method = DirectionMethod(rawValue: method) ?? .meanDiff
            let builder = VectorBuilder(store: try ActivationStore(url: URL(fileURLWithPath: store)))
            let (vector, results) = try builder.condition(method, hook: try hook.map(SteerHook.init(parsing:)),
                                                          layers: try layers.map(LayerList.parse), commandLine: commandLine)
            try vector.write(to: URL(fileURLWithPath: output))
            print(ConditionSearch.table(results), terminator: "")
            let c = vector.condition!
            if let plot {
                try ConditionSearch.plot(results, title: URL(fileURLWithPath: output).lastPathComponent).write(to: URL(fileURLWithPath: plot))
                wrote(plot, "F1 of \(plural(results.count, "layer")), plotted")
            }
            wrote(output, "condition \(c.description), F1 \(String(format: "%.3f", c.f1 ?? 0)) over \(plural(builder.store.count, "example"))")
        }
    }

    struct Score: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score a vector on a store's labelled examples: per-layer norm, AUROC, Cohen's d, and an SVG plot.")

        @Argument(help: "An activation store.") var store: String
        @Argument(help: "A control vector (.gguf).") var vector: String
        @Option(help: "Layers to score, e.g. 8-20 (default: every layer both the store and the vector have).") var layers: String?
        @Option(help: "Also write the scores against layer as an SVG plot here.") var plot: String?

        func validate() throws {
            if let layers { _ = try LayerList.parse(layers) }
            if let plot { try checkOutput(plot, inputs: [store, vector], extensions: ["svg"], what: "an SVG plot") }
        }

        func run() throws {
            let v = try ControlVector(contentsOf: URL(fileURLWithPath: vector))
            let builder = VectorBuilder(store: try ActivationStore(url: URL(fileURLWithPath: store)))
            let scores = try builder.score(v, layers: try layers.map(LayerList.parse))
            print(VectorBuilder.table(scores), terminator: "")
            let scored = scores.map(\.layer)
            if layers == nil && scored.count < v.layers.count {
                note("[scored the \(plural(scored.count, "layer")) the store shares with the vector (\(LayerList.describe(scored))); "
                    + "the vector also has \(LayerList.describe(v.layers.filter { !scored.contains($0) }))]")
            }
            guard let plot else { return }
            try VectorBuilder.plot(scores, title: URL(fileURLWithPath: vector).lastPathComponent).write(to: URL(fileURLWithPath: plot))
            wrote(plot, "scores of \(plural(scores.count, "layer")), plotted")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a vector as safetensors, HDF5 or a folder of .npy files.")

        @Argument(help: "A control vector (.gguf).") var vector: String
        @Option(help: "safetensors, h5 or npy-dir.") var format: String
        @Option(name: .shortAndLong, help: "The file (or folder, for npy-dir) to write.") var output: String

        func validate() throws {
            let kind = try choice(VectorExportFormat.self, format, "--format")
            let extensions = ["safetensors": ["safetensors"], "h5": ["h5", "hdf5"], "npy-dir": []][format] ?? []
            try checkOutput(output, inputs: [vector], extensions: extensions, what: "a \(format) export",
                            writes: kind == .npyDir ? .vectorFolder : nil)
        }

        func run() throws {
            let v = try ControlVector(contentsOf: URL(fileURLWithPath: vector))
            try v.export(to: URL(fileURLWithPath: output), format: VectorExportFormat(rawValue: format) ?? .safetensors)
            wrote(output, "\(format) export of \(plural(v.layers.count, "layer")) \(LayerList.describe(v.layers)) × \(v.width) at \(v.hook)")
        }
    }

    struct Combine: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Σ scale·vector, layer by layer: a.gguf:0.5 b.gguf:-1 -o c.gguf.")

        @Argument(parsing: .allUnrecognized, help: "Vectors with scales, VECTOR.gguf[:SCALE].") var terms: [String] = []
        @Option(name: .shortAndLong, help: "The vector file to write.") var output: String
        @Flag(help: "Combine vectors made for different models.") var force = false

        func validate() throws {
            guard !terms.isEmpty else { throw ValidationError("give at least one VECTOR.gguf[:SCALE]") }
            let paths = try terms.map { try ScaledVectorPath(parsing: $0).path }
            try checkOutput(output, inputs: paths, extensions: ["gguf"], what: "a control vector (GGUF)")
        }

        func run() throws {
            let parsed = try terms.map(ScaledVectorPath.init(parsing:))
            var v = try ControlVector.combine(parsed.map { (try ControlVector(contentsOf: URL(fileURLWithPath: $0.path)), $0.scale) },
                                              force: force)
            v.command = commandLine
            try v.write(to: URL(fileURLWithPath: output))
            wrote(output, "Σ of \(plural(parsed.count, "vector")), \(plural(v.layers.count, "layer")) \(LayerList.describe(v.layers))")
        }
    }
}

import ArgumentParser
import Foundation
import VaneEngine
import VaneModelIO
import VaneRecipes
import VaneSteer

extension Recipe {
    struct SealRecipeCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seal",
            abstract: "SEAL's calibration direction: reflection and transition thoughts minus execution thoughts, at thought boundaries.",
            discussion: """
            Generates a trace per question (and sample), splits it into thoughts at --separator, labels each by \
            keywords (transition, else reflection, else execution), reads resid_post at the token in which each \
            separator ends, and writes mean(reflection + transition) − mean(execution) per layer. Beside VEC.gguf: \
            the store (.h5), every thought with its label (.thoughts.jsonl) and a manifest (.md). Steer at the same \
            tokens with --steer VEC.gguf:-S --steer-positions 'at:\\n\\n' (negative: toward execution, as SEAL).
            """)

        @OptionGroup var model: ModelOptions
        @Argument(help: "JSON Lines questions: {\"question\": …} (an \"answer\" is kept but not needed).") var questions: String
        @Option(name: .shortAndLong, help: "The vector to write (.gguf).") var output: String
        @Option(help: "Traces per question.") var samples = 1
        @Option(help: "Sampling temperature (0: greedy).") var temperature: Float = 0
        @Option(help: "Tokens per trace at most.") var maxTokens = 512
        @Option(help: "Layers, from 1 (default: 1 to the last).") var layers: String?
        @Option(help: "Thought separator (\\n, \\t, \\\\ and \\, are escapes, as in segment triggers).") var separator = "\\n\\n"
        @Option(help: "JSON {\"reflection\": [...], \"transition\": [...]} replacing SEAL's keyword lists.") var keywords: String?
        @Option(help: "Random seed (with --temperature > 0).") var seed: UInt64 = 0
        @Option(help: "Traces decoded together.") var batch = 16
        @OptionGroup var threads: ThreadOptions

        func validate() throws {
            guard samples >= 1, maxTokens >= 1, batch >= 1 else { throw ValidationError("--samples, --max-tokens and --batch must be at least 1") }
            let base = URL(fileURLWithPath: output).deletingPathExtension()
            try checkOutput(output, inputs: [model.model, questions], extensions: ["gguf"], what: "a control vector (GGUF)")
            try checkOutput(base.appendingPathExtension("h5").path, inputs: [model.model, questions], extensions: ["h5"],
                            what: "the recipe's activation store")
        }

        func run() throws {
            threads.apply()
            let m = try model.loadForSampling()
            var recipe = SealRecipe(model: m)
            (recipe.samples, recipe.temperature, recipe.maxTokens, recipe.seed, recipe.batchSize) = (samples, temperature, maxTokens, seed, batch)
            if let layers { recipe.layers = try LayerList.parse(layers) }
            recipe.separator = try SegmentTrigger.unescape(Substring(separator), in: "--separator \(separator)")
            if let keywords {
                do {
                    recipe.keywords = try JSONDecoder().decode(SealRecipe.Keywords.self, from: Data(contentsOf: URL(fileURLWithPath: keywords)))
                } catch {
                    throw VaneError("--keywords \(keywords): \(error)", hint: "give {\"reflection\": [\"wait\", …], \"transition\": [\"alternatively\", …]}")
                }
            }
            let out = URL(fileURLWithPath: output)
            let store = out.deletingPathExtension().appendingPathExtension("h5")
            let (vector, report) = try recipe.run(try PromptSet(contentsOf: URL(fileURLWithPath: questions)), storeURL: store,
                                                  commandLine: commandLine, inputURL: URL(fileURLWithPath: questions),
                                                  progress: ProgressLine().report)
            try vector.write(to: out)
            let table = VectorBuilder.table(vector.scores)
            print(table, terminator: "")
            let counts = SealRecipe.Thought.allCases.map { "\($0.rawValue) \(report.counts[$0] ?? 0)" }.joined(separator: ", ")
            let manifest = out.deletingPathExtension().appendingPathExtension("md")
            let text = """
                # \(out.lastPathComponent): SEAL calibration direction

                mean(reflection + transition) − mean(execution) of resid_post at thought boundaries (the token in \
                which each separator \(String(reflecting: recipe.separator)) ends), layers \(vector.layers.first ?? 0)–\(vector.layers.last ?? 0).

                - model: \(m.files.url.lastPathComponent)
                - questions: \(questions) (\(report.traces) traces: \(samples) per question, temperature \(temperature), ≤ \(maxTokens) tokens)
                - thoughts with a boundary: \(counts)
                - keywords: reflection \(recipe.keywords.reflection), transition \(recipe.keywords.transition)
                - command: `\(commandLine)`

                Steer with a negative scale at the boundaries to favour execution, as SEAL does:
                `vane generate MODEL --chat … --steer \(out.lastPathComponent):-S --steer-positions 'at:\\n\\n'`.

                Per-layer scores of the direction on its own store (AUROC, Cohen's d):

                ```
                \(table)```

                """
            try AtomicFile.write(manifest) { try $0.write(contentsOf: Data(text.utf8)) }
            wrote(SealRecipe.thoughtsURL(forStore: store).path, "thoughts: \(counts)")
            wrote(store.path, "activation store of the boundaries")
            wrote(manifest.path, "manifest")
            wrote(output, String(format: "mean-diff at %@, %.0f s", plural(vector.layers.count, "layer"), report.seconds))
        }
    }
}

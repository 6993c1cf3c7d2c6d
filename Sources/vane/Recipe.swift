import ArgumentParser
import Foundation
import VaneRecipes
import VaneBake
import VaneEdit
import VaneModelIO
import VaneSteer

struct Recipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ready-made edits.", subcommands: [ReasoningVector.self, Efficiency.self, ThinkEditRecipe.self, ReasoningLengths.self,
                                                     RiceRecipe.self, SealRecipeCommand.self])

    struct ReasoningVector: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reasoning-vector",
            abstract: "OUT = TARGET + α·(GRPO − SFT) in one pass, with the per-tensor report of GRPO − SFT.")

        @Option(help: "The RL-trained model (θ_GRPO).") var grpo: String
        @Option(help: "The model it was trained from (θ_SFT).") var sft: String
        @Option(help: "The model the vector is added to (e.g. an instruct model).") var target: String
        @Option(parsing: .unconditional, help: "Scale α (may be negative: --scale -1).") var scale: Float = 1
        @Option(parsing: .upToNextOption, help: "Only tensors matching these patterns.") var include: [String] = []
        @Option(parsing: .upToNextOption, help: "Leave tensors matching these patterns as in TARGET.") var exclude: [String] = []
        @Flag(help: "Print the per-tensor table of GRPO − SFT.") var verbose = false
        @Flag(help: "Print the report as JSON.") var json = false
        @OptionGroup var out: ModelOutputOptions

        func run() throws {
            let open = { (s: String) in try ModelInput(url: DefaultModel.resolve(s)) }
            let (report, written) = try VaneRecipes.ReasoningVector.run(
                grpo: open(grpo), sft: open(sft), target: open(target), scale: scale,
                filter: TensorFilter(include: include, exclude: exclude), to: out.options(), progress: ProgressLine().report)
            try printReport(report, json: json, verbose: verbose)
            wrote(out.output, "target + \(scale)·(GRPO − SFT): \(written)")
        }
    }

    struct Efficiency: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The efficiency direction: the model's shortest vs longest correct answers, mean-diff per layer.")

        @OptionGroup var model: ModelOptions
        @Argument(help: "JSON Lines questions with numeric answers: {\"question\": …, \"answer\": N}.") var questions: String
        @Option(name: .shortAndLong, help: "The vector to write (.gguf); the store goes beside it as .h5.") var output: String
        @Option(help: "Responses sampled per question.") var samples = 6
        @Option(help: "Sampling temperature.") var temperature: Float = 0.8
        @Option(help: "Tokens per response at most.") var maxTokens = 192
        @Option(help: "Layers, from 1 (default: 1 to the last).") var layers: String?
        @Option(help: "Random seed.") var seed: UInt64 = 0
        @Flag(help: "Continue an interrupted run from STORE.partial and its samples log (same settings).") var resume = false
        @Option(help: "Responses decoded together in one forward call (samples do not depend on it with --exact).")
        var batch = 16
        @OptionGroup var threads: ThreadOptions

        func validate() throws {
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
            let store = URL(fileURLWithPath: output).deletingPathExtension().appendingPathExtension("h5").path
            try checkOutput(output, inputs: [model.model, questions], extensions: ["gguf"], what: "a control vector (GGUF)")
            try checkOutput(store, inputs: [model.model, questions], extensions: ["h5"], what: "the recipe's activation store")
        }

        func run() throws {
            threads.apply()
            let m = try model.loadForSampling()
            var recipe = EfficiencyRecipe(model: m)
            (recipe.samples, recipe.temperature, recipe.maxTokens, recipe.seed) = (samples, temperature, maxTokens, seed)
            recipe.batchSize = batch
            if let layers { recipe.layers = try LayerList.parse(layers) }
            let out = URL(fileURLWithPath: output)
            let store = out.deletingPathExtension().appendingPathExtension("h5")
            let (vector, r) = try recipe.run(try PromptSet(contentsOf: URL(fileURLWithPath: questions)), storeURL: store,
                                             resume: resume, commandLine: commandLine, inputURL: URL(fileURLWithPath: questions), log: note,
                                             progress: ProgressLine().report)
            try vector.write(to: out)
            print(VectorBuilder.table(vector.scores), terminator: "")
            let resumed = r.resumedQuestions > 0 ? " (resumed after \(r.resumedQuestions))" : ""
            let samples = EfficiencyRecipe.samplesURL(forStore: store).path
            wrote(samples, "\(r.correctSamples)/\(plural(r.totalSamples, "sample")) correct over \(plural(r.questions, "question"))\(resumed)")
            wrote(store.path, "activation store of \(plural(r.pairs, "pair"))")
            wrote(output, String(format: "mean-diff of %@ (short %.1f vs long %.1f tokens) at %@, %.0f s",
                                 plural(r.pairs, "pair"), r.meanShortLength, r.meanLongLength,
                                 plural(vector.layers.count, "layer"), r.seconds))
        }
    }
}

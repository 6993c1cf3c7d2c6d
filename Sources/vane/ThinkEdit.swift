import ArgumentParser
import Foundation
import VaneRecipes
import VaneBake
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneSteer

extension Recipe {
    struct ThinkEditRecipe: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "thinkedit",
            abstract: "ThinkEdit: find the heads that push toward short reasoning and project the length direction out of them.",
            discussion: """
                Steps (each also on its own): responses and the long/short split (`recipe reasoning-lengths`); \
                `vane extract` of hook_resid_mid (--site mlp: hook_resid_post) and attn.hook_result averaged over \
                the reasoning tokens; `vane vector compute --method mean-diff` (d_L = mean(long) − mean(short)); \
                `vane heads`; `vane edit heads`. Beside OUT: STEM.responses.jsonl, STEM.h5, STEM.direction.gguf, \
                STEM.heads.json, STEM.heads.svg, and with --eval STEM.eval.json and STEM.eval.svg.
                """)

        @OptionGroup var model: ModelOptions
        @Argument(help: "JSON Lines questions: {\"question\": …, \"answer\"?: N}.") var questions: String
        @OptionGroup var split: ReasoningSplitOptions
        @Option(help: "attn (hook_resid_mid) or mlp (hook_resid_post): where the direction is measured.") var site = "attn"
        @Option(help: "Heads to edit (default: 4% of the heads scored).") var topK: Int?
        @Option(help: "Held-out questions: compare the edited model with the original on them (greedy).") var eval: String?
        @OptionGroup var out: ModelOutputOptions
        @OptionGroup var threads: ThreadOptions

        func validate() throws {
            _ = try choice(ThinkEdit.Site.self, site, "--site")
        }

        func run() throws {
            threads.apply()
            let m = try model.loadForSampling()
            var recipe = ThinkEdit(model: m)
            try split.configure(&recipe)
            (recipe.site, recipe.topK) = (ThinkEdit.Site(rawValue: site) ?? .attn, topK)
            note("[sampling: \(recipe.samplingSource)]")
            let q = URL(fileURLWithPath: questions)
            let progress = ProgressLine()
            let r = try recipe.run(try PromptSet(contentsOf: q), questionsURL: q, output: try out.options(), commandLine: commandLine,
                                   log: note, progress: progress.report)
            print(HeadAttribution.table(r.heads), terminator: "")
            let stem = URL(fileURLWithPath: out.output).deletingPathExtension().path
            note("[beside it: " + ["responses.jsonl", "h5", "direction.gguf", "heads.json", "heads.svg"]
                .map { "\(stem).\($0)" }.joined(separator: ", ") + "]")
            wrote(out.output, String(format: "%@, long > %.1f, short < %.1f tokens; %@ edited in %.0f s",
                                     plural(r.samples.count, "response"), r.longCut, r.shortCut,
                                     plural(r.heads.count, "head"), r.seconds))
            guard let eval else { return }
            let edited = try samplingModel(out.output)
            let report = try EditComparison(original: m, edited: edited, maxTokens: split.maxTokens, batchSize: split.batch)
                .run(try PromptSet(contentsOf: URL(fileURLWithPath: eval)), shortBelow: .tokens(r.shortCut), progress: progress.report)
            print(EditComparison.table(report), terminator: "")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let json = try encoder.encode(report)
            // Vane's own atomic write: Foundation's `.atomic` leaves an empty folder in /tmp on Linux.
            try AtomicFile.write(URL(fileURLWithPath: stem + ".eval.json")) { try $0.write(contentsOf: json) }
            try EditComparison.plot(report, title: "ThinkEdit").write(to: URL(fileURLWithPath: stem + ".eval.svg"))
            wrote(stem + ".eval.json", "edited against original on \(plural(report.questions, "held-out question"))")
            wrote(stem + ".eval.svg", "reasoning lengths, edited and original")
        }
    }

    struct ReasoningLengths: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reasoning-lengths",
            abstract: "Generate responses, measure reasoning length, label long (1) / short (0) / neither (−1) as JSONL.")

        @OptionGroup var model: ModelOptions
        @Argument(help: "JSON Lines questions: {\"question\": …, \"answer\"?: N}.") var questions: String
        @OptionGroup var split: ReasoningSplitOptions
        @Option(name: .shortAndLong, help: "The responses file to write (.jsonl), ready for `vane extract`.") var output: String
        @OptionGroup var threads: ThreadOptions

        func validate() throws {
            try checkOutput(output, inputs: [model.model, questions], extensions: ["jsonl"], what: "a JSON Lines responses file")
        }

        func run() throws {
            threads.apply()
            let m = try model.loadForSampling()
            var recipe = ThinkEdit(model: m)
            try split.configure(&recipe)
            note("[sampling: \(recipe.samplingSource)]")
            let r = try recipe.generate(try PromptSet(contentsOf: URL(fileURLWithPath: questions)), log: note,
                                        progress: ProgressLine().report)
            try ThinkEdit.writeResponses(r.samples, tagged: r.tagged, to: URL(fileURLWithPath: output))
            let span = r.tagged ? "--span-start '<think>' --span-end '</think>'" : "--span completion"
            note("[next: vane extract MODEL \(output) --hooks 'blocks.*.hook_resid_mid' 'blocks.*.attn.hook_result' --positions mean \(span) -o STORE.h5]")
            wrote(output, "\(plural(r.samples.count, "response")), labelled long 1 / short 0 / neither −1")
        }
    }
}

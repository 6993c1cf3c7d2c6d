import ArgumentParser
import Foundation
import VaneEngine
import VaneModelIO
import VaneRecipes

extension Recipe {
    struct RiceRecipe: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rice",
            abstract: "RICE: rank a mixture-of-experts model's experts by nPMI between being routed and marked tokens.",
            discussion: """
            Writes the ranked (block, expert) list as JSON and a block × expert nPMI heatmap (.svg beside it). Steer \
            the experts found with `vane generate --steer-experts 'L:E,E:FACTOR'` (hook), or ablate them in the \
            weights with `vane edit ablate-experts`. Blocks are numbered from 0, as in blocks.L.mlp.*.
            """)

        @OptionGroup var model: ModelOptions
        @Argument(help: "JSON Lines texts: {\"text\": \"…\"} per line (model outputs with their reasoning).") var data: String
        @Option(help: "Marker tokens, comma-separated (matched as whole tokens, trimmed and lowercased).") var tokens: String?
        @Option(help: "Mark the tokens between this text and --span-end instead (e.g. '<think>'); every such span of a text counts.")
        var spanStart: String?
        @Option(help: "The text that closes a span opened by --span-start (e.g. '</think>').") var spanEnd: String?
        @Option(name: .shortAndLong, help: "The ranked experts (.json); the heatmap goes beside it as .svg.") var output: String
        @Option(help: "Experts to print.") var top = 10

        func validate() throws {
            guard (spanStart == nil) == (spanEnd == nil) else { throw ValidationError("give --span-start and --span-end together") }
            guard (tokens == nil) != (spanStart == nil) else {
                throw ValidationError("give either --tokens or --span-start/--span-end: the marked tokens are a token list or a span")
            }
            try checkOutput(output, inputs: [model.model, data], extensions: ["json"], what: "the ranked experts (JSON)")
        }

        func run() throws {
            let m = try model.load()
            let texts = try Rice.texts(contentsOf: URL(fileURLWithPath: data))
            let marks: Rice.Marks = spanStart.map { .span(start: $0, end: spanEnd ?? "") }
                ?? .tokens((tokens ?? "").split(separator: ",").map(String.init))
            let result = try Rice.run(m, texts: texts, marks: marks)
            let url = URL(fileURLWithPath: output)
            try Rice.write(result, to: url)
            let svg = url.deletingPathExtension().appendingPathExtension("svg")
            try Rice.heatmap(result).write(to: svg)
            let marked = result.span ? "inside \(result.markers[0]) … \(result.markers[1])" : result.markers.joined(separator: ", ")
            print("\(result.tokens) tokens, \(result.markedTokens) marked (\(marked))")
            print("block  expert    nPMI  routed  marked&routed")
            for s in result.ranked.prefix(top) {
                print(String(format: "%5d  %6d  %6.3f  %6d  %13d", s.layer, s.expert, s.npmi, s.routed, s.markedRouted))
            }
            wrote(output, "\(result.ranked.count) experts ranked")
            wrote(svg.path, "nPMI heatmap")
        }
    }
}

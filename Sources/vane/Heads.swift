import ArgumentParser
import Foundation
import VaneRecipes
import VaneActivations
import VaneBake
import VaneSteer

struct Heads: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-head attribution: score(L, h) = mean over span tokens of attn.hook_result[L, h] · (−d̂_L).",
        discussion: """
            DATA is an activation store (.h5) holding blocks.*.attn.hook_result (e.g. `vane extract --hooks \
            'blocks.*.attn.hook_result' --positions mean`), or a JSONL file in the forms `vane extract` reads, \
            run on the fly. Only examples with --label (0: the short side of a ThinkEdit split) are scored. \
            Prints the ranked table, or JSON with --json, and with --svg writes an SVG heatmap of layers × heads.
            """)

    @OptionGroup var model: ModelOptions
    @Argument(help: "An activation store (.h5) or a JSONL dataset.") var data: String
    @Option(help: "The control vector whose per-layer directions d_L are scored against.") var direction: String
    @Option(parsing: .unconditional, help: "Score the examples with this label (−1: the unlabelled ones).") var label = 0
    @Option(help: "For JSONL data: auto, completion, input or prompt (the tokens averaged over).") var span = "completion"
    @Option(help: "For JSONL data: leave input positions 0..<K out of the spans (default 1: the attention sink).")
    var skipFirst: Int?
    @Option(help: "Print this many rows (default: all).") var limit: Int?
    @Flag(help: "Print the ranked scores as JSON.") var json = false
    @Option(help: "Also write an SVG heatmap of the scores (layers × heads) here.") var svg: String?
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        guard SpanRule(span) != nil else { throw badValue("--span", span, "auto, input, prompt, completion") }
        guard (skipFirst ?? 0) >= 0 else { throw ValidationError("--skip-first \(skipFirst ?? 0): give 0 or more positions") }
        if let svg { try checkOutput(svg, inputs: [model.model, data, direction], extensions: ["svg"], what: "an SVG heatmap") }
    }

    func run() throws {
        threads.apply()
        let vector = try ControlVector(contentsOf: URL(fileURLWithPath: direction))
        let url = URL(fileURLWithPath: data)
        let scores: [HeadScore]
        if url.pathExtension == "h5" {
            scores = try HeadAttribution.scores(store: try ActivationStore(url: url), directions: vector.directions, label: label)
        } else {
            scores = try HeadAttribution.scores(model: try model.load(), data: url, span: SpanRule(span) ?? .completion,
                                                skipFirst: skipFirst, directions: vector.directions, label: label, progress: ProgressLine().report)
        }
        print(json ? String(decoding: try HeadAttribution.json(scores), as: UTF8.self) : HeadAttribution.table(scores, limit: limit),
              terminator: json ? "\n" : "")
        let summary = "\(plural(scores.count, "head")) over \(plural(Set(scores.map(\.layer)).count, "layer")) scored"
        guard let svg else { return note("[\(summary)]") }
        try HeadAttribution.heatmap(scores, title: "head scores along −d̂ (\(url.lastPathComponent))").write(to: URL(fileURLWithPath: svg))
        wrote(svg, summary + ", heatmap")
    }
}

import ArgumentParser
import Foundation
import VaneActivations

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a JSONL dataset through the model and store hook activations in HDF5.",
        discussion: """
            DATA.jsonl holds one example per line: {"prompt": …}, {"messages": [...]} (chat template), \
            {"prompt"|"messages": …, "completion": …} (teacher forcing), or {"positive": …, "negative": …} \
            (a contrastive pair), each with an optional integer "label". The store is written to OUTPUT.partial \
            and renamed to OUTPUT when complete; a killed run keeps every flushed batch there, and --resume \
            continues it. With --shard K/N a run takes the K-th of N contiguous parts of the lines; \
            `vane store merge` joins the N stores into what one run writes (docs/scale-out.md). Layout: README, \
            "Activation store".
            """)

    @OptionGroup var model: ModelOptions
    @Argument(help: "JSONL input, one example per line.") var data: String
    @Option(parsing: .upToNextOption, help: "Hook names; `*` matches any layer (blocks.*.hook_resid_post).")
    var hooks: [String] = []
    @Option(help: "last, mean, all, or index:K (K-th token of the span; negative from its end).")
    var positions = "last"
    @Option(help: "auto (the completion if any, else the input), input, prompt, completion.") var span = "auto"
    @Option(parsing: .unconditional, help: "Start marker: take the tokens after it (with --span-end), e.g. '<think>'.")
    var spanStart: String?
    @Option(parsing: .unconditional, help: "End marker, e.g. '</think>'.") var spanEnd: String?
    @Option(help: "Leave input positions 0..<K out of every span (default: 1 with --positions mean, which the first token, the attention sink, would dominate; else 0).")
    var skipFirst: Int?
    @Option(help: "Examples per flush to disk.") var batch = 32
    @Flag(help: "Deflate-compress the datasets (level 4).") var compress = false
    @Flag(help: "Continue OUTPUT.partial from its last complete batch (same model and settings).") var resume = false
    @Flag(help: "Skip lines that do not parse, with a warning, instead of stopping.") var skipBad = false
    @Option(help: "Extract only part K of N of the example lines (contiguous, in file order; 1 ≤ K ≤ N), to join with `vane store merge`.")
    var shard: String?
    @Flag(help: "Also time a plain forward call of each example (no hooks, no file), interleaved, and report both speeds.")
    var compareForward = false
    @OptionGroup var threads: ThreadOptions
    @Option(name: .shortAndLong, help: "Output .h5 file.") var output: String

    func validate() throws {
        guard !hooks.isEmpty else { throw ValidationError("give --hooks, e.g. 'blocks.*.hook_resid_post'") }
        guard PositionMode(positions) != nil else { throw badValue("--positions", positions, "last, mean, all, index:K") }
        guard (spanStart == nil) == (spanEnd == nil) else { throw ValidationError("give --span-start and --span-end together") }
        guard SpanRule(span) != nil else { throw badValue("--span", span, "auto, input, prompt, completion") }
        guard (skipFirst ?? 0) >= 0 else { throw ValidationError("--skip-first \(skipFirst ?? 0): give 0 or more positions") }
        if let shard { _ = try Shard(shard) }
        guard (1...Extraction.maxBatch).contains(batch) else { throw ValidationError("--batch \(batch): give 1…\(Extraction.maxBatch)") }
        try checkOutput(output, inputs: [model.model, data], extensions: ["h5", "hdf5"], what: "an HDF5 activation store")
    }

    func run() throws {
        threads.apply()
        let m = try model.load()
        let rule = spanStart.map { SpanRule.markers(start: $0, end: spanEnd ?? "") } ?? SpanRule(span) ?? .auto
        let options = ExtractionOptions(hooks: hooks,
                                        positions: PositionMode(positions) ?? .last, span: rule, skipFirst: skipFirst, batch: batch,
                                        deflate: compress ? 4 : 0, skipBad: skipBad, commandLine: commandLine,
                                        shard: try shard.map(Shard.init))
        let extraction = try Extraction(model: m, data: URL(fileURLWithPath: data), options: options)
        for skipped in extraction.input.skipped.prefix(5) { note("warning: skipped \(skipped)") }
        if !extraction.input.skipped.isEmpty { note("warning: skipped \(plural(extraction.input.skipped.count, "bad line"))") }
        let summary = try extraction.run(output: URL(fileURLWithPath: output), resume: resume,
                                         compareForward: compareForward, progress: ProgressLine().report)
        let dominated = summary.dominance.filter(\.isSystematic)
        if let worst = dominated.max(by: { $0.share < $1.share }), let summaryLine = worst.summary {
            let skip = extraction.provenance.skipFirst
            note("warning: one position carries more than half of the mean in 10% or more of the examples at "
                + "\(plural(dominated.count, "hook point")); "
                + "the most: \(summaryLine)" + (worst.position == skip ? "; leave it out with --skip-first \(skip + 1)" : ""))
        }
        let resumed = summary.resumedAt > 0 ? " (resumed after \(summary.resumedAt))" : ""
        if let forward = summary.forwardTokensPerSecond, let seconds = summary.forwardSeconds {
            print(String(format: "plain forward over the same examples: %.2f s: %.1f tok/s; extraction/forward %.3f",
                         seconds, forward, summary.tokensPerSecond / forward))
        }
        wrote(output, plural(summary.examples, "example") + resumed + ", " + plural(summary.tokens, "token")
            + String(format: " in %.2f s: %.1f tok/s", summary.seconds, summary.tokensPerSecond))
    }
}

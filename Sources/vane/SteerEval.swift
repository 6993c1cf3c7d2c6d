import ArgumentParser
import Foundation
import VaneRecipes
import VaneBake
import VaneEngine
import VaneSteer

struct SteerEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steer-eval",
        abstract: "Measure steering over a sweep of scales: length, KL from unsteered, entropy, accuracy.")

    @OptionGroup var model: ModelOptions
    @Argument(help: "JSON Lines prompts: {\"question\"|\"prompt\": …, \"answer\"?: N, \"system\"?: …}.") var prompts: String
    @OptionGroup var steer: SteerOptions
    @Option(parsing: .unconditional, help: "Scales LO:HI:STEP multiplying every --steer scale, e.g. --sweep -8:8:2.")
    var sweep = "-8:8:2"
    @Option(help: "Tokens to generate at most per prompt.") var maxTokens = 128
    @Flag(help: "Encode prompts as plain text instead of with the chat template.") var plain = false
    @Flag(help: "Print the rows as JSON.") var json = false
    @Option(help: "Also write an SVG plot here: length and KL against scale (with --edited: both length distributions).")
    var plot: String?
    @Option(help: "Write each prompt's steered texts (JSON Lines) here.") var texts: String?
    @Option(help: "An edited model to compare with MODEL instead of steering (reasoning length, accuracy).") var edited: String?
    @Option(help: "With --edited: short = reasoning below this many tokens or percentile of MODEL's lengths.") var shortBelow = "30%"
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard !steer.steer.isEmpty || edited != nil else { throw ValidationError("give a vector with --steer VECTOR.gguf, or --edited MODEL") }
        _ = try scales()
        let inputs = [model.model, prompts] + (try steer.steer.map { try ScaledVectorPath(parsing: $0).path })
            + (edited.map { [$0] } ?? [])
        if let plot { try checkOutput(plot, inputs: inputs, extensions: ["svg"], what: "an SVG plot") }
        if let texts { try checkOutput(texts, inputs: inputs, extensions: ["jsonl"], what: "a JSON Lines file of texts") }
    }

    func scales() throws -> [Float] {
        let parts = sweep.split(separator: ":").map { Float($0) }
        guard parts.count == 3, let lo = parts[0], let hi = parts[1], let step = parts[2], step > 0, lo <= hi else {
            throw ValidationError("--sweep \(sweep): write LO:HI:STEP with numbers, LO ≤ HI and STEP > 0, e.g. -8:8:2")
        }
        return stride(from: lo, through: hi + step * 1e-4, by: step).map { ($0 / step).rounded() * step }
    }

    func run() throws {
        threads.apply()
        let m = try model.loadForSampling()
        let set = try PromptSet(contentsOf: URL(fileURLWithPath: prompts))
        if let edited { return try compareEdited(m, edited, set) }
        guard let steering = try steer.steering(for: m) else { throw ValidationError("give a vector with --steer VECTOR.gguf, or --edited MODEL") }
        let eval = SteerEval(model: m, steering: steering, maxTokens: maxTokens, plain: plain)
        var lines: [String] = []
        let start = Date()
        let rows = try eval.run(set, scales: try scales(), onPrompt: { i, outs in
            let obj: [String: Any] = ["prompt": set.items[i].text, "texts": outs]
            if let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) { lines.append(String(decoding: data, as: UTF8.self)) }
        }, progress: ProgressLine().report)
        if let texts { try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: texts), options: .atomic) }
        if let plot { try SteerEval.plot(rows, title: URL(fileURLWithPath: steer.steer[0]).lastPathComponent).write(to: URL(fileURLWithPath: plot)) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        } else {
            print(SteerEval.table(rows), terminator: "")
        }
        let work = "\(plural(set.items.count, "prompt")) × \(plural(rows.count, "scale"))"
        note(String(format: "[%@ in %.0f s; Spearman(scale, mean length) = %.3f]",
                    work, Date().timeIntervalSince(start), SteerEval.lengthSpearman(rows)))
        if let texts { wrote(texts, "steered texts of " + work) }
        if let plot { wrote(plot, "length and KL against scale") }
    }

    /// The edited model against MODEL: reasoning-length distribution, accuracy overall and on originally short cases.
    func compareEdited(_ m: LanguageModel, _ path: String, _ set: PromptSet) throws {
        let e = try samplingModel(path)
        let report = try EditComparison(original: m, edited: e, maxTokens: maxTokens, plain: plain)
            .run(set, shortBelow: try LengthThreshold(parsing: shortBelow), progress: ProgressLine().report)
        if let plot { try EditComparison.plot(report, title: URL(fileURLWithPath: path).lastPathComponent).write(to: URL(fileURLWithPath: plot)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(json ? String(decoding: try encoder.encode(report), as: UTF8.self) : EditComparison.table(report), terminator: json ? "\n" : "")
        if let plot { wrote(plot, "reasoning lengths, edited and original") }
    }
}

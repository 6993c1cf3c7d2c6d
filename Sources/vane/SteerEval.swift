import ArgumentParser
import Foundation
import VaneRecipes
import VaneBake
import VaneEngine
import VaneSteer
import VaneModelIO

struct SteerEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steer-eval",
        abstract: "Measure steering over a sweep of scales: length, KL from unsteered, entropy, accuracy, projection, regex matches.")

    @OptionGroup var model: ModelOptions
    @Argument(help: "JSON Lines prompts: {\"question\"|\"prompt\": …, \"answer\"?: N, \"system\"?: …}.") var prompts: String
    @OptionGroup var steer: SteerOptions
    @OptionGroup var thinking: ThinkingOptions
    @Option(parsing: .unconditional, help: "Scales LO:HI:STEP multiplying every --steer scale, e.g. --sweep -0.2:0.2:0.05 (default: fitted to the vectors' size; README, \"Measuring: steer-eval\").")
    var sweep: String?
    @Option(help: "Tokens to generate at most per prompt.") var maxTokens = 128
    @Flag(help: "Encode prompts as plain text instead of with the chat template.") var plain = false
    @Flag(help: "Print the rows and the Spearman correlation of scale and mean length as JSON (keys sorted).") var json = false
    @Option(help: "Also write an SVG plot here: length and KL against scale (with --edited: both length distributions).")
    var plot: String?
    @Option(help: "Write every steered text (JSON Lines: prompt_index, scale, text, …) here.") var texts: String?
    @Option(help: "Report the mean projection of the generated tokens' activations on VECTOR.gguf[@LAYER] (default layer: its best AUROC, else its middle one).")
    var project: String?
    @Option(help: "Report the share of steered texts matching this regular expression (ICU syntax), and matches per text.")
    var scoreRegex: String?
    @Option(help: "An edited model to compare with MODEL instead of steering (reasoning length, accuracy).") var edited: String?
    @Option(help: "With --edited: short = reasoning below this many tokens or percentile of MODEL's lengths.") var shortBelow = "30%"
    @Option(help: "Generations decoded together in one forward call (results do not depend on it).")
    var batch = 16
    @Flag(help: "Decode and score in f32 over dequantized weights instead of 8-bit activation products (slower; KL and entropy without the fast products' noise).")
    var exact = false
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard !steer.steer.isEmpty || edited != nil else { throw ValidationError("give a vector with --steer VECTOR.gguf, or --edited MODEL") }
        do {
            _ = try sweep.map(Sweep.init(parsing:))
            _ = try regex()
        } catch let e as VaneError {
            throw ValidationError(e.description)
        }
        let inputs = [model.model, prompts] + (try steer.paths()) + (edited.map { [$0] } ?? []) + (project.map { [projectPath($0).path] } ?? [])
        if let plot { try checkOutput(plot, inputs: inputs, extensions: ["svg"], what: "an SVG plot") }
        if let texts { try checkOutput(texts, inputs: inputs, extensions: ["jsonl"], what: "a JSON Lines file of texts") }
    }

    func regex() throws -> NSRegularExpression? {
        guard let scoreRegex else { return nil }
        do { return try NSRegularExpression(pattern: scoreRegex) } catch {
            throw VaneError("--score-regex \(scoreRegex) is not a valid regular expression", hint: "ICU syntax, e.g. '(?i)\\b(happy|glad)\\b'")
        }
    }

    /// `VECTOR.gguf[@LAYER]`.
    func projectPath(_ text: String) -> (path: String, layer: Int?) {
        guard !FileManager.default.fileExists(atPath: text), let at = text.lastIndex(of: "@"),
              let layer = Int(text[text.index(after: at)...]) else { return (text, nil) }
        return (String(text[..<at]), layer)
    }

    func run() throws {
        threads.apply()
        let m = try LanguageModel(model.model, decoding: precision)
        let set = try PromptSet(contentsOf: URL(fileURLWithPath: prompts))
        if let edited { return try compareEdited(m, edited, set) }
        guard let steering = try steer.steering(for: m) else { throw ValidationError("give a vector with --steer VECTOR.gguf, or --edited MODEL") }
        let projection = try project.map { text -> SteerEval.Projection in
            let (path, layer) = projectPath(text)
            let vector = try ControlVector(contentsOf: URL(fileURLWithPath: path))
            try vector.check(against: ModelIdentity(files: m.files), force: steer.force)
            return try SteerEval.Projection(vector: vector, layer: layer)
        }
        let measurement = try SteerMeasurement(steering, model: m, tokens: try PromptSet.tokens(set.items[0], model: m, plain: plain))
        let chosen = try sweep.map(Sweep.init(parsing:)) ?? Sweep.fitting(measurement)
        if sweep == nil { note("sweep \(chosen) (fitted: README, \"Measuring: steer-eval\"; --sweep sets it)") }
        let largest = chosen.scales.map(abs).max() ?? 1
        for warning in measurement.warnings(at: largest, modelLayers: m.config.numHiddenLayers) { note("warning: \(warning)") }
        var eval = SteerEval(model: m, steering: steering, maxTokens: maxTokens, plain: plain, projection: projection,
                             regex: try regex(), batchSize: batch)
        eval.thinking = try thinking.control()
        var samples: [Data] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let start = Date()
        let line = ProgressLine()
        var generated = 0, generating = 0.0
        let rows = try eval.run(set, scales: chosen.scales, onSample: { samples.append(try encoder.encode($0)) },
                                progress: { event in
                                    line.report(event)
                                    if event.task == "steer-eval: generating" {
                                        generated = event.tokens ?? 0
                                        generating = Date().timeIntervalSince(start)
                                    }
                                })
        if let texts {
            try AtomicFile.write(URL(fileURLWithPath: texts)) { file in
                for line in samples { file.write(line + Data("\n".utf8)) }
            }
        }
        if let plot { try SteerEval.plot(rows, title: URL(fileURLWithPath: steer.steer[0]).lastPathComponent).write(to: URL(fileURLWithPath: plot)) }
        if json {
            print(String(decoding: try SteerEval.json(rows), as: UTF8.self))
        } else {
            print(SteerEval.table(rows, decimals: chosen.decimals), terminator: "")
        }
        let rho = SteerEval.lengthSpearman(rows)
        let work = "\(plural(set.items.count, "prompt")) × \(plural(rows.count, "scale"))"
        note(String(format: "[%@ in %.0f s (generation: %d tokens in %.1f s, %.1f tokens/s, batch %d); Spearman(scale, mean length) = %@]",
                    work, Date().timeIntervalSince(start), generated, generating, Double(generated) / max(generating, 1e-9),
                    batch, rho.rho.map { String(format: "%.3f", $0) } ?? "undefined: \(rho.reason ?? "")"))
        if let texts { wrote(texts, "\(plural(samples.count, "steered text")) (\(work))") }
        if let plot { wrote(plot, "length and KL against scale") }
    }

    var precision: Precision { exact ? .exact : .fast }

    /// The edited model against MODEL: reasoning-length distribution, accuracy overall and on originally short cases.
    func compareEdited(_ m: LanguageModel, _ path: String, _ set: PromptSet) throws {
        let e = try LanguageModel(path, decoding: precision)
        let report = try EditComparison(original: m, edited: e, maxTokens: maxTokens, plain: plain, batchSize: batch)
            .run(set, shortBelow: try LengthThreshold(parsing: shortBelow), progress: ProgressLine().report)
        if let plot { try EditComparison.plot(report, title: URL(fileURLWithPath: path).lastPathComponent).write(to: URL(fileURLWithPath: plot)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(json ? String(decoding: try encoder.encode(report), as: UTF8.self) : EditComparison.table(report), terminator: json ? "\n" : "")
        if let plot { wrote(plot, "reasoning lengths, edited and original") }
    }
}

import ArgumentParser
import Foundation
import VaneEngine
import VaneSteer

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text, streamed to standard output.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var steer: SteerOptions
    @OptionGroup var steerExperts: ExpertSteerOptions
    @OptionGroup var thinking: ThinkingOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        let m = try LanguageModel(model.model, decoding: sampling.exact ? .exact : .fast)
        let ids = try prompt.tokens(m)
        let hooks = Hooks()
        var outcome: ConditionOutcome?
        var gate: SteerGate?
        let triggers = TriggerLog()
        if let steering = try steer.steering(for: m) {
            gate = steering.gate
            for warning in try SteerMeasurement(steering, model: m, tokens: ids).warnings(modelLayers: m.config.numHiddenLayers) {
                note("warning: \(warning)")
            }
            outcome = try steering.install(on: hooks, promptLength: ids.count, modelLayers: m.config.numHiddenLayers,
                                           tokenizer: m.tokenizer, triggers: triggers)
        }
        try steerExperts.install(on: hooks, model: m)
        // The decision, once the prompt has run (before the first token streams).
        var told = false
        func tell() {
            guard let outcome, let gate, !told, let score = outcome.score else { return }
            told = true
            note("[condition \(gate.condition.description): cos \(String(format: "%.4f", score)) → steering \(outcome.fired ? "on" : "off")]")
        }
        var options = sampling.options
        options.thinking = try thinking.control()
        let result = try Generator(m).generate(promptTokens: ids, options: options, hooks: hooks,
                                               onToken: { _ in tell() },
                                               onText: { text in FileHandle.standardOutput.write(Data(text.utf8)) })
        tell()
        print()
        if !triggers.isEmpty { note("[segment triggers steered \(plural(triggers.firedGenerated, "generated token"))]") }
        note(String(format: "[%d prompt tokens, %.1f tok/s; %d generated, %.1f tok/s; stop: %@]",
                    ids.count, Double(ids.count) / max(result.promptSeconds, 1e-9), result.tokens.count,
                    Double(result.tokens.count) / max(result.generationSeconds, 1e-9), result.stopReason.rawValue))
    }
}

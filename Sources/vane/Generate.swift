import ArgumentParser
import Foundation
import VaneEngine
import VaneSteer
import VaneTokenizer

/// How a command gets its prompt: plain text, or a chat turn rendered with the model's template.
struct PromptOptions: ParsableArguments {
    @Option(help: "Plain text prompt, encoded without a chat template.") var prompt: String?
    @Option(help: "A user message, rendered with the model's chat template.") var chat: String?
    @Option(help: "A system message for --chat.") var system: String?

    func validate() throws {
        guard (prompt == nil) != (chat == nil) else { throw ValidationError("give exactly one of --prompt and --chat") }
        if system != nil && chat == nil { throw ValidationError("--system needs --chat") }
    }

    func tokens(_ m: LanguageModel) throws -> [Int] {
        if let prompt { return m.encode(prompt) }
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: chat ?? ""))
        return try m.encodeChat(messages)
    }
}

struct SamplingArguments: ParsableArguments {
    @Option(help: "Tokens to generate at most.") var maxTokens = 256
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.8
    @Option(help: "Keep the K most likely tokens (0: off).") var topK = 40
    @Option(help: "Keep the smallest set of tokens whose probability reaches P (1: off).") var topP: Float = 0.95
    @Option(help: "Drop tokens less likely than P × the top token's probability (0: off).") var minP: Float = 0.05
    @Option(help: "Random seed: the same seed gives the same text.") var seed: UInt64 = 0
    @Option(help: "Stop before this string (repeatable).") var stop: [String] = []
    @Flag(help: "Multiply in f32 over dequantized weights instead of 8-bit activation dot products (slower).")
    var exact = false

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard minP >= 0 && minP < 1 else { throw ValidationError("--min-p must be in [0, 1)") }
    }

    var options: GenerationOptions {
        GenerationOptions(maxTokens: maxTokens,
                          sampling: SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: seed),
                          stopStrings: stop)
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text, streamed to standard output.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var steer: SteerOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        let m = try LanguageModel(model.model, decoding: sampling.exact ? .exact : .fast)
        let ids = try prompt.tokens(m)
        let hooks = Hooks()
        try steer.steering(for: m)?.install(on: hooks, promptLength: ids.count, modelLayers: m.config.numHiddenLayers)
        let result = try Generator(m).generate(promptTokens: ids, options: sampling.options, hooks: hooks, onText: { text in
            FileHandle.standardOutput.write(Data(text.utf8))
        })
        print()
        note(String(format: "[%d prompt tokens, %.1f tok/s; %d generated, %.1f tok/s; stop: %@]",
                    ids.count, Double(ids.count) / max(result.promptSeconds, 1e-9), result.tokens.count,
                    Double(result.tokens.count) / max(result.generationSeconds, 1e-9), result.stopReason.rawValue))
    }
}

import ArgumentParser
import VaneEngine
import VaneTokenizer

/// How a command gets its prompt: plain text, or a chat turn rendered with the model's template.
struct PromptOptions: ParsableArguments {
    @Option(help: "Plain text prompt, encoded without a chat template.") var prompt: String?
    @Option(help: "A user message, rendered with the model's chat template.") var chat: String?
    @Option(help: "A system message for --chat.") var system: String?
    @Option(help: "The chat template's enable_thinking (Qwen3: off answers without a <think> block); unset: the template's default.")
    var thinking: Switch?

    enum Switch: String, ExpressibleByArgument, CaseIterable { case on, off }

    func validate() throws {
        guard (prompt == nil) != (chat == nil) else { throw ValidationError("give exactly one of --prompt and --chat") }
        if system != nil && chat == nil { throw ValidationError("--system needs --chat") }
        if thinking != nil && chat == nil { throw ValidationError("--thinking needs --chat") }
    }

    func tokens(_ m: LanguageModel) throws -> [Int] {
        if let prompt { return m.encode(prompt) }
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: chat ?? ""))
        return try m.encodeChat(messages, enableThinking: thinking.map { $0 == .on })
    }
}

import Foundation
import VaneCore

/// One turn of a conversation. For turns with more structure (tool calls, content parts), pass `JinjaValue`
/// objects to `ChatTemplate.render(messages:…)` instead.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public var jinjaValue: JinjaValue { .object(JinjaObject([("role", .string(role)), ("content", .string(content))])) }
}

/// A model's chat template: turns a conversation into the prompt text the model was trained on, exactly as
/// HF transformers' `apply_chat_template(…, tokenize=False)` does.
public struct ChatTemplate: Sendable {
    public let template: JinjaTemplate
    /// The template text.
    public let source: String

    /// Parses the template once; `origin` (e.g. the file it came from) names it in errors.
    public init(source: String, origin: String = "chat template") throws {
        template = try JinjaTemplate(source, origin: origin)
        self.source = source
    }

    /// Renders `messages` (each a dict with at least "role" and "content"). The template sees `messages`,
    /// `add_generation_prompt`, `bos_token`, `eos_token`, and every entry of `extra` (e.g. "tools",
    /// "date_string", "enable_thinking"), which may override the others. `strftime_now` formats `now` in `timeZone`.
    public func render(messages: [JinjaValue], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                       extra: [String: JinjaValue] = [:], now: Date = Date(), timeZone: TimeZone = .current) throws -> String {
        var variables: [String: JinjaValue] = [
            "messages": .array(messages),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ]
        variables.merge(extra) { $1 }
        return try template.render(variables, now: now, timeZone: timeZone)
    }

    /// Renders plain role/content turns; see `render(messages: [JinjaValue], …)`.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                       extra: [String: JinjaValue] = [:], now: Date = Date(), timeZone: TimeZone = .current) throws -> String {
        try render(messages: messages.map(\.jinjaValue), addGenerationPrompt: addGenerationPrompt, bosToken: bosToken,
                   eosToken: eosToken, extra: extra, now: now, timeZone: timeZone)
    }

    /// The chat template of an HF model folder: `chat_template.jinja` (transformers ≥ 4.43 writes it), else the
    /// `chat_template` entry of `tokenizer_config.json` — a string, or a list of `{name, template}` of which the
    /// one named "default" is used. Nil when the folder has neither.
    public static func load(modelFolder: URL) throws -> ChatTemplate? {
        let jinjaFile = modelFolder.appendingPathComponent("chat_template.jinja")
        if FileManager.default.fileExists(atPath: jinjaFile.path) {
            let text = try readText(jinjaFile)
            return try ChatTemplate(source: text, origin: jinjaFile.path)
        }
        let configFile = modelFolder.appendingPathComponent("tokenizer_config.json")
        guard FileManager.default.fileExists(atPath: configFile.path) else { return nil }
        let json = try readText(configFile)
        let config: JinjaValue
        do {
            config = try JinjaValue(json: json)
        } catch let e as VaneError {
            throw VaneError("\(configFile.path): \(e.message)")
        }
        guard case .object(let object) = config else {
            throw VaneError("\(configFile.path): the top level is not a JSON object")
        }
        let origin = configFile.path + " (chat_template)"
        switch object["chat_template"] {
        case nil, .none?:
            return nil
        case .string(let text)?:
            return try ChatTemplate(source: text, origin: origin)
        case .array(let entries)?:
            var names: [String] = []
            for entry in entries {
                guard case .object(let named) = entry, case .string(let name)? = named["name"],
                      case .string(let text)? = named["template"]
                else {
                    throw VaneError("\(configFile.path): chat_template list entries must be {\"name\": …, \"template\": …}")
                }
                if name == "default" { return try ChatTemplate(source: text, origin: origin + "[default]") }
                names.append(name)
            }
            throw VaneError("\(configFile.path): chat_template has no template named \"default\" "
                + "(found: \(names.joined(separator: ", ")))")
        case let other?:
            throw VaneError("\(configFile.path): chat_template is a \(other.typeName), "
                + "expected a string or a list of named templates")
        }
    }

    private static func readText(_ url: URL) throws -> String {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw VaneError("\(url.path): cannot read: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw VaneError("\(url.path): not valid UTF-8 text")
        }
        return text
    }
}

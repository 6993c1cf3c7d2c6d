import Foundation
import VaneEngine
import VaneTokenizer
import VaneModelIO

/// Prompts from a JSON Lines file, one object per line:
///
///     {"question": "What is 17 + 25?", "answer": 42}
///     {"prompt": "Describe the sea.", "system": "Answer in one sentence."}
///
/// "question" and "prompt" are synonyms (the user message); "system" is optional; "answer" (a number, or a
/// string holding one) is optional and enables the accuracy check. Blank lines are skipped.
public struct PromptSet: Sendable {
    public struct Item: Sendable {
        public var text: String
        public var system: String?
        public var answer: Double?
        public init(text: String, system: String? = nil, answer: Double? = nil) {
            self.text = text
            self.system = system
            self.answer = answer
        }
    }

    public var items: [Item]

    public init(items: [Item]) { self.items = items }

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw VaneError("cannot read \(url.path): \(error.localizedDescription)")
        }
        var items: [Item] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let where_ = "\(url.path):\(i + 1)"
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw VaneError("\(where_): not a JSON object", hint: "one object per line, e.g. {\"question\": \"…\", \"answer\": 42}")
            }
            guard let text = (object["question"] ?? object["prompt"]) as? String else {
                throw VaneError("\(where_): no \"question\" or \"prompt\" string")
            }
            var answer: Double?
            switch object["answer"] {
            case nil, is NSNull: answer = nil
            case let n as NSNumber: answer = n.doubleValue
            case let s as String:
                guard let v = AnswerChecker.numbers(in: s).last else {
                    throw VaneError("\(where_): answer \"\(s)\" holds no number", hint: "the accuracy check compares numbers")
                }
                answer = v
            default: throw VaneError("\(where_): \"answer\" must be a number or a string")
            }
            items.append(Item(text: text, system: object["system"] as? String, answer: answer))
        }
        guard !items.isEmpty else { throw VaneError("\(url.path) holds no prompts") }
        self.items = items
    }

    /// Token ids of item i: its messages rendered with the model's chat template, or the plain text when
    /// `plain` (or when the model has no template).
    public static func tokens(_ item: Item, model: LanguageModel, plain: Bool = false) throws -> [Int] {
        guard !plain, model.chatTemplate != nil else { return model.encode(item.text) }
        var messages: [ChatMessage] = []
        if let system = item.system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: item.text))
        return try model.encodeChat(messages)
    }
}

import ArgumentParser
import Foundation
import VaneEngine
import VaneTokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the token ids (and pieces) of a text.")

    @OptionGroup var model: ModelOptions
    @Argument(help: "The text to tokenize.") var text: String
    @Flag(help: "Render TEXT as a user message with the model's chat template first.") var chat = false
    @Flag(help: "Print JSON: {\"ids\": [...], \"pieces\": [...]}.") var json = false

    func run() throws {
        let m = try model.load()
        let ids = chat ? try m.encodeChat([ChatMessage(role: "user", content: text)]) : m.encode(text)
        let pieces = ids.map { piece(m.tokenizer.bytes(of: $0)) }
        if json {
            let data = try JSONSerialization.data(withJSONObject: ["ids": ids, "pieces": pieces], options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(ids.map(String.init).joined(separator: " "))
            for (id, piece) in zip(ids, pieces) {
                print(String(id).padding(toLength: 8, withPad: " ", startingAt: 0) + String(reflecting: piece))
            }
            note(plural(ids.count, "token"))
        }
    }
}

/// A token's text, or its bytes as <0xNN> where they are not whole UTF-8 (one piece of a multi-byte character).
func piece(_ bytes: [UInt8]) -> String {
    if let text = String(validating: bytes, as: UTF8.self) { return text }
    return bytes.map { String(format: "<0x%02X>", $0) }.joined()
}

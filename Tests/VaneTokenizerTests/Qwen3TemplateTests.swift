import Foundation
import Testing
import VaneTestSupport
@testable import VaneTokenizer

/// Qwen3's real chat template (Tests/Fixtures/templates/qwen3/qwen3.jinja) against jinja2's renders
/// (renders.json, written by generate.py beside it): the thinking switch `enable_thinking`, earlier turns' <think>
/// blocks stripped, `reasoning_content`, tool calls. Exact, character for character.
@Suite struct Qwen3TemplateTests {
    static let dir = Fixtures.url("templates/qwen3")

    @Test func rendersAsJinja2Does() throws {
        let template = try ChatTemplate(source: String(contentsOf: Self.dir.appendingPathComponent("qwen3.jinja"), encoding: .utf8),
                                        origin: "qwen3.jinja")
        guard case .array(let cases) = try JinjaValue(jsonData: Data(contentsOf: Self.dir.appendingPathComponent("renders.json"))) else {
            Issue.record("renders.json is not a list")
            return
        }
        #expect(cases.count == 8)
        for case .object(let entry) in cases {
            guard case .string(let name)? = entry["name"], case .array(let messages)? = entry["messages"],
                  case .object(let extra)? = entry["extra"], case .string(let expected)? = entry["rendered"] else {
                Issue.record("malformed entry in renders.json")
                continue
            }
            let actual = try template.render(messages: messages, addGenerationPrompt: entry["add_generation_prompt"]?.isTruthy ?? false,
                                             bosToken: "", eosToken: "", extra: Dictionary(uniqueKeysWithValues: extra.pairs))
            #expect(ChatTemplateTests.difference(actual, expected) == nil, "\(name): \(ChatTemplateTests.difference(actual, expected) ?? "")")
        }
    }
}

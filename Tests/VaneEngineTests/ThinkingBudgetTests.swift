import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTestSupport

/// Budget forcing on the tiny-llama fixture, against the same model's unforced greedy continuation: forcing must
/// change exactly what it says (the end marker after N thinking tokens; an end marker replaced by the extension
/// text) and nothing before it.
@Suite struct ThinkingBudgetTests {
    let model: LanguageModel
    let prompt: [Int]
    let unforced: [Int]

    init() throws {
        model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        prompt = model.encode("Let me think [")
        unforced = try Generator(model).generate(promptTokens: prompt, options: Self.options(nil)).tokens
    }

    static func options(_ control: ThinkingControl?) -> GenerationOptions {
        var o = GenerationOptions(maxTokens: 24, sampling: .greedy, stopAtEndOfTurn: false)
        o.thinking = control
        return o
    }

    /// A single-token id of `text`.
    func single(_ text: String) throws -> Int {
        let ids = model.tokenizer.encode(text, addSpecial: false)
        try #require(ids.count == 1, "\"\(text)\" is \(ids.count) tokens")
        return ids[0]
    }

    @Test func budgetWritesTheEndMarkerAfterNThinkingTokens() throws {
        let end = try single("]")
        // The prompt ends inside "[ … ]": the span is open from the first generated token.
        let natural = unforced.firstIndex(of: end) ?? unforced.count
        let budget = min(5, natural)
        try #require(budget >= 1)
        let forced = try Generator(model).generate(promptTokens: prompt,
                                                   options: Self.options(ThinkingControl(start: "[", end: "]", budget: budget)))
        #expect(Array(forced.tokens.prefix(budget)) == Array(unforced.prefix(budget)), "tokens before the budget changed")
        #expect(forced.tokens.count > budget && forced.tokens[budget] == end, "\(forced.tokens) should close at \(budget)")
        // Once closed, the span stays closed: no second forced marker without a new "[".
        let reopen = forced.tokens.dropFirst(budget + 1).contains { model.tokenizer.decode([$0]).contains("[") }
        if !reopen { #expect(forced.tokens.dropFirst(budget + 1).filter { $0 == end }.count <= unforced.filter { $0 == end }.count + 1) }
    }

    @Test func extendReplacesTheModelsEndMarker() throws {
        // Take as end marker a single-token piece the model writes by itself at step j.
        let j = try #require((2..<unforced.count).first { i in
            let piece = model.tokenizer.decode([unforced[i]])
            return !piece.isEmpty && model.tokenizer.encode(piece, addSpecial: false) == [unforced[i]]
                && !unforced[..<i].contains(unforced[i])
        })
        let end = model.tokenizer.decode([unforced[j]])
        let control = ThinkingControl(start: "[", end: end, extendTimes: 1, extendText: " Wait")
        let result = try Generator(model).generate(promptTokens: prompt, options: Self.options(control))
        let wait = model.tokenizer.encode(" Wait", addSpecial: false)
        #expect(Array(result.tokens.prefix(j)) == Array(unforced.prefix(j)), "tokens before the marker changed")
        #expect(Array(result.tokens.dropFirst(j).prefix(wait.count)) == wait,
                "marker \(String(reflecting: end)) at \(j) should become \" Wait\": \(result.tokens)")
    }

    @Test func extendingNeedsAOneTokenMarker() throws {
        let control = ThinkingControl(start: "[", end: "</reasoning-done>", extendTimes: 2)
        let e = #expect(throws: VaneError.self) {
            _ = try Generator(model).generate(promptTokens: prompt, options: Self.options(control))
        }
        #expect(e?.message.contains("one token") == true)
    }
}

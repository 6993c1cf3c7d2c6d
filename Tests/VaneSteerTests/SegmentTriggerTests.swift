import Foundation
import Testing
import VaneEngine
import VaneSteer
import VaneTensor
import VaneTestSupport
import VaneModelIO

/// Segment triggers on the tiny-llama fixture (its byte-level tokenizer): the rows a trigger steers are found by
/// comparing resid_post with and without steering, and checked against the positions computed here on the whole
/// text from each token's byte span (the trigger itself decides as tokens arrive).
@Suite struct SegmentTriggerTests {
    let model: LanguageModel
    let vector: ControlVector
    static let text = "Question: 2+2? <think>First, add them.\n\nWait, check: 2+2=4.\n\nYes.</think> The answer is 4.\n\nDone."

    init() throws {
        model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        var rng = TestRandom(seed: 5)
        vector = ControlVector(directions: [1: (0..<64).map { _ in Float(rng.normal()) }], width: 64, modelHint: "llama")
    }

    /// Rows of resid_post(1) that `positions` changed, running `tokens` in one forward pass.
    func steeredRows(_ positions: SteerPositions, _ tokens: [Int], promptLength: Int) throws -> [Int] {
        func capture(_ steering: Steering?) throws -> Tensor {
            let hooks = Hooks()
            try steering?.install(on: hooks, promptLength: promptLength, modelLayers: 3, tokenizer: model.tokenizer)
            let c = Capture()
            c.attach(to: hooks, points: [.residPost(1)])
            _ = try model.transformer.forward(tokens, cache: model.transformer.makeCache(), hooks: hooks, logits: .none)
            return c.tensors[.residPost(1)]!
        }
        let plain = try capture(nil)
        let steered = try capture(Steering(vectors: [(vector, 3)], layers: [1], positions: positions))
        return (0..<tokens.count).filter { t in zip(plain.row(t), steered.row(t)).contains { abs($0 - $1) > 1e-3 } }
    }

    /// Byte offset where each token begins, and the whole text's bytes.
    func spans(_ tokens: [Int]) -> (starts: [Int], bytes: [UInt8]) {
        var starts: [Int] = [], bytes: [UInt8] = []
        for t in tokens { starts.append(bytes.count); bytes += model.tokenizer.bytes(of: t) }
        return (starts, bytes)
    }

    /// Offsets where `needle` occurs in `bytes` (start of each match).
    func occurrences(_ needle: String, in bytes: [UInt8]) -> [Int] {
        let n = Array(needle.utf8)
        return (0...(bytes.count - n.count)).filter { Array(bytes[$0..<($0 + n.count)]) == n }
    }

    @Test func insideSteersExactlyBetweenTheMarkers() throws {
        let tokens = model.encode(Self.text)
        let (starts, bytes) = spans(tokens)
        let open = try #require(occurrences("<think>", in: bytes).first) + "<think>".utf8.count
        let close = try #require(occurrences("</think>", in: bytes).first)
        let expected = tokens.indices.filter { starts[$0] >= open && starts[$0] < close }
        #expect(expected.count > 5)
        let got = try steeredRows(.segment(.inside(start: "<think>", end: "</think>")), tokens, promptLength: 3)
        #expect(got == expected, "steered \(got), between the markers \(expected)")
    }

    @Test func afterSteersTheTokenFollowingEachOccurrence() throws {
        let tokens = model.encode(Self.text)
        let (starts, bytes) = spans(tokens)
        let ends = occurrences("\n\n", in: bytes).map { $0 + 2 }
        // The token after the one in which an occurrence ends: p with starts[p-1] < end ≤ starts[p].
        let expected = (1..<tokens.count).filter { p in ends.contains { starts[p - 1] < $0 && $0 <= starts[p] } }
        #expect(expected.count == 3)
        let trigger = try #require(try SegmentTrigger(parsing: "after:\\n\\n"))
        #expect(try steeredRows(.segment(trigger), tokens, promptLength: 3) == expected)
        // at: the token in which each occurrence ends, p with starts[p] < end ≤ starts[p] + its length.
        let inside = tokens.indices.filter { p in
            let stop = p + 1 < tokens.count ? starts[p + 1] : bytes.count
            return ends.contains { starts[p] < $0 && $0 <= stop }
        }
        #expect(inside.count == 3)
        #expect(try steeredRows(.segment(.at("\n\n")), tokens, promptLength: 3) == inside)
        // first-of-segment: the first generated token, then the generated ones after each separator.
        let prompt = 10
        let first = try steeredRows(.segment(.firstOfSegment("\n\n")), tokens, promptLength: prompt)
        #expect(first == [prompt] + expected.filter { $0 > prompt }, "\(first)")
    }

    @Test func aTriggerThatNeverMatchesChangesNothing() throws {
        let prompt = model.encode("Once upon a time")
        let options = GenerationOptions(maxTokens: 24, sampling: .greedy, stopAtEndOfTurn: false)
        let plain = try Generator(model).generate(promptTokens: prompt, options: options)
        let hooks = Hooks()
        let log = TriggerLog()
        try Steering(vectors: [(vector, 50)], layers: [1], positions: .segment(.after("QQZZ#never")))
            .install(on: hooks, promptLength: prompt.count, modelLayers: 3, tokenizer: model.tokenizer, triggers: log)
        let steered = try Generator(model).generate(promptTokens: prompt, options: options, hooks: hooks)
        #expect(steered.tokens == plain.tokens)
        #expect(log.firedGenerated == 0)
    }

    /// Decoding decides as each token arrives; a teacher-forced pass over the final text steers the same generated
    /// positions, and the log counts them.
    @Test func decodingAndTeacherForcingAgree() throws {
        let prompt = model.encode("The list: a, b")
        let options = GenerationOptions(maxTokens: 32, sampling: .greedy, stopAtEndOfTurn: false)
        let trigger = SegmentTrigger.after(" ")
        let hooks = Hooks()
        let log = TriggerLog()
        try Steering(vectors: [(vector, 3)], layers: [1], positions: .segment(trigger))
            .install(on: hooks, promptLength: prompt.count, modelLayers: 3, tokenizer: model.tokenizer, triggers: log)
        let result = try Generator(model).generate(promptTokens: prompt, options: options, hooks: hooks)
        // The last sampled token never ran as an input: the forward pass saw prompt + all but the last.
        let ran = prompt + result.tokens.dropLast()
        let rows = try steeredRows(.segment(trigger), ran, promptLength: prompt.count)
        #expect(log.firedGenerated == rows.filter { $0 >= prompt.count }.count, "log \(log.firedGenerated), rows \(rows)")
    }

    @Test func parsingAndErrors() throws {
        #expect(try SteerPositions(parsing: "inside:<think>,</think>") == .segment(.inside(start: "<think>", end: "</think>")))
        #expect(try SteerPositions(parsing: "after:a\\,b") == .segment(.after("a,b")))
        #expect(try SteerPositions(parsing: "first-of-segment:\\n") == .segment(.firstOfSegment("\n")))
        for text in ["inside:<think>,</think>", "after:\\n\\n", "at:\\n\\n", "first-of-segment:\\t", "after:a\\,b\\\\"] {
            #expect(try SteerPositions(parsing: text).description == text)
        }
        for (bad, says) in [("inside:<think>", "inside:START,END"), ("after:", "empty marker"), ("after:a\\q", "not an escape"),
                            ("sometimes", "is not all, prompt")] {
            let e = #expect(throws: VaneError.self) { try SteerPositions(parsing: bad) }
            #expect(e?.message.contains(says) == true, "\(bad): \(e?.message ?? "")")
        }
        // --think-markers and --think-extend read their markers the same way.
        let (start, end) = try SegmentTrigger.unescapePair("<|im_start|>assistant,\\nThe answer is\\, then", in: "markers")
        #expect(start == "<|im_start|>assistant" && end == "\nThe answer is, then", "\(start) | \(end)")
        let noComma = #expect(throws: VaneError.self) { try SegmentTrigger.unescapePair("<think>", in: "<think>") }
        #expect(noComma?.message.contains("write START,END") == true, "\(noComma?.message ?? "")")
        let spec = try SteerSpec(parsing: "v.gguf:0.5@positions=inside:<think>,</think>,op=ablate")
        #expect(spec.positions == .segment(.inside(start: "<think>", end: "</think>")) && spec.op == .ablate)
        let e = #expect(throws: VaneError.self) {
            try Steering(vectors: [(vector, 1)], layers: [1], positions: .segment(.after("x"))).install(on: Hooks(), promptLength: 1, modelLayers: 3)
        }
        #expect(e?.message.contains("needs the model's tokenizer") == true)
    }
}

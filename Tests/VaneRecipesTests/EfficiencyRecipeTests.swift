import Foundation
import VaneRecipes
import Testing
import VaneActivations
import VaneEngine
import VaneSteer
import VaneTestSupport

/// `vane recipe efficiency` on SmolLM2 with four easy questions: the samples log holds every sample with a
/// verdict that an independent check (last number in the text == answer, turn ended) agrees with, each pair is the
/// shortest and longest correct sample, the store holds their teacher-forced response means, and a run killed
/// after two logged questions resumes to exactly the uninterrupted run's store and log.
@Suite(.enabled(if: Fixtures.smollm2 != nil, "SmolLM2 is not in the cache (vane fetch smollm2)"))
struct EfficiencyRecipeTests {
    static let questions: [(question: String, answer: Int)] = [
        ("What is 7 times 9?", 63),
        ("There are 8 boxes with 3 stamps in each box. How many stamps are there in total?", 24),
        ("What is 4 times 8?", 32),
        ("Gus shares 4 cards equally among 2 friends. How many cards does each friend get?", 2),
    ]

    struct Run {
        let store: URL
        let log: URL
        let arguments: [String]
    }

    func setUp(_ dir: URL, name: String) throws -> Run {
        let data = dir.appendingPathComponent("questions.jsonl")
        if !FileManager.default.fileExists(atPath: data.path) {
            let lines = try Self.questions.map {
                String(decoding: try JSONSerialization.data(withJSONObject: ["question": $0.question, "answer": $0.answer]),
                       as: UTF8.self)
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: data)
        }
        let vector = dir.appendingPathComponent("\(name).gguf")
        return Run(store: dir.appendingPathComponent("\(name).h5"), log: dir.appendingPathComponent("\(name).samples.jsonl"),
                   arguments: ["recipe", "efficiency", Fixtures.smollm2!.path, data.path, "-o", vector.path,
                               "--samples", "6", "--max-tokens", "96", "--temperature", "0.3", "--layers", "9-11"])
    }

    /// The samples log's question records (the header line dropped).
    func records(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").dropFirst().map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func pairsAreTheShortestAndLongestCorrectSamples() throws {
        let dir = try scratch("recipe")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try setUp(dir, name: "eff")
        let result = try VaneProcess.vane(run.arguments)
        try #require(result.status == 0, "\(result.output)")

        let records = try records(run.log)
        #expect(records.count == Self.questions.count)
        var expectedPairs: [(line: Int, short: Int, long: Int)] = []
        for (q, record) in records.enumerated() {
            let answer = Self.questions[q].answer
            let samples = try #require(record["samples"] as? [[String: Any]])
            #expect(samples.count == 6)
            var correct: [(index: Int, tokens: Int)] = []
            for (i, s) in samples.enumerated() {
                let text = try #require(s["text"] as? String), tokens = try #require(s["tokens"] as? Int)
                let lastNumber = text.matches(of: /-?\d+(\.\d+)?/).last.map { Double(String($0.output.0))! }
                let independent = s["stop"] as? String == "endOfTurn" && lastNumber == Double(answer)
                #expect(s["correct"] as? Bool == independent, "question \(q + 1) sample \(i): \(text)")
                if independent { correct.append((i, tokens)) }
            }
            let short = correct.min { $0.tokens < $1.tokens }, long = correct.max { $0.tokens < $1.tokens }
            if let short, let long, short.tokens < long.tokens {
                #expect(record["pair"] as? [Int] == [short.index, long.index], "question \(q + 1)")
                expectedPairs.append((q + 1, short.tokens, long.tokens))
            } else {
                #expect(record["pair"] == nil || record["pair"] is NSNull, "question \(q + 1)")
            }
        }

        let store = try ActivationStore(url: run.store)
        #expect(store.count == 2 * expectedPairs.count)
        #expect(store.examples.labels == Array(repeating: [1, 0], count: expectedPairs.count).flatMap { $0 })
        #expect(store.examples.lines == expectedPairs.flatMap { [$0.line, $0.line] })
        let responseLengths = zip(store.examples.tokenCounts, store.examples.promptTokenCounts).map { $0 - $1 }
        #expect(responseLengths == expectedPairs.flatMap { [$0.short, $0.long] })

        // The stored row is the mean of blocks.10.hook_resid_post over the response tokens of a plain forward pass.
        let model = try LanguageModel(url: Fixtures.smollm2!)
        let stored = try store.read(hook: "blocks.10.hook_resid_post")
        let d = model.config.hiddenSize
        for example in [0, store.count - 1] {
            let tokens = try store.tokenIDs(example: example)
            let prompt = store.examples.promptTokenCounts[example]
            let hooks = Hooks()
            var sum = [Double](repeating: 0, count: d)
            hooks.add(.residPost(10)) { a in
                for (t, p) in a.positions.enumerated() where p >= prompt {
                    for i in 0..<d { sum[i] += Double(a.row(t)[i]) }
                }
            }
            _ = try model.transformer.forward(tokens, cache: model.transformer.makeCache(capacity: tokens.count),
                                              hooks: hooks, logits: .none)
            let mean = sum.map { Float($0 / Double(tokens.count - prompt)) }
            if let mismatch = compare(Array(stored.data[(example * d)..<((example + 1) * d)]), mean, atol: 1e-5,
                                      label: "example \(example)") {
                Issue.record(Comment(rawValue: mismatch))
            }
        }
    }

    @Test func killedRunResumesToTheUninterruptedResult() throws {
        let dir = try scratch("recipe")
        defer { try? FileManager.default.removeItem(at: dir) }
        let reference = try setUp(dir, name: "reference"), run = try setUp(dir, name: "eff")
        let full = try VaneProcess.vane(reference.arguments)
        try #require(full.status == 0, "\(full.output)")

        let process = Process()
        guard let binary = VaneProcess.binary else { throw VaneProcess.VaneNotBuilt() }
        process.executableURL = binary
        process.arguments = run.arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(600)
        while process.isRunning, Date() < deadline, ((try? records(run.log))?.count ?? 0) < 2 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        try #require(process.isRunning, "the run finished before two questions were logged; nothing was killed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let logged = try records(run.log).count
        #expect(!FileManager.default.fileExists(atPath: run.store.path), "an unfinished run must not appear as the store")

        let again = try VaneProcess.vane(run.arguments)
        #expect(again.status != 0 && again.output.contains("--resume"), "\(again.output)")
        let otherSettings = try VaneProcess.vane(run.arguments.map { $0 == "6" ? "5" : $0 } + ["--resume"])
        #expect(otherSettings.status != 0 && otherSettings.output.contains("samples 6 → 5"), "\(otherSettings.output)")

        let resumed = try VaneProcess.vane(run.arguments + ["--resume"])
        try #require(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("resumed after \(logged)"), "\(resumed.output)")
        #expect(try Data(contentsOf: run.log) == Data(contentsOf: reference.log))
        let final = try ActivationStore(url: run.store), expected = try ActivationStore(url: reference.store)
        #expect(final.examples == expected.examples)
        for hook in final.hooks {
            #expect(try final.read(hook: hook).data == expected.read(hook: hook).data, "\(hook) after resume")
        }
        #expect(!FileManager.default.fileExists(atPath: run.store.path + ".partial"))
    }
}

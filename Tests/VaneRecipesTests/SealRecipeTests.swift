import Foundation
import Testing
import VaneActivations
import VaneEngine
import VaneModelIO
import VaneRecipes
import VaneSteer
import VaneTestSupport

/// SEAL's thought labelling against an independent Python implementation of the keyword rules
/// (seal_labels.py) on the traces in Tests/Fixtures/seal, and the recipe end to end on SmolLM2.
@Suite struct SealRecipeTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("seal_labels.py")

    /// [[trace, thought, label, text]] from the Python rules.
    func pythonLabels(_ traces: URL, separator: String = "\n\n") throws -> [[Any]] {
        let result = try VaneProcess.run("/usr/bin/env", ["python3", Self.script.path, traces.path, separator])
        try #require(result.status == 0, "seal_labels.py failed: \(result.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[Any]])
    }

    @Test func labelsMatchThePythonRules() throws {
        let url = Fixtures.url("seal/traces.jsonl")
        let expected = try pythonLabels(url)
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        var got: [(Int, Int, String, String)] = []
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        for (i, line) in lines.enumerated() {
            let text = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])["text"]!
            let tokens = model.tokenizer.encode(text, addSpecial: false)
            for (k, b) in SealRecipe.boundaries(tokens, separator: "\n\n", tokenizer: model.tokenizer).enumerated() {
                got.append((i, k, SealRecipe.Keywords.seal.label(b.text).rawValue, b.text))
                // The boundary token is the one in which the separator ends.
                let before = model.tokenizer.decode(Array(tokens[...b.token]))
                #expect(before.hasSuffix("\n\n") || model.tokenizer.decode([tokens[b.token]]).contains("\n"), "trace \(i) thought \(k)")
            }
        }
        #expect(got.count == expected.count, "\(got.count) thoughts vs Python's \(expected.count)")
        for (g, e) in zip(got, expected) {
            #expect(g.0 == e[0] as? Int && g.1 == e[1] as? Int, "thought order")
            #expect(g.2 == e[2] as? String, "trace \(g.0) thought \(g.1) \(String(reflecting: g.3)): \(g.2) vs \(e[2])")
            #expect(g.3 == e[3] as? String, "trace \(g.0) thought \(g.1) text")
        }
        let kinds = Set(got.map(\.2))
        #expect(kinds == ["execution", "reflection", "transition"], "the fixture should exercise every label")
    }

    /// The recipe on SmolLM2 with keywords its answers contain: every stored boundary is a thought of the thoughts
    /// file, labelled as the Python rules label its text, at a token ending the separator; the vector is the
    /// mean difference of the stored rows, recomputed here in float64.
    @Test(.enabled(if: Fixtures.smollm2 != nil, "SmolLM2 not in the cache: run `vane fetch smollm2`"))
    func recipeOnSmolLM2() throws {
        let model = try LanguageModel(url: try #require(Fixtures.smollm2), decoding: .fast)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vane-seal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let questions = dir.appendingPathComponent("q.jsonl")
        try Data(["What is 12 times 3?", "Explain how rain forms.", "Name two planets and say which is larger.",
                  "How many legs do three spiders have?"].map { "{\"question\": \"\($0)\"}" }.joined(separator: "\n").utf8)
            .write(to: questions)
        var recipe = SealRecipe(model: model)
        (recipe.maxTokens, recipe.layers, recipe.separator) = (96, [3, 6], "\n")
        recipe.keywords = .init(reflection: ["wait", "check", "the"], transition: ["another", "so "])
        let store = dir.appendingPathComponent("seal.h5")
        let (vector, report) = try recipe.run(try PromptSet(contentsOf: questions), storeURL: store, commandLine: "test",
                                              inputURL: questions)
        let s = try ActivationStore(url: store)
        let thoughts = try String(contentsOf: SealRecipe.thoughtsURL(forStore: store), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(s.count == thoughts.count && s.count == report.counts.values.reduce(0, +))
        // Python labels the recorded thoughts with the same keyword lists.
        let traces = dir.appendingPathComponent("thoughts-as-traces.jsonl")
        try Data(thoughts.map { t in
            String(decoding: try! JSONSerialization.data(withJSONObject: ["text": (t["text"] as! String) + "\n"]), as: UTF8.self)
        }.joined(separator: "\n").utf8).write(to: traces)
        let custom = try VaneProcess.run("/usr/bin/env", ["python3", "-c", """
            import json, sys
            for line in open(sys.argv[1]):
                low = json.loads(line)["text"][:-1].lower()
                print("transition" if any(w in low for w in ["another", "so "]) else
                      "reflection" if any(w in low for w in ["wait", "check", "the"]) else "execution")
            """, traces.path])
        let pythonLabels = custom.output.split(separator: "\n").map(String.init)
        #expect(pythonLabels == thoughts.map { $0["label"] as! String })
        for (i, t) in thoughts.enumerated() {
            let label = t["label"] as! String
            #expect(s.examples.labels[i] == (label == "execution" ? 0 : 1))
            let ids = try s.tokenIDs(example: i)
            let position = t["position"] as! Int
            #expect(s.examples.spans[i].upperBound == position + 1)
            #expect(model.tokenizer.decode([ids[position]]).contains("\n"), "boundary \(i) is not a separator token")
        }
        for l in [3, 6] {
            let rows = try s.read(hook: "blocks.\(l).hook_resid_post")
            let d = model.config.hiddenSize
            var pos = [Double](repeating: 0, count: d), neg = pos
            var (np, nn) = (0.0, 0.0)
            for i in 0..<s.count {
                let one = s.examples.labels[i] == 1
                for c in 0..<d { if one { pos[c] += Double(rows.data[i * d + c]) } else { neg[c] += Double(rows.data[i * d + c]) } }
                if one { np += 1 } else { nn += 1 }
            }
            let expected = (0..<d).map { Float(pos[$0] / np - neg[$0] / nn) }
            if let message = compare(try #require(vector.directions[l]), expected, atol: 1e-4, label: "layer \(l)") {
                Issue.record(Comment(rawValue: message))
            }
        }
    }
}

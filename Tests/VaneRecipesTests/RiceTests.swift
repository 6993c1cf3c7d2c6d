import Foundation
import Testing
import VaneEngine
@testable import VaneRecipes
import VaneModelIO
import VaneTestSupport

/// RICE on the tiny mixture-of-experts fixtures: the planted expert (tiny-qwen2moe-planted: block 1's expert 2 is
/// routed exactly at " then", by construction, see Tests/Fixtures/arch/make_planted_qwen2moe.py) ranks first;
/// nPMI equals an independent float64 numpy computation (≤ 1e-9) from routing captured by a plain hook.
@Suite struct RiceTests {
    static let texts = Fixtures.url("arch/rice-texts.jsonl")

    @Test func plantedExpertRanksFirst() throws {
        let model = try LanguageModel(url: Fixtures.url("arch/tiny-qwen2moe-planted"))
        let result = try Rice.run(model, texts: try Rice.texts(contentsOf: Self.texts), markers: ["then"])
        #expect(result.markedTokens >= 6, "marked tokens: \(result.markedTokens)")
        let best = try #require(result.ranked.first)
        #expect(best.layer == 1 && best.expert == 2, "ranked first: \(result.ranked.prefix(3))")
        #expect(best.npmi > 0.99, "planted nPMI \(best.npmi)")
        #expect(result.ranked.dropFirst().allSatisfy { $0.npmi < best.npmi - 0.1 }, "runner-up \(result.ranked[1])")
    }

    /// Span markers: rice-span-texts.jsonl is rice-texts.jsonl with every " then" wrapped as "<< then>>"; the
    /// tokens inside the spans are exactly the " then" tokens, so the planted expert ranks first as with the token
    /// list, and the marker tokens themselves are not marked.
    @Test func spanMarkersFindThePlantedExpert() throws {
        let model = try LanguageModel(url: Fixtures.url("arch/tiny-qwen2moe-planted"))
        let texts = try Rice.texts(contentsOf: Fixtures.url("arch/rice-span-texts.jsonl"))
        let result = try Rice.run(model, texts: texts, marks: .span(start: "<<", end: ">>"))
        let byTokens = try Rice.run(model, texts: texts, markers: ["then"])
        #expect(result.span && result.markers == ["<<", ">>"])
        #expect(result.markedTokens == byTokens.markedTokens && result.markedTokens >= 6, "span marked \(result.markedTokens), tokens \(byTokens.markedTokens)")
        let best = try #require(result.ranked.first)
        #expect(best.layer == 1 && best.expert == 2 && best.npmi > 0.99, "ranked first: \(result.ranked.prefix(3))")
        #expect(result.ranked.dropFirst().allSatisfy { $0.npmi < best.npmi - 0.1 }, "runner-up \(result.ranked[1])")
        #expect(throws: VaneError.self) { try Rice.run(model, texts: ["no spans here"], marks: .span(start: "<<", end: ">>")) }
    }

    /// Which tokens a span marks, from their bytes: those beginning inside START … END, over every span; an
    /// unclosed start marks nothing.
    @Test func spanMarking() {
        let tokens = ["a", "<", "<b", "c", ">>", "d", "<<", "e", ">", ">", "<<", "f"].map { Array($0.utf8) }
        #expect(Rice.insideSpans(tokens, start: Array("<<".utf8), end: Array(">>".utf8))
                == [false, false, false, true, false, false, false, true, false, false, false, false])
    }

    @Test func npmiMatchesNumpy() throws {
        let model = try LanguageModel(url: Fixtures.url("arch/tiny-qwen2moe"))
        let moe = try #require(model.config.moe)
        let texts = try Rice.texts(contentsOf: Self.texts)
        let markers = ["then", "the"]
        let result = try Rice.run(model, texts: texts, markers: markers)

        // Routing and marks per token, read with plain hooks, for the numpy side.
        var routed: [[[Int]]] = [], marked: [Int] = []
        let layers = model.config.numHiddenLayers
        for text in texts {
            let ids = model.encode(text)
            let capture = Capture(), hooks = Hooks()
            capture.attach(to: hooks, points: (0..<layers).map { HookPoint.expertWeights($0) })
            _ = try model.transformer.forward(ids, cache: model.transformer.makeCache(capacity: ids.count), hooks: hooks, logits: .none)
            for t in 0..<ids.count {
                routed.append((0..<layers).map { l in
                    (0..<moe.experts).map { capture.tensors[.expertWeights(l)]!.data[t * moe.experts + $0] != 0 ? 1 : 0 }
                })
                let piece = model.tokenizer.decode([ids[t]]).trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
                marked.append(markers.contains(piece) ? 1 : 0)
            }
        }
        let dir = try scratch("rice-npmi")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.json"), output = dir.appendingPathComponent("out.json")
        try JSONSerialization.data(withJSONObject: ["routed": routed, "marked": marked]).write(to: input)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("rice_npmi.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path, input.path, output.path]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "rice_npmi.py failed (needs python3 with numpy)")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: [[Double]]])["npmi"]!
        #expect(result.tokens == marked.count)
        #expect(result.ranked.count == layers * moe.experts)
        for s in result.ranked {
            let want = expected[s.layer][s.expert]
            #expect(abs(s.npmi - want) <= 1e-9, "block \(s.layer) expert \(s.expert): \(s.npmi) vs numpy \(want)")
        }
    }

    @Test func denseModelIsRefused() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        #expect(throws: Error.self) { try Rice.run(model, texts: ["a then b"], markers: ["then"]) }
    }
}

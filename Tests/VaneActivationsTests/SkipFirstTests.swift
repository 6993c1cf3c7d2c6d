import Foundation
import Testing
import VaneActivations
import VaneEngine
import VaneTestSupport

/// `--skip-first`: spans clipped before any pooling, the setting recorded in the store, and the share of the mean
/// each position carries (the dominance warning), against hand computation.
@Suite struct SkipFirstTests {
    @Test func sharesOfTheMeanByHand() {
        // Σh = (12, 0), ‖Σh‖² = 144: shares 120/144, 12/144, 12/144, summing to 1.
        let shares = SpanPooler.shares(of: [[10, 0], [1, 1], [1, -1]] as [[Float]], sum: [12, 0])
        #expect(zip(shares, [120.0 / 144, 12.0 / 144, 12.0 / 144]).allSatisfy { abs($0 - $1) < 1e-12 }, "\(shares)")
        // Opposite rows: a position can carry more than the whole mean, another a negative share.
        let opposed = SpanPooler.shares(of: [[3, 0], [-1, 0], [0, 0]] as [[Float]], sum: [2, 0])
        #expect(opposed == [1.5, -0.5, 0])
    }

    @Test func spansStartAfterSkippedPositions() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let data = try folder.jsonl("data.jsonl", [["prompt": "The answer is forty two"], ["prompt": "Hi", "completion": " there"]])
        let n = model.encode("The answer is forty two").count
        func spans(_ positions: PositionMode, _ skip: Int?) throws -> [Range<Int>] {
            try ExtractionInput(url: data, model: model, span: .auto, positions: positions, skipFirst: skip, skipBad: false)
                .examples.map(\.span)
        }
        let promptCount = model.encode("Hi").count
        let total = promptCount + model.tokenizer.encode(" there", addSpecial: false).count
        #expect(try spans(.mean, nil) == [1..<n, promptCount..<total])          // default for mean: 1
        #expect(try spans(.last, nil) == [0..<n, promptCount..<total])          // default otherwise: 0
        #expect(try spans(.mean, 0) == [0..<n, promptCount..<total])
        #expect(try spans(.all, 3) == [3..<n, min(max(3, promptCount), total)..<total])
        // An input no longer than the skipped positions has nothing left to average: a clear error naming the option.
        let short = try folder.jsonl("short.jsonl", [["prompt": "Hi"]])
        let skip = model.encode("Hi").count
        let message = errorText { _ = try ExtractionInput(url: short, model: model, span: .auto, positions: .mean, skipFirst: skip, skipBad: false) }
        expect(message, contains: ["short.jsonl:1", "--skip-first \(skip)", "--skip-first 0"])
    }

    @Test func storeRecordsSkipFirst() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let data = try folder.jsonl("data.jsonl", [["prompt": "The answer is forty two"]])
        for (positions, skip, want) in [(PositionMode.mean, Int?.none, 1), (.mean, 2, 2), (.last, nil, 0)] {
            let output = folder.file("acts-\(positions)-\(want).h5")
            _ = try Extraction(model: model, data: data, options: ExtractionOptions(hooks: ["blocks.1.hook_resid_post"],
                               positions: positions, skipFirst: skip)).run(output: output, resume: false)
            let store = try ActivationStore(url: output)
            #expect(store.provenance.skipFirst == want)
            #expect(store.examples.spans[0].lowerBound == want)
            if want > 0 { expect(try store.summary(), contains: ["positions 0..<\(want) left out (--skip-first \(want))"]) }
        }
        // --resume refuses another setting, naming it.
        let output = folder.file("resume.h5")
        let options = ExtractionOptions(hooks: ["blocks.1.hook_resid_post"], positions: .mean)
        _ = try Extraction(model: model, data: data, options: options).run(output: output, resume: false)
        var other = options
        other.skipFirst = 0
        expect(errorText { _ = try Extraction(model: model, data: data, options: other).run(output: output, resume: true) },
               contains: ["skip_first 1", "this run has 0"])
    }
}

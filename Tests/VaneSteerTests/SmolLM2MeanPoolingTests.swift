import Foundation
import Testing
import VaneActivations
import VaneEngine
import VaneSteer
import VaneTestSupport

/// Mean pooling on the default model, whose first token (the attention sink) has a residual norm ~100× the
/// others'. On 16 happy and 16 sad plain sentences (Fixtures/smollm2/happy-sad.jsonl), a mean-diff direction at
/// blocks.15.hook_resid_post from the first 8 of each, scored by AUROC (Stats.auroc) on the other 16: with the sink
/// left out (the default, --skip-first 1) the classes separate; with it in, the sink dominates every mean and the
/// warning says so.
@Suite struct SmolLM2MeanPoolingTests {
    struct Result {
        var auroc: Double
        var dominance: SpanPooler.Dominance
    }

    func heldOutAUROC(skipFirst: Int, model: LanguageModel, folder: URL) throws -> Result {
        let output = folder.appendingPathComponent("skip\(skipFirst).h5")
        let options = ExtractionOptions(hooks: ["blocks.15.hook_resid_post"], positions: .mean, skipFirst: skipFirst)
        let summary = try Extraction(model: model, data: Fixtures.url("smollm2/happy-sad.jsonl"), options: options)
            .run(output: output, resume: false)
        let store = try ActivationStore(url: output)
        let rows = try store.read(hook: "blocks.15.hook_resid_post")
        let d = rows.shape[1]
        let labels = store.examples.labels
        func row(_ i: Int) -> [Double] { (0..<d).map { Double(rows.data[i * d + $0]) } }
        let train = Array(0..<16), test = Array(16..<labels.count)
        func mean(_ ids: [Int]) -> [Double] {
            ids.map(row).reduce([Double](repeating: 0, count: d)) { zip($0, $1).map(+) }.map { $0 / Double(ids.count) }
        }
        let direction = zip(mean(train.filter { labels[$0] == 1 }), mean(train.filter { labels[$0] == 0 })).map(-)
        func projection(_ i: Int) -> Double { zip(row(i), direction).reduce(0) { $0 + $1.0 * $1.1 } }
        let auroc = Stats.auroc(test.filter { labels[$0] == 1 }.map(projection), test.filter { labels[$0] == 0 }.map(projection))
        return Result(auroc: auroc, dominance: summary.dominance[0])
    }

    @Test(.enabled(if: Fixtures.smollm2 != nil))
    func leavingTheSinkOutSeparatesHappyFromSad() throws {
        let folder = try scratch("mean-pooling")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try LanguageModel(url: Fixtures.smollm2!)
        let with = try heldOutAUROC(skipFirst: 0, model: model, folder: folder)
        let without = try heldOutAUROC(skipFirst: 1, model: model, folder: folder)
        #expect(without.auroc >= 0.9, "held-out AUROC without the sink: \(without.auroc)")
        #expect(without.auroc >= with.auroc + 0.2, "AUROC with the sink \(with.auroc), without \(without.auroc)")
        // The sink carries most of every mean it is part of, and nothing dominates once it is out.
        #expect(with.dominance.position == 0 && with.dominance.counts[0] == 32 && with.dominance.share > 0.9
                && with.dominance.isSystematic,
                "\(with.dominance.summary ?? "no dominance recorded")")
        #expect(without.dominance.dominated == 0, "\(without.dominance.summary ?? "")")
    }
}

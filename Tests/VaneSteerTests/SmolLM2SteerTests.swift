import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTestSupport

/// The shipped vectors on the default model. Both need SmolLM2 in the cache; the sweep also needs
/// VANE_LONG_TESTS=1, since it generates for minutes (the full held-out measurement is in each vector's manifest).
@Suite struct SmolLM2SteerTests {
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("vectors")
    static let long = ProcessInfo.processInfo.environment["VANE_LONG_TESTS"] == "1"

    /// llama.cpp's vector for this model loads and passes the model check (no sha256: checked by model_hint).
    @Test(.enabled(if: Fixtures.smollm2 != nil))
    func llamaCppVectorFitsSmolLM2() throws {
        let model = try LanguageModel(url: Fixtures.smollm2!)
        let v = try ControlVector(contentsOf: Fixtures.url("smollm2/llamacpp-control-vector-mean.gguf"))
        try v.check(against: ModelIdentity(files: model.files))
        let hooks = Hooks()
        try Steering(vectors: [(v, 0)]).install(on: hooks, promptLength: 1, modelLayers: model.config.numHiddenLayers)
        #expect(hooks.isEmpty)
    }

    /// The shipped vectors record the model's identity as it was computed when they were made; today's identity of
    /// the same file must still match it (and is the sha256 `vane fetch` checks).
    @Test(.enabled(if: Fixtures.smollm2 != nil))
    func shippedVectorsMatchSmolLM2Identity() throws {
        let identity = ModelIdentity(files: try ModelFiles(url: Fixtures.smollm2!))
        #expect(try identity.sha256() == DefaultModel.sha256)
        for file in ["efficiency-smollm2.gguf", "concise-smollm2.gguf", "thinkedit-smollm2/smollm2-thinkedit.direction.gguf"] {
            let v = try ControlVector(contentsOf: Self.vectors.appendingPathComponent(file))
            #expect(v.modelSHA256 == DefaultModel.sha256, "\(file)")
            try v.check(against: identity)
        }
    }

    /// The fitted default sweep lands inside the range each vector's manifest swept by hand (efficiency ±0.2,
    /// concise ±0.3), at least half of it; the old default's ends (±8) warn, the fitted ends do not.
    @Test(.enabled(if: Fixtures.smollm2 != nil), arguments: [("efficiency-smollm2.gguf", 0.2), ("concise-smollm2.gguf", 0.3)])
    func defaultSweepFitsTheShippedVectors(_ file: String, _ manifestEnd: Double) throws {
        let model = try LanguageModel(url: Fixtures.smollm2!)
        let v = try ControlVector(contentsOf: Self.vectors.appendingPathComponent(file))
        let prompts = try PromptSet(contentsOf: Self.vectors.appendingPathComponent("data/questions-heldout.jsonl"))
        let measured = try SteerMeasurement(Steering(vectors: [(v, 1)]), model: model,
                                            tokens: try PromptSet.tokens(prompts.items[0], model: model))
        let sweep = Sweep.fitting(measured)
        #expect(sweep.hi <= manifestEnd && sweep.hi >= manifestEnd / 2 && sweep.lo == -sweep.hi, "\(file): \(sweep)")
        #expect(measured.warnings(at: sweep.hi, modelLayers: model.config.numHiddenLayers).isEmpty)
        #expect(measured.warnings(at: 8, modelLayers: model.config.numHiddenLayers).count == 1)
    }

    /// Mean generated length over the first 10 held-out questions falls monotonically as the shipped vectors'
    /// scale rises: Spearman ρ(scale, mean length) ≤ −0.9 over 5 scales.
    @Test(.enabled(if: Fixtures.smollm2 != nil && long), arguments: [("efficiency-smollm2.gguf", Float(0.1)), ("concise-smollm2.gguf", 0.3)])
    func lengthFallsWithScale(_ file: String, _ top: Float) throws {
        let model = try LanguageModel(url: Fixtures.smollm2!, decoding: .fast)
        let v = try ControlVector(contentsOf: Self.vectors.appendingPathComponent(file))
        try v.check(against: ModelIdentity(files: model.files))
        var prompts = try PromptSet(contentsOf: Self.vectors.appendingPathComponent("data/questions-heldout.jsonl"))
        prompts.items = Array(prompts.items.prefix(10))
        let scales = try Sweep(lo: Double(-top), hi: Double(top), step: Double(top / 2), decimals: 3).scales
        let rows = try SteerEval(model: model, steering: Steering(vectors: [(v, 1)]), maxTokens: 96).run(prompts, scales: scales)
        let rho = SteerEval.lengthSpearman(rows).rho ?? .nan
        #expect(rho <= -0.9, "\(file): Spearman(scale, mean length) = \(rho) over \(rows.map { ($0.scale, $0.meanLength) })")
        #expect(rows[2].firstTokenKL == 0 && rows[2].meanKL == 0, "scale 0 must leave the distributions unchanged")
    }

    /// steer-eval decodes its generations in batches; with `.exact` decoding its rows and texts are those of one
    /// generation at a time (the engine's BatchTests check the decoder itself against references).
    @Test(.enabled(if: Fixtures.smollm2 != nil))
    func steerEvalBatchedEqualsOneAtATime() throws {
        let model = try LanguageModel(url: Fixtures.smollm2!)
        let v = try ControlVector(contentsOf: Self.vectors.appendingPathComponent("efficiency-smollm2.gguf"))
        var prompts = try PromptSet(contentsOf: Self.vectors.appendingPathComponent("data/questions-heldout.jsonl"))
        prompts.items = Array(prompts.items.prefix(4))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func run(_ batch: Int) throws -> ([SteerEval.Row], [Data]) {
            var samples: [Data] = []
            let rows = try SteerEval(model: model, steering: Steering(vectors: [(v, 1)]), maxTokens: 24, batchSize: batch)
                .run(prompts, scales: [-0.2, 0, 0.1], onSample: { samples.append(try encoder.encode($0)) })
            return (rows, samples)
        }
        let (one, oneSamples) = try run(1)
        let (many, manySamples) = try run(16)
        #expect(one == many)
        #expect(oneSamples == manySamples)
        #expect(oneSamples.count == 12)
    }
}

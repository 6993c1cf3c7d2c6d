import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTensor
import VaneTestSupport

/// The risk measurement and warnings against HF transformers' activations of tiny-llama (reference.safetensors,
/// p1.resid_post.L, which Vane's forward matches within 1e-4), and steer-eval end to end through the CLI.
@Suite struct SteerMeasurementTests {
    let model: LanguageModel
    let tokens: [Int]
    let reference: [String: Tensor]

    init() throws {
        model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("tiny-llama/reference.json"))) as! [String: Any]
        tokens = (json["prompts"] as! [[String: Any]])[1]["ids"] as! [Int]
        reference = try loadReference(Fixtures.url("tiny-llama/reference.safetensors"))
    }

    /// Rows 1…T−1 of the reference resid_post of layer l (position 0, the sink, left out as the measurement does).
    func rows(_ l: Int) -> [[Double]] {
        let r = reference["p1.resid_post.\(l)"]!
        return (1..<r.shape[0]).map { t in (0..<64).map { Double(r.data[t * 64 + $0]) } }
    }

    @Test func measuresNormsAndSharesAsByHand() throws {
        // Directions: layer 1 the mean activation (a large share), layer 2 a fixed pseudo-random one.
        let mean1 = (0..<64).map { c in Float(rows(1).map { $0[c] }.reduce(0, +)) }
        var rng = TestRandom(seed: 3)
        let random2 = (0..<64).map { _ in Float(rng.normal()) }
        let vector = ControlVector(directions: [1: mean1, 2: random2], width: 64, modelHint: "llama")
        let ablate = try SteerMeasurement(Steering(vectors: [(vector, 1)], op: .ablate), model: model, tokens: tokens)
        for site in ablate.sites {
            let l = site.step.layer
            let d = (l == 1 ? mean1 : random2).map(Double.init)
            let unit = d.map { $0 / d.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            let norms = rows(l).map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            let shares = zip(rows(l), norms).map { h, n in abs(zip(h, unit).reduce(0) { $0 + $1.0 * $1.1 }) / n }
            let median = norms.sorted()[norms.count / 2]  // T − 1 = 17 rows: odd
            #expect(abs(site.residualNorm - median) <= 1e-4 * median, "layer \(l): median ‖h‖ \(site.residualNorm) vs \(median)")
            let share = shares.reduce(0, +) / Double(shares.count)
            #expect(abs(site.directionShare - share) <= 1e-4, "layer \(l): share \(site.directionShare) vs \(share)")
        }
        // Ablating both layers of 3 at every position, one direction carrying most of the norm: both warnings.
        let warnings = ablate.warnings(modelLayers: 3)
        let top = ablate.sites.map(\.directionShare).max()!
        #expect(top >= SteerMeasurement.directionShareLimit)
        #expect(warnings.count == 2, "\(warnings)")
        expect(warnings.joined(separator: "\n"), contains: ["\(Int((top * 100).rounded()))% of the activation's norm",
                                                            "blocks.1.hook_resid_post", "every position over 2 of 3 layers"])
        // Ablating only generated positions of layer 2 (a random direction, a small share): no warning.
        let mild = try SteerMeasurement(Steering(vectors: [(vector, 1)], layers: [2], positions: .generated, op: .ablate),
                                        model: model, tokens: tokens)
        #expect(mild.warnings(modelLayers: 3).isEmpty, "\(mild.warnings(modelLayers: 3))")
        // add: ‖s·v‖ / median ‖h‖, and a warning at and above 0.1 of it.
        let add = try SteerMeasurement(Steering(vectors: [(vector, 1)], layers: [2]), model: model, tokens: tokens)
        let site = try #require(add.sites.first)
        let vnorm = random2.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        let limit = SteerMeasurement.addedShareLimit * site.residualNorm / vnorm  // the scale where it starts
        #expect(add.warnings(at: limit * 0.9, modelLayers: 3).isEmpty)
        expect(add.warnings(at: limit * 1.1, modelLayers: 3).first ?? "", contains: ["0.11× the activation's norm", "blocks.2.hook_resid_post"])
    }

    @Test func steerEvalEndToEnd() throws {
        let dir = try scratch("steer-eval")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = TestRandom(seed: 9)
        let vector = ControlVector(directions: [1: (0..<64).map { _ in Float(rng.normal()) }, 2: (0..<64).map { _ in Float(rng.normal()) }],
                                   width: 64, modelHint: "llama")
        let v = dir.appendingPathComponent("v.gguf")
        try vector.write(to: v)
        let prompts = dir.appendingPathComponent("p.jsonl")
        try Data("{\"prompt\": \"The answer is\", \"answer\": 4}\n{\"prompt\": \"Let x be\"}\n".utf8).write(to: prompts)
        let texts = dir.appendingPathComponent("t.jsonl")
        let result = try VaneProcess.vane(["steer-eval", Fixtures.url("tiny-llama.f32.gguf").path, prompts.path,
            "--steer", v.path + ":0.5@layers=2", "--sweep=-0.1:0.1:0.1", "--max-tokens", "3", "--json",
            "--project", v.path + "@1", "--score-regex", "[a-z]", "--texts", texts.path,
            "--plot", dir.appendingPathComponent("p.svg").path])
        try #require(result.status == 0, "\(result.output)")
        let json = String(result.output[result.output.firstIndex(of: "{")!...result.output.lastIndex(of: "}")!])
        let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        let rows = report["rows"] as! [[String: Any]]
        #expect(rows.map { $0["scale"] as! Double } == [-0.1, 0, 0.1])
        #expect(json.contains("\"scale\" : -0.1,") || json.contains("\"scale\" : -0.1\n"), "scales as written")
        #expect(rows.allSatisfy { $0["answered"] as? Int == 1 && $0["projection"] is Double && $0["regex_share"] is Double })
        let lines = try String(contentsOf: texts, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(lines.map { "\($0["prompt_index"]!)@\($0["scale"]!)" } == ["0@-0.1", "0@0", "0@0.1", "1@-0.1", "1@0", "1@0.1"])
        #expect(lines[0]["correct"] is Bool && lines[3]["correct"] == nil && lines.allSatisfy { $0["regex_matches"] is Int })
    }
}

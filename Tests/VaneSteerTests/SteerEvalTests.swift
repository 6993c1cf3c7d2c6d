import Foundation
import Testing
import VaneModelIO
import VaneSteer
import VaneTestSupport

/// steer-eval's arithmetic and output: the sweep as written, the Wilson interval and Spearman's ρ against scipy and
/// closed forms, the JSON report, and the `--steer` per-vector syntax.
@Suite struct SteerEvalTests {
    @Test func sweepKeepsTheDecimalsAsWritten() throws {
        let sweep = try Sweep(parsing: "-0.3:0.3:0.1")
        #expect(sweep.scales == [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3])
        #expect(sweep.decimals == 1 && sweep.description == "-0.3:0.3:0.1")
        #expect(try Sweep(parsing: "-8:8:2").scales == [-8, -6, -4, -2, 0, 2, 4, 6, 8])
        #expect(try Sweep(parsing: "0:0.1:0.025").scales == [0, 0.025, 0.05, 0.075, 0.1])
        #expect(try Sweep(parsing: "0:1e-3:5e-4").scales == [0, 0.0005, 0.001])
        for bad in ["1:0:1", "0:1:0", "0:1", "a:b:c", "0:1:-1", "0:1e6:1e-3"] {
            #expect(throws: VaneError.self, "\(bad)") { try Sweep(parsing: bad) }
        }
        // JSON prints the shortest decimal of each scale: what the user wrote, no float32 noise.
        let row = SteerEval.Row(scale: sweep.scales[0], meanLength: 1, medianLength: 1, firstTokenKL: 0, meanKL: 0,
                                entropyBits: 0, answered: 0)
        let text = String(decoding: try SteerEval.json([row]), as: UTF8.self)
        #expect(text.contains("\"scale\" : -0.3\n"), "\(text)")
    }

    @Test func fittedSweepFollowsTheRule() throws {
        // HI is the 1-2-5 number nearest (log scale) to the factor where s·‖v‖ reaches 3% of the activation's norm:
        // 0.03/share = 0.2, 1, 10, 0.1 exactly, and 0.714 (nearer 1 than 0.5 in log scale).
        for (share, hi) in [(0.15, 0.2), (0.03, 1.0), (0.003, 10.0), (0.3, 0.1), (0.042, 1.0)] {
            let target = Sweep.addedShareAtEnds / share
            let sweep = Sweep.fittingAddedShare(share)
            #expect(sweep.hi == hi && sweep.lo == -hi && abs(sweep.step - hi / 4) < 1e-12, "share \(share): target \(target), got \(sweep)")
        }
    }

    @Test func wilsonAgainstClosedForms() {
        // k = 0: the interval is [0, z²/(n + z²)]; k = n: [n/(n + z²), 1].
        let z = 1.959963984540054
        for n in [1, 10, 40] {
            let zero = Stats.wilson(successes: 0, trials: n), all = Stats.wilson(successes: n, trials: n)
            #expect(zero.low == 0 && abs(zero.high - z * z / (Double(n) + z * z)) < 1e-12)
            #expect(abs(all.low - Double(n) / (Double(n) + z * z)) < 1e-12 && abs(all.high - 1) < 1e-12)
        }
        // ρ = 1 − 6Σd²/(n(n² − 1)) without ties: ranks (1,2,3,4) against (1,3,2,4) give 1 − 12/60.
        #expect(abs(Stats.spearman([1, 2, 3, 4], [10, 30, 20, 40]) - 0.8) < 1e-12)
    }

    @Test(.enabled(if: Python.available("scipy")))
    func wilsonAndSpearmanAgreeWithScipy() throws {
        let counts = [(0, 10), (3, 10), (10, 10), (7, 40), (1, 1), (13, 37), (20, 20)]
        let x: [Double] = [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3]
        let y: [Double] = [128, 128, 125.2, 61.2, 27.3, 27.3, 13.6]  // ties on both ends
        let script = """
            import json
            from scipy.stats import binomtest, spearmanr
            cis = [list(binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")) for k, n in \(counts.map { [$0.0, $0.1] })]
            print(json.dumps({"wilson": cis, "rho": spearmanr(\(x), \(y)).statistic}))
            """
        let result = try VaneProcess.run("/usr/bin/env", ["python3", "-c", script])
        try #require(result.status == 0, "\(result.output)")
        let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as! [String: Any]
        let cis = json["wilson"] as! [[Double]]
        for ((k, n), ci) in zip(counts, cis) {
            let w = Stats.wilson(successes: k, trials: n)
            #expect(abs(w.low - ci[0]) < 1e-9 && abs(w.high - ci[1]) < 1e-9, "\(k)/\(n): Vane \(w), scipy \(ci)")
        }
        let rho = json["rho"] as! Double
        #expect(abs(Stats.spearman(x, y) - rho) < 1e-12, "Vane \(Stats.spearman(x, y)), scipy \(rho)")
    }

    @Test func jsonReportHasSortedKeysAndSaysWhySpearmanIsUndefined() throws {
        let rows = [-1.0, 0, 1].map {
            SteerEval.Row(scale: $0, meanLength: 128, medianLength: 128, firstTokenKL: 0, meanKL: 0, entropyBits: 1,
                          answered: 10, accuracy: 0.3, accuracyLow: 0.1, accuracyHigh: 0.6)
        }
        let data = try SteerEval.json(rows)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let spearman = object["spearman_scale_mean_length"] as! [String: Any]
        #expect(spearman["rho"] is NSNull)
        expect(spearman["reason"] as? String ?? "", contains: ["128.0 at every scale"])
        let text = String(decoding: data, as: UTF8.self)
        let keys = ["accuracy", "accuracy_high", "accuracy_low", "answered", "entropy_bits", "first_token_kl", "mean_kl",
                    "mean_length", "median_length", "projection", "regex_matches", "regex_share", "scale"]
        let positions: [String.Index] = keys.map { key in text.range(of: "\"" + key + "\" :")!.lowerBound }
        #expect(positions == positions.sorted(), "keys not in sorted order: \(text)")
        #expect(text.contains("\"projection\" : null"))
        #expect(!text.lowercased().contains("nan"))
        var varied = rows
        varied[0].meanLength = 200
        // Lengths 200, 128, 128 against scales −1, 0, 1: ranks (1, 2, 3) and (3, 1.5, 1.5), ρ = −√3/2.
        let rho = try #require(SteerEval.lengthSpearman(varied).rho)
        #expect(abs(rho + 3.0.squareRoot() / 2) < 1e-12 && SteerEval.lengthSpearman(varied).reason == nil)
    }

    @Test func steerSpecParsesPerVectorSettings() throws {
        let spec = try SteerSpec(parsing: "v.gguf:0.1@layers=6-18,op=ablate")
        #expect(spec.path == "v.gguf" && spec.scale == 0.1 && spec.layers == Array(6...18) && spec.op == .ablate)
        #expect(spec.hook == nil && spec.positions == nil)
        let list = try SteerSpec(parsing: "dir/v.gguf:-2@layers=3,5,7,hook=attn_out,positions=generated,op=clamp:-1.5")
        #expect(list.scale == -2 && list.layers == [3, 5, 7] && list.hook == .attnOut && list.positions == .generated)
        #expect(list.op == .clamp(-1.5))
        let plain = try SteerSpec(parsing: "v.gguf")
        #expect(plain.scale == 1 && plain.layers == nil && plain.op == nil)
        let term = plain.term(ControlVector(directions: [1: [1, 0]], width: 2, modelHint: "llama"),
                              defaults: .init(layers: [1], hook: .mlpOut, positions: .prompt, op: .ablate))
        #expect(term.layers == [1] && term.hook == .mlpOut && term.positions == .prompt && term.op == .ablate)
        expect(errorText { _ = try SteerSpec(parsing: "v.gguf:1@layer=3") }, contains: ["\"layer=3\"", "layers=…"])
        expect(errorText { _ = try SteerSpec(parsing: "v.gguf:1@op=ablate,op=add") }, contains: ["op given twice"])
        expect(errorText { _ = try SteerSpec(parsing: "v.gguf:1@op=scale") }, contains: ["\"scale\"", "add, ablate, clamp:VALUE or rotate:DEG"])
        expect(errorText { _ = try SteerSpec(parsing: "v.gguf:x@op=add") }, contains: ["scale \"x\""])
        expect(errorText { _ = try SteerSpec(parsing: "v.gguf@positions=middle") }, contains: ["\"middle\" is not all, prompt, generated, inside:M1,M2"])
    }
}

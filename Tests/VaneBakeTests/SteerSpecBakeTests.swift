import Foundation
import Testing
import VaneBake
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTestSupport

// Per-vector steering options (`--steer V:S@layers=…,hook=…,op=…`), checked against what they stand for:
// a baked edit (an independent path: changed weights instead of hooks), and plain hooks written by hand.
// Tolerance: max |Δlogit| ≤ 1e-4 on the tiny f32 models, 1e-3 on SmolLM2 (as the baked-equals-hooked tests).

/// The steering that `--steer` arguments give with no global options.
func steering(_ arguments: [String]) throws -> Steering {
    Steering(terms: try arguments.map { text in
        let spec = try SteerSpec(parsing: text)
        return spec.term(try ControlVector(contentsOf: URL(fileURLWithPath: spec.path)), defaults: .init())
    })
}

@Suite("Per-vector steering") struct PerVectorSteering {
    @Test("two per-vector ablations (hook=attn_out, hook=mlp_out) over given layers = edit ablate of those layers",
          arguments: bakeCases.filter { $0.output.hasSuffix(".gguf") })
    func ablateReproducesEdit(_ c: Case) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try ModelInput(url: c.model)
        let n = input.config.numHiddenLayers
        let (_, url) = try randomVector(width: input.config.hiddenSize, layers: Array(1..<n), in: dir, seed: 5)
        let layers = n > 4 ? Array(2...(n - 2)) : [1, 2]
        let out = dir.appendingPathComponent(c.output)
        try DirectionEdits.ablate(input, direction: try .init(contentsOf: url), layers: layers, targets: [.attnOutput, .ffnDown],
                                  normPreserve: false, to: OutputOptions(url: out), command: "test")
        let range = "\(layers.first!)-\(layers.last!)"
        let s = try steering(["\(url.path):1@layers=\(range),hook=attn_out,op=ablate",
                              "\(url.path)@op=ablate,layers=\(range),hook=mlp_out"])
        let hooks = Hooks()
        try s.install(on: hooks, promptLength: c.tokens.count, modelLayers: n)
        check(try logits(out, c.tokens), try logits(c.model, c.tokens, hooks: hooks), atol: c.atol, "per-vector ablate \(c)")
        // The same steering at other layers is not the edit: the comparison can fail.
        let other = try steering(["\(url.path):1@layers=1,hook=attn_out,op=ablate"])
        let otherHooks = Hooks()
        try other.install(on: otherHooks, promptLength: c.tokens.count, modelLayers: n)
        let delta = zip(try logits(out, c.tokens), try logits(c.model, c.tokens, hooks: otherHooks)).map { abs($0 - $1) }.max() ?? 0
        #expect(delta > 10 * c.atol, "ablating layer 1 only should differ from the edit of \(range); max |Δ| \(delta)")
    }

    @Test("two added vectors at one point = their scaled sum added by hand; different layers and positions apply apart")
    func mixingAddsUp() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.url("tiny-llama.f32.gguf")
        let (v1, url1) = try randomVector(width: 64, layers: [1, 2], in: dir, seed: 21)
        let other = dir.appendingPathComponent("second")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let (v2, url2) = try randomVector(width: 64, layers: [1, 2], in: other, seed: 42)
        let tokens = tinyTokens
        let cut = 4
        let s = try steering(["\(url1.path):0.75", "\(url2.path):-1.5@layers=2", "\(url2.path):2@layers=1,positions=generated"])
        let hooks = Hooks()
        try s.install(on: hooks, promptLength: cut, modelLayers: 3)
        // By hand: block 1 gets 0.75·v1 everywhere and 2·v2 from position `cut`; block 2 gets 0.75·v1 − 1.5·v2.
        let byHand = Hooks()
        for l in [1, 2] {
            byHand.add(.residPost(l)) { a in
                for (t, position) in a.positions.enumerated() {
                    let row = a.row(t)
                    let s2: Float = l == 2 ? -1.5 : (position >= cut ? 2 : 0)
                    for i in 0..<64 { row[i] += 0.75 * v1.directions[l]![i] + s2 * v2.directions[l]![i] }
                }
            }
        }
        check(try logits(model, tokens, hooks: hooks), try logits(model, tokens, hooks: byHand), atol: 1e-4, "mixed vectors")
    }
}

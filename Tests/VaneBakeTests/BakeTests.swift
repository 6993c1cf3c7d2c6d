import Foundation
import VaneRecipes
import Testing
import VaneBake
import VaneEdit
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTensor
import VaneTestSupport
import VaneTokenizer

// Baked equals hooked: each edited model, run plainly, must give the logits of the original model run with the
// hook that the edit stands for (an independent path through the forward pass: hooks on live activations rather
// than changed weights). Tolerance: max |Δlogit| ≤ 1e-3 on f32 outputs (the tiny f32 models land near 1e-5).

/// Deterministic pseudo-random values in (−1, 1).
func noise(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<n).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Double(s >> 11) / Double(1 << 53)) * 2 - 1
    }
}

func tempDir() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-bake-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A vector with a random direction at `layers`, written to `dir`.
func randomVector(width: Int, layers: [Int], hook: SteerHook = .residPost, in dir: URL, seed: UInt64 = 7) throws -> (ControlVector, URL) {
    var d: [Int: [Float]] = [:]
    for l in layers { d[l] = noise(width, seed: seed &+ UInt64(l)) }
    let v = ControlVector(directions: d, width: width, hook: hook, modelHint: "llama")
    let url = dir.appendingPathComponent("v-\(hook).gguf")
    try v.write(to: url)
    return (v, url)
}

func unit(_ v: [Float]) -> [Float] {
    let n = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    return v.map { Float(Double($0) / n) }
}

/// h ← h − (h·u) u on each row of width `width` starting at `offset` within rows of `stride`.
func project(_ a: Hooks.Activation, _ u: [Float], rowParts: [Int]) {
    let d = u.count
    for t in 0..<a.shape[0] {
        let row = a.row(t)
        for part in rowParts {
            var dot = 0.0
            for i in 0..<d { dot += Double(row[part * d + i]) * Double(u[i]) }
            for i in 0..<d { row[part * d + i] -= Float(dot) * u[i] }
        }
    }
}

func logits(_ url: URL, _ tokens: [Int], hooks: Hooks? = nil) throws -> [Float] {
    let t = try Transformer(url: url)
    return try t.forward(tokens, cache: t.makeCache(capacity: tokens.count), hooks: hooks, logits: .all).data
}

func check(_ actual: [Float], _ expected: [Float], atol: Float, _ label: String) {
    if let msg = compare(actual, expected, atol: atol, label: label) { Issue.record(Comment(rawValue: msg)) }
}

struct Case: Sendable, CustomStringConvertible {
    var model: URL
    var tokens: [Int]
    var atol: Float
    var output: String
    var description: String { model.lastPathComponent + " → " + output }
}

let tinyTokens = [1, 17, 42, 99, 5, 230, 64, 8, 300, 12]
let smolTokens = [1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 2, 198, 1, 520, 9531, 198]

var bakeCases: [Case] {
    var out = [
        Case(model: Fixtures.url("tiny-llama.f32.gguf"), tokens: tinyTokens, atol: 1e-4, output: "out.gguf"),
        Case(model: Fixtures.url("tiny-qwen2.f32.gguf"), tokens: tinyTokens, atol: 1e-4, output: "out.gguf"),
        Case(model: Fixtures.url("tiny-llama.q8_0.gguf"), tokens: tinyTokens, atol: 1e-4, output: "out.gguf"),
        Case(model: Fixtures.url("tiny-llama"), tokens: tinyTokens, atol: 1e-4, output: "out-folder"),
    ]
    if let smol = Fixtures.smollm2 { out.append(Case(model: smol, tokens: smolTokens, atol: 1e-3, output: "out.gguf")) }
    // Real qwen2 files in K-quants: the 0.5B (scripts/test.sh fetches it), and the 1.5B the recorded ThinkEdit and
    // task-arithmetic runs edit, with VANE_LONG_TESTS=1 (its edited copies are gigabytes). The ids are valid tokens.
    if let qwen = Fixtures.qwenCoder05 { out.append(Case(model: qwen, tokens: smolTokens, atol: 1e-3, output: "out.gguf")) }
    if ProcessInfo.processInfo.environment["VANE_LONG_TESTS"] == "1", let qwen = Fixtures.fetched("qwen2.5-coder-1.5b") {
        out.append(Case(model: qwen, tokens: smolTokens, atol: 1e-3, output: "out.gguf"))
    }
    // Llama 3 (scaled RoPE: the GGUF output gains rope_freqs.weight), Mistral (window 6 < 10 tokens), Qwen3.
    for family in ["llama3", "mistral", "qwen3"] {
        out.append(Case(model: ArchFixtures.folder(family), tokens: tinyTokens, atol: 1e-4, output: "out.gguf"))
    }
    return out
}

/// OLMo 2 normalizes o_proj's and down_proj's outputs before the residual stream: head edits stay equal to the
/// hooked edit of attn.hook_result (before the norm); ablate and add at those writers are refused with the reason.
@Suite("Edits of a post-norm family") struct PostNormEdits {
    @Test func headsStayExactAblateAndAddAreRefused() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = ArchFixtures.folder("olmo2")
        let input = try ModelInput(url: model)
        let cfg = input.config
        let (v, url) = try randomVector(width: cfg.hiddenSize, layers: [1, 2], in: dir)
        let out = dir.appendingPathComponent("heads.gguf")
        try DirectionEdits.heads(input, direction: try .init(contentsOf: url), heads: [(1, 0), (2, 3)], to: OutputOptions(url: out), command: "test")
        let hooks = Hooks()
        hooks.add(.attnResult(1)) { project($0, unit(v.directions[1]!.map { -$0 }), rowParts: [0]) }
        hooks.add(.attnResult(2)) { project($0, unit(v.directions[2]!.map { -$0 }), rowParts: [3]) }
        check(try logits(out, tinyTokens), try logits(model, tinyTokens, hooks: hooks), atol: 1e-4, "olmo2 heads")

        for targets: [Bake.Writer] in [[.attnOutput], [.ffnDown], [.embed, .ffnDown]] {
            let message = errorText {
                try DirectionEdits.ablate(input, direction: try .init(contentsOf: url), layers: nil, targets: targets,
                                          normPreserve: false, to: OutputOptions(url: dir.appendingPathComponent("a.gguf")), command: "test")
            }
            expect(message, contains: ["olmo2", "RMSNorm follows", "is not projecting a direction out of hook_"])
        }
        let message = errorText {
            try DirectionEdits.add(input, direction: try .init(contentsOf: url), scale: 1, layers: nil,
                                   to: OutputOptions(url: dir.appendingPathComponent("b.gguf")), command: "test")
        }
        expect(message, contains: ["olmo2", "hook_mlp_out"])
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("a.gguf").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("b.gguf").path))
    }
}

@Suite("Baked equals hooked") struct BakedEqualsHooked {
    @Test("edit heads = projecting v out of those heads' attn.hook_result", arguments: bakeCases)
    func heads(_ c: Case) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try ModelInput(url: c.model)
        let cfg = input.config
        let last = cfg.numHiddenLayers - 1
        let (v, url) = try randomVector(width: cfg.hiddenSize, layers: Array(1...last), in: dir)
        let chosen = [(1, 0), (1, cfg.numAttentionHeads - 1), (last, 1)]
        let out = dir.appendingPathComponent(c.output)
        try DirectionEdits.heads(input, direction: try .init(contentsOf: url), heads: chosen, to: OutputOptions(url: out), command: "test")

        let hooks = Hooks()
        for l in Set(chosen.map(\.0)) {
            let u = unit(v.directions[l]!.map { -$0 })
            let parts = chosen.filter { $0.0 == l }.map(\.1)
            hooks.add(.attnResult(l)) { project($0, u, rowParts: parts) }
        }
        check(try logits(out, c.tokens), try logits(c.model, c.tokens, hooks: hooks), atol: c.atol, "heads \(c)")
        let provenance = Dictionary(uniqueKeysWithValues: try ModelFiles(url: out).provenance)
        #expect(provenance["vane.edit.recipe"] == "heads" && provenance["vane.edit.heads"] == "1.0,1.\(cfg.numAttentionHeads - 1),\(last).1")
    }

    @Test("edit ablate = projecting r out of hook_attn_out and hook_mlp_out", arguments: bakeCases)
    func ablate(_ c: Case) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try ModelInput(url: c.model)
        let cfg = input.config
        let layers = Array(1..<cfg.numHiddenLayers)
        let (v, url) = try randomVector(width: cfg.hiddenSize, layers: layers, in: dir, seed: 99)
        let out = dir.appendingPathComponent(c.output)
        try DirectionEdits.ablate(input, direction: try .init(contentsOf: url), layers: nil, targets: [.attnOutput, .ffnDown],
                                  normPreserve: false, to: OutputOptions(url: out), command: "test")
        let hooks = Hooks()
        for l in layers {
            let u = unit(v.directions[l]!)
            hooks.add(.attnOut(l)) { project($0, u, rowParts: [0]) }
            hooks.add(.mlpOut(l)) { project($0, u, rowParts: [0]) }
        }
        check(try logits(out, c.tokens), try logits(c.model, c.tokens, hooks: hooks), atol: c.atol, "ablate \(c)")
    }

    @Test("edit ablate of the embedding (untied) = projecting r out of hook_embed")
    func ablateEmbed() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.url("tiny-llama.f32.gguf")
        let input = try ModelInput(url: model)
        #expect(!input.config.tieWordEmbeddings)
        let (v, url) = try randomVector(width: input.config.hiddenSize, layers: [1, 2], in: dir, seed: 3)
        let out = dir.appendingPathComponent("embed.gguf")
        try DirectionEdits.ablate(input, direction: try .init(contentsOf: url), layers: [2], targets: [.embed, .ffnDown],
                                  directionLayer: 1, normPreserve: false, to: OutputOptions(url: out), command: "test")
        let hooks = Hooks()
        let u = unit(v.directions[1]!)
        hooks.add(.embed) { project($0, u, rowParts: [0]) }
        hooks.add(.mlpOut(2)) { project($0, u, rowParts: [0]) }
        check(try logits(out, tinyTokens), try logits(model, tinyTokens, hooks: hooks), atol: 1e-4, "ablate embed")
    }

    @Test("edit add = steering with add at the same layers and scale", arguments: bakeCases.filter { $0.output.hasSuffix(".gguf") })
    func add(_ c: Case) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try ModelInput(url: c.model)
        let cfg = input.config
        for hook in [SteerHook.residPost, .attnOut] {
            let (v, url) = try randomVector(width: cfg.hiddenSize, layers: Array(1..<cfg.numHiddenLayers), hook: hook, in: dir, seed: 11)
            let layers = [1, cfg.numHiddenLayers - 1]
            let out = dir.appendingPathComponent("add-\(hook).gguf")
            try DirectionEdits.add(input, direction: try .init(contentsOf: url), scale: -2.5, layers: layers, to: OutputOptions(url: out), command: "test")
            let hooks = Hooks()
            try Steering(vectors: [(v, -2.5)], layers: layers, op: .add).install(on: hooks, promptLength: c.tokens.count, modelLayers: cfg.numHiddenLayers)
            check(try logits(out, c.tokens), try logits(c.model, c.tokens, hooks: hooks), atol: c.atol, "add \(hook) \(c)")
            let written = try GGUFFile(url: out)
            let bias = hook == .residPost ? "ffn_down" : "attn_output"
            #expect(written.tensors.contains { $0.name == "blk.1.\(bias).bias" && $0.type == .f32 })
        }
    }
}

@Suite("Edited files") struct EditedFiles {
    @Test("untouched tensors are byte-identical, edited ones F32, provenance recorded")
    func bytes() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.smollm2 ?? Fixtures.url("tiny-llama.q8_0.gguf")
        let input = try ModelInput(url: model)
        let (_, url) = try randomVector(width: input.config.hiddenSize, layers: [1, 2], in: dir)
        let out = dir.appendingPathComponent("heads.gguf")
        try DirectionEdits.heads(input, direction: try .init(contentsOf: url), heads: [(2, 1)], to: OutputOptions(url: out), command: "vane edit heads")
        let a = try GGUFFile(url: model), b = try GGUFFile(url: out)
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) {
            if x.name == "blk.2.attn_output.weight" {
                #expect(y.type == .f32 && y.shape == x.shape)
            } else {
                #expect(x.type == y.type && x.shape == y.shape, "\(x.name)")
                #expect(Data(x.bytes) == Data(y.bytes), "\(x.name) differs from the source")
            }
        }
        let provenance = Dictionary(uniqueKeysWithValues: try ModelFiles(url: out).provenance)
        #expect(provenance["vane.edit.recipe"] == "heads")
        #expect(provenance["vane.edit.heads"] == "2.1")
        #expect(provenance["vane.edit.direction_sha256"] == (try SHA256.hex(ofFile: url)))
        #expect(provenance["vane.edit.source_sha256"] == (try SHA256.hex(ofFile: model)))
        _ = try LanguageModel(url: out)
    }

    @Test("norm-preserving ablation keeps each row's norm and removes most of r")
    func normPreserve() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.url("tiny-llama.f32.gguf")
        let input = try ModelInput(url: model)
        let (v, url) = try randomVector(width: input.config.hiddenSize, layers: [1], in: dir)
        let out = dir.appendingPathComponent("np.gguf")
        try DirectionEdits.ablate(input, direction: try .init(contentsOf: url), layers: [1], targets: [.ffnDown],
                                  normPreserve: true, to: OutputOptions(url: out), command: "test")
        let before = try input.values("blk.1.ffn_down.weight"), after = try ModelInput(url: out).values("blk.1.ffn_down.weight")
        let (d, n) = (before.shape[0], before.shape[1])
        let u = unit(v.directions[1]!)
        var along = 0.0, alongBefore = 0.0
        for i in 0..<d {
            let norm = { (t: Tensor) in (0..<n).reduce(0.0) { $0 + Double(t.data[i * n + $1]) * Double(t.data[i * n + $1]) }.squareRoot() }
            #expect(abs(norm(after) - norm(before)) <= 1e-4 * norm(before), "row \(i)")
        }
        for j in 0..<n {
            var a = 0.0, b = 0.0
            for i in 0..<d { a += Double(after.data[i * n + j]) * Double(u[i]); b += Double(before.data[i * n + j]) * Double(u[i]) }
            along += a * a; alongBefore += b * b
        }
        #expect(along < 0.05 * alongBefore, "‖r̂ᵀW‖² went from \(alongBefore) to \(along)")
    }
}

@Suite("Head attribution") struct Attribution {
    @Test("a head whose result is aligned with −d ranks first")
    func planted() throws {
        let (H, d, n) = (6, 16, 5)
        let directions: [Int: [Float]] = [1: noise(d, seed: 1), 2: noise(d, seed: 2), 3: noise(d, seed: 3)]
        var results: [Int: [Float]] = [:]
        for l in directions.keys { results[l] = noise(n * H * d, seed: 100 + UInt64(l)).map { $0 * 0.5 } }
        let u = unit(directions[2]!)
        for i in 0..<n { for c in 0..<d { results[2]![(i * H + 4) * d + c] += -3 * u[c] } }
        let scores = HeadAttribution.scores(results: results, examples: n, heads: H, width: d, directions: directions)
        #expect(scores.count == 3 * H)
        let top = HeadAttribution.ranked(scores)[0]
        #expect(top.layer == 2 && top.head == 4, "top head is \(top.name)")
        // Independent check of the planted score: −mean_i result_i·û.
        var expected = 0.0
        for i in 0..<n { for c in 0..<d { expected -= Double(results[2]![(i * H + 4) * d + c]) * Double(u[c]) } }
        #expect(abs(top.score - expected / Double(n)) < 1e-4)
    }

    @Test("the model path ranks a head planted through o_proj first")
    func plantedInModel() throws {
        // Score the tiny model along d = −(the mean result of head 2.3 over the tokens), measured by a capture
        // hook: head 2.3 must rank first since its result has the largest projection on its own mean.
        let model = Fixtures.url("tiny-llama.f32.gguf")
        let t = try Transformer(url: model)
        let hooks = Hooks(), capture = Capture()
        capture.attach(to: hooks, points: [.attnResult(2)])
        _ = try t.forward(tinyTokens, cache: t.makeCache(capacity: tinyTokens.count), hooks: hooks, logits: .none)
        let r = capture.tensors[.attnResult(2)]!
        let (T, H, d) = (r.shape[0], r.shape[1], r.shape[2])
        var mean = [Float](repeating: 0, count: d)
        // Over positions 1…T−1: scores from JSONL data leave position 0 (the attention sink) out, as mean pooling does.
        for tt in 1..<T { for c in 0..<d { mean[c] += r.data[(tt * H + 3) * d + c] / Float(T - 1) } }
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.jsonl")
        let m = try LanguageModel(url: model)
        let text = m.tokenizer.decode(tinyTokens)
        try Data("{\"prompt\": \(String(decoding: try JSONEncoder().encode(text), as: UTF8.self)), \"label\": 0}\n".utf8).write(to: data)
        let scores = try HeadAttribution.scores(model: m, data: data, span: .input, directions: [2: mean.map { -$0 * 10 }])
        let top = HeadAttribution.ranked(scores)[0]
        #expect(top.layer == 2 && top.head == 3, "top head is \(top.name)")
    }
}

@Suite("Bad input") struct BadInput {
    @Test("head index out of range, width mismatch, top-k too large, output over the input, add into a folder")
    func errors() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.url("tiny-llama.f32.gguf")
        let input = try ModelInput(url: model)
        let (_, url) = try randomVector(width: input.config.hiddenSize, layers: [1, 2], in: dir)
        let direction = try DirectionEdits.Direction(contentsOf: url)
        let out = OutputOptions(url: dir.appendingPathComponent("o.gguf"))

        let e1 = #expect(throws: VaneError.self) {
            try DirectionEdits.heads(input, direction: direction, heads: [(1, 4)], to: out, command: "t")
        }
        #expect(e1?.message.contains("head 4 at layer 1 is out of range") == true, "\(String(describing: e1))")

        let (_, wide) = try randomVector(width: 65, layers: [1], in: dir.appendingPathComponent("w").creatingDir())
        let e2 = #expect(throws: VaneError.self) {
            try DirectionEdits.heads(input, direction: try .init(contentsOf: wide), heads: [(1, 0)], to: out, command: "t")
        }
        #expect(e2?.message.contains("width 65") == true)

        let scores = (0..<3).flatMap { l in (0..<4).map { HeadScore(layer: l, head: $0, score: Double(l + $0)) } }
        let e3 = #expect(throws: VaneError.self) { try HeadAttribution.top(13, of: scores) }
        #expect(e3?.message.contains("larger than the 12 heads") == true)

        let e4 = #expect(throws: VaneError.self) {
            try DirectionEdits.ablate(input, direction: direction, layers: nil, targets: [.attnOutput], normPreserve: false,
                                      to: OutputOptions(url: model), command: "t")
        }
        #expect(e4?.message.contains("would overwrite the input") == true)

        let e5 = #expect(throws: VaneError.self) {
            try DirectionEdits.add(input, direction: direction, scale: 1, layers: [1], to: OutputOptions(url: dir.appendingPathComponent("folder")), command: "t")
        }
        #expect(e5?.message.contains("HF folder") == true)

        #expect(throws: VaneError.self) { try DirectionEdits.parseHeads("3:1") }
        #expect(throws: VaneError.self) { try Bake.Writer.parse(list: "q_proj") }
        let e6 = #expect(throws: VaneError.self) {
            try DirectionEdits.heads(input, direction: direction, heads: [(0, 1)], to: out, command: "t")
        }
        #expect(e6?.message.contains(ControlVector.noLayerZero) == true, "\(e6?.message ?? "")")
        for (layers, directionLayer) in [([0, 1], nil), ([1], 0)] as [([Int], Int?)] {
            let e = #expect(throws: VaneError.self) {
                try DirectionEdits.ablate(input, direction: direction, layers: layers, targets: [.attnOutput],
                                          directionLayer: directionLayer, normPreserve: false, to: out, command: "t")
            }
            #expect(e?.message.contains(ControlVector.noLayerZero) == true, "\(e?.message ?? "")")
        }
        let e7 = #expect(throws: VaneError.self) {
            try DirectionEdits.add(input, direction: direction, scale: 1, layers: [0], to: out, command: "t")
        }
        #expect(e7?.message.contains(ControlVector.noLayerZero) == true, "\(e7?.message ?? "")")
        #expect(!FileManager.default.fileExists(atPath: out.url.path))
    }

    @Test("length thresholds: numpy's linear quantile, token counts, bad text")
    func thresholds() throws {
        // numpy.percentile([3, 1, 4, 1, 5, 9, 2, 6], [25, 30, 70]) = 1.75, 2.1, 4.9 (numpy 1.x/2.x)
        let x = [3, 1, 4, 1, 5, 9, 2, 6]
        #expect(abs(try LengthThreshold(parsing: "25%").tokens(over: x) - 1.75) < 1e-12)
        #expect(abs(try LengthThreshold(parsing: "30%").tokens(over: x) - 2.1) < 1e-12)
        #expect(abs(try LengthThreshold(parsing: "70%").tokens(over: x) - 4.9) < 1e-12)
        #expect(try LengthThreshold(parsing: "120").tokens(over: x) == 120)
        #expect(throws: VaneError.self) { try LengthThreshold(parsing: "150%") }
        #expect(throws: VaneError.self) { try LengthThreshold(parsing: "short") }
    }

    @Test("reasoning length: tokens inside <think> … </think>, else the whole response")
    func reasoningSpan() throws {
        let m = try LanguageModel(url: Fixtures.url("tiny-llama.f32.gguf"))
        let tk = m.tokenizer
        let plain = tk.encode("abc def", addSpecial: false)
        let whole = ReasoningLength.span(of: plain, tokenizer: tk)
        #expect(!whole.tagged && whole.range == 0..<plain.count)
        let pre = tk.encode("<think>", addSpecial: false), body = tk.encode(" x y z", addSpecial: false)
        let post = tk.encode("</think> 42", addSpecial: false)
        let s = ReasoningLength.span(of: pre + body + post, tokenizer: tk)
        #expect(s.tagged && s.range == pre.count..<(pre.count + body.count))
        let cut = ReasoningLength.span(of: pre + body, tokenizer: tk)
        #expect(cut.tagged && cut.range == pre.count..<(pre.count + body.count))
    }
}

extension URL {
    func creatingDir() throws -> URL {
        try FileManager.default.createDirectory(at: self, withIntermediateDirectories: true)
        return self
    }
}

@Suite("gguf-py reads the edit") struct GGUFPyCheck {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("check_edit.py")

    static var available: Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import numpy, gguf"]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        if p.terminationStatus != 0 { FileHandle.standardError.write(Data("skipping: python3 with numpy and gguf not available (pip install numpy gguf)\n".utf8)) }
        return p.terminationStatus == 0
    }

    @Test("untouched tensors byte-identical and the head edit equal to numpy's (≤ 1e-5)", .enabled(if: available))
    func ggufPy() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for model in [Fixtures.url("tiny-llama.q8_0.gguf"), Fixtures.url("tiny-qwen2.f32.gguf")] + (Fixtures.smollm2.map { [$0] } ?? []) {
            let input = try ModelInput(url: model)
            let (_, url) = try randomVector(width: input.config.hiddenSize, layers: [1, 2], in: dir, seed: 5)
            let out = dir.appendingPathComponent("e.gguf"), report = dir.appendingPathComponent("r.json")
            let heads = "1.0,1.2,2.3"
            try DirectionEdits.heads(input, direction: try .init(contentsOf: url), heads: try DirectionEdits.parseHeads(heads),
                                     to: OutputOptions(url: out), command: "test")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", Self.script.path, model.path, out.path, url.path, heads, report.path]
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            let r = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any] ?? [:]
            #expect(r["ok"] as? Bool == true, "\(model.lastPathComponent): \(r["problems"] ?? "no report")")
        }
    }
}

@Suite("ThinkEdit steps") struct ThinkEditSteps {
    @Test("responses file → store → d_L = mean(long) − mean(short) over the reasoning tokens, and head scores")
    func pipeline() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = try LanguageModel(url: Fixtures.url("tiny-llama.f32.gguf"))
        let texts = ["a b c d e f g h i j", "one two three four five six", "x y z w v u t s", "ok", "no", "hi"]
        let samples = texts.enumerated().map { i, t in
            ReasoningSample(item: PromptSet.Item(text: "question \(i)"), response: t, responseTokens: 0,
                            reasoningTokens: 0, tagged: false, stop: "endOfTurn", correct: nil, label: i < 3 ? 1 : 0)
        }
        let responses = dir.appendingPathComponent("r.jsonl"), store = dir.appendingPathComponent("s.h5")
        try ThinkEdit.writeResponses(samples, tagged: false, to: responses)
        let recipe = ThinkEdit(model: m)
        try recipe.extract(responses: responses, tagged: false, store: store, commandLine: "test")
        let (vector, scores) = try recipe.direction(store: store, commandLine: "test")
        #expect(vector.layers == [1, 2] && vector.hook == .residMid)
        #expect(scores.count == 2 * m.config.numAttentionHeads)

        // Independently: capture hook_resid_mid at every position and average over each completion.
        var sums = [[Double]](repeating: [Double](repeating: 0, count: m.config.hiddenSize), count: 2)
        for (i, s) in samples.enumerated() {
            let prompt = try m.encodeChat([ChatMessage(role: "user", content: s.item.text)])
            let tokens = prompt + m.tokenizer.encode(s.response, addSpecial: false)
            let hooks = Hooks(), capture = Capture()
            capture.attach(to: hooks, points: [.residMid(2)])
            _ = try m.transformer.forward(tokens, cache: m.transformer.makeCache(capacity: tokens.count), hooks: hooks, logits: .none)
            let x = capture.tensors[.residMid(2)]!, d = x.cols
            let n = Double(tokens.count - prompt.count)
            for t in prompt.count..<tokens.count { for c in 0..<d { sums[i < 3 ? 0 : 1][c] += Double(x.data[t * d + c]) / n / 3 } }
        }
        let expected = zip(sums[0], sums[1]).map { Float($0 - $1) }
        check(vector.directions[2]!, expected, atol: 1e-4, "d_2")
    }
}

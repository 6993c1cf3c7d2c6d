import Foundation
import Testing
import VaneEngine
import VaneSteer
import VaneTensor
import VaneTestSupport
import VaneModelIO

/// Steering hooks on the tiny-llama fixture, checked against HF transformers' reference activations
/// (tiny-llama/reference.safetensors; Vane's forward agrees with them within 1e-4) and against plain hooks.
@Suite struct SteeringTests {
    let model: LanguageModel
    let tokens: [Int]
    let reference: [String: Tensor]
    let vector: ControlVector

    init() throws {
        model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("tiny-llama/reference.json"))) as! [String: Any]
        let prompts = json["prompts"] as! [[String: Any]]
        tokens = prompts[1]["ids"] as! [Int]
        reference = try loadReference(Fixtures.url("tiny-llama/reference.safetensors"))
        var rng = TestRandom(seed: 11)
        var dirs: [Int: [Float]] = [:]
        for l in 1..<3 { dirs[l] = (0..<64).map { _ in Float(rng.normal()) } }
        vector = ControlVector(directions: dirs, width: 64, modelHint: "llama")
    }

    /// Logits [T, V] and copies of `capture` points, with `steering` installed first (then `extra` hooks).
    func run(_ steering: Steering?, capture: [HookPoint] = [], promptLength: Int? = nil,
             extra: (Hooks) -> Void = { _ in }) throws -> (logits: Tensor, captured: [HookPoint: Tensor], hooks: Hooks) {
        let hooks = Hooks()
        try steering?.install(on: hooks, promptLength: promptLength ?? tokens.count, modelLayers: 3)
        extra(hooks)
        let c = Capture()
        c.attach(to: hooks, points: capture)
        let logits = try model.transformer.forward(tokens, cache: model.transformer.makeCache(), hooks: hooks, logits: .all)
        return (logits, c.tensors, hooks)
    }

    func ref(_ name: String) -> Tensor { reference["p1.\(name)"]! }

    @Test func scaleZeroIsBitIdentical() throws {
        let plain = try run(nil)
        for op in [SteerOp.add, .ablate, .clamp(3)] {
            let steered = try run(Steering(vectors: [(vector, 0)], op: op, normPreserve: true))
            #expect(steered.hooks.isEmpty, "scale 0 registers no hook")
            #expect(steered.logits.data == plain.logits.data, "\(op) at scale 0: logits differ from no steering")
        }
    }

    @Test func addAtResidPostEqualsAddingByHand() throws {
        let scale: Float = 2.5
        let steered = try run(Steering(vectors: [(vector, scale)], layers: [1]), capture: [.residPost(1)])
        // At the hook: HF's reference resid_post of block 1 plus scale·v on every row.
        let v = vector.directions[1]!
        let r = ref("resid_post.1")
        let expected = (0..<r.count).map { r.data[$0] + scale * v[$0 % 64] }
        if let msg = compare(steered.captured[.residPost(1)]!.data, expected, atol: 1e-4, label: "resid_post.1 + 2.5·v") {
            Issue.record(Comment(rawValue: msg))
        }
        // Downstream: the same as a plain hook that adds the vector by hand, bit for bit.
        let byHand = try run(nil, extra: { hooks in
            hooks.add(.residPost(1)) { a in for t in 0..<a.shape[0] { let row = a.row(t); for i in 0..<64 { row[i] += scale * v[i] } } }
        })
        #expect(steered.logits.data == byHand.logits.data, "steering and the hand-written hook give different logits")
        let plain = try run(nil)
        #expect(steered.logits.data != plain.logits.data)
    }

    @Test func ablateLeavesNoProjection() throws {
        for hook in SteerHook.allCases {
            let point = hook.point(2)
            let out = try run(Steering(vectors: [(vector, 1)], layers: [2], hook: hook, op: .ablate), capture: [point])
            let unit = unitVector(vector.directions[2]!)
            let h = out.captured[point]!
            let worst = (0..<h.rows).map { abs(dot(Array(h.row($0)), unit)) }.max()!
            #expect(worst <= 1e-5, "\(hook): |h·v̂| after ablate is \(worst), tolerance 1e-5")
        }
        // The part orthogonal to v̂ is HF's reference, unchanged.
        let out = try run(Steering(vectors: [(vector, 1)], layers: [2], op: .ablate), capture: [.residPost(2)])
        let unit = unitVector(vector.directions[2]!), r = ref("resid_post.2")
        var expected: [Float] = []
        for t in 0..<r.rows { let row = Array(r.row(t)); let p = dot(row, unit); expected += zip(row, unit).map { $0 - p * $1 } }
        if let msg = compare(out.captured[.residPost(2)]!.data, expected, atol: 1e-4, label: "ablated resid_post.2") {
            Issue.record(Comment(rawValue: msg))
        }
    }

    @Test func clampSetsProjection() throws {
        let out = try run(Steering(vectors: [(vector, 1)], layers: [1], op: .clamp(-3)), capture: [.residPost(1)])
        let unit = unitVector(vector.directions[1]!)
        let h = out.captured[.residPost(1)]!
        for t in 0..<h.rows { #expect(abs(dot(Array(h.row(t)), unit) + 3) <= 1e-4) }
    }

    @Test func normPreserveKeepsNorms() throws {
        let out = try run(Steering(vectors: [(vector, 4)], layers: [1], normPreserve: true), capture: [.residPost(1)])
        let h = out.captured[.residPost(1)]!, r = ref("resid_post.1")
        for t in 0..<h.rows {
            let a = dot(Array(h.row(t)), Array(h.row(t))).squareRoot(), b = dot(Array(r.row(t)), Array(r.row(t))).squareRoot()
            #expect(abs(a - b) <= 1e-4 * b, "row \(t): ‖h‖ \(a) vs unsteered \(b)")
        }
    }

    @Test func positionsSelectRows() throws {
        let cut = 5
        let r = ref("resid_post.1")
        for (positions, steeredRows) in [(SteerPositions.prompt, 0..<cut), (.generated, cut..<tokens.count)] {
            let out = try run(Steering(vectors: [(vector, 3)], layers: [1], positions: positions), capture: [.residPost(1)], promptLength: cut)
            let h = out.captured[.residPost(1)]!
            for t in 0..<h.rows {
                let delta = zip(h.row(t), r.row(t)).map { abs($0 - $1) }.max()!
                if steeredRows.contains(t) { #expect(delta > 0.1, "\(positions): row \(t) not steered") } else { #expect(delta <= 1e-4, "\(positions): row \(t) changed by \(delta)") }
            }
        }
    }

    @Test func badInputsAreClearErrors() throws {
        let hooks = Hooks()
        let e1 = #expect(throws: VaneError.self) { try Steering(vectors: [(vector, 1)], layers: [7]).install(on: hooks, promptLength: 1, modelLayers: 3) }
        #expect(e1?.message.contains("layer 7 is out of range") == true)
        let e2 = #expect(throws: VaneError.self) { try Steering(vectors: [(vector, 1)], layers: [0]).install(on: hooks, promptLength: 1, modelLayers: 3) }
        #expect(e2?.message.contains(ControlVector.noLayerZero) == true)
        let one = ControlVector(directions: [1: vector.directions[1]!], width: 64, modelHint: "llama")
        let lacking = #expect(throws: VaneError.self) { try Steering(vectors: [(one, 1)], layers: [2]).install(on: hooks, promptLength: 1, modelLayers: 3) }
        #expect(lacking?.message.contains("no direction at layers 2") == true)
        let wide = ControlVector(directions: [1: [Float](repeating: 1, count: 576)], width: 576, modelHint: "llama", modelName: "SmolLM2")
        let e3 = #expect(throws: VaneError.self) { try wide.check(against: ModelIdentity(files: model.files)) }
        #expect(e3?.message.contains("vector width 576") == true && e3?.message.contains("hidden size 64") == true)
        let deep = ControlVector(directions: [5: [Float](repeating: 1, count: 64)], width: 64, modelHint: "llama")
        let e4 = #expect(throws: VaneError.self) { try deep.check(against: ModelIdentity(files: model.files)) }
        #expect(e4?.message.contains("layer 5") == true)
        let other = ControlVector(directions: [1: [Float](repeating: 1, count: 64)], width: 64, modelHint: "llama",
                                  modelSHA256: String(repeating: "0", count: 64))
        let e5 = #expect(throws: VaneError.self) { try other.check(against: ModelIdentity(files: model.files)) }
        #expect(e5?.hint?.contains("--force") == true)
        try other.check(against: ModelIdentity(files: model.files), force: true)
        let e6 = #expect(throws: VaneError.self) { try ScaledVectorPath(parsing: "v.gguf:abc") }
        #expect(e6?.message.contains("scale \"abc\" is not a number") == true)
        #expect(try ScaledVectorPath(parsing: "v.gguf:-2.5") == ScaledVectorPath(path: "v.gguf", scale: -2.5))
        #expect(throws: VaneError.self) { try SteerOp(parsing: "clamp:x") }
        #expect(throws: VaneError.self) { try LayerList.parse("3-x") }
        #expect(try LayerList.parse("8-10,3") == [3, 8, 9, 10])
    }
}

func dot(_ a: [Float], _ b: [Float]) -> Float {
    Float(zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) })
}

func unitVector(_ v: [Float]) -> [Float] {
    let n = dot(v, v).squareRoot()
    return v.map { $0 / n }
}

/// Angular steering (`rotate:DEG`) on the tiny-llama fixture, against a rotation matrix built in numpy.
@Suite struct RotateTests {
    let model: LanguageModel
    let tokens: [Int]
    let vector: ControlVector

    init() throws {
        model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("tiny-llama/reference.json"))) as! [String: Any]
        tokens = (json["prompts"] as! [[String: Any]])[1]["ids"] as! [Int]
        var rng = TestRandom(seed: 5)
        vector = ControlVector(directions: [2: (0..<64).map { _ in Float(rng.normal()) }], width: 64, modelHint: "llama")
    }

    /// resid_post.2 before and after the steering hook, and the logits.
    func run(_ op: SteerOp, scale: Float = 1) throws -> (before: Tensor, after: Tensor, logits: Tensor, hooks: Hooks) {
        let hooks = Hooks()
        let before = Capture(), after = Capture()
        before.attach(to: hooks, points: [.residPost(2)])
        try Steering(vectors: [(vector, scale)], op: op).install(on: hooks, promptLength: tokens.count, modelLayers: 3)
        after.attach(to: hooks, points: [.residPost(2)])
        let logits = try model.transformer.forward(tokens, cache: model.transformer.makeCache(), hooks: hooks, logits: .all)
        return (before.tensors[.residPost(2)]!, after.tensors[.residPost(2)]!, logits, hooks)
    }

    @Test func zeroAngleIsBitIdentical() throws {
        let plain = try model.transformer.forward(tokens, cache: model.transformer.makeCache(), logits: .all)
        let hooks = Hooks()
        try Steering(vectors: [(vector, 1)], op: .rotate(0)).install(on: hooks, promptLength: tokens.count, modelLayers: 3)
        #expect(hooks.isEmpty, "rotate:0 registers no hook")
        let steered = try model.transformer.forward(tokens, cache: model.transformer.makeCache(), hooks: hooks, logits: .all)
        #expect(steered.data == plain.data, "rotate:0 changes the logits")
    }

    @Test(.enabled(if: Python.available("numpy")), arguments: [(Float(30), Float(1)), (-45, 1), (120, 0.5)])
    func matchesRotationMatrixAndKeepsNorms(degrees: Float, scale: Float) throws {
        let out = try run(.rotate(degrees), scale: scale)
        let width = 64
        var worstNorm = 0.0
        for t in 0..<out.before.rows {
            let a = Array(out.before.row(t)), b = Array(out.after.row(t))
            let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            worstNorm = max(worstNorm, abs(nb - na) / na)
        }
        #expect(worstNorm <= 1e-6, "rotate:\(degrees) at scale \(scale): relative norm change \(worstNorm), tolerance 1e-6")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vane-rotate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.json")
        let rows = (0..<out.before.rows).map { Array(out.before.row($0)).map(Double.init) }
        let body: [String: Any] = ["rows": rows, "direction": vector.directions[2]!.map(Double.init),
                                   "radians": Double(scale) * Double(degrees) * .pi / 180]
        try JSONSerialization.data(withJSONObject: body).write(to: input)
        let ref = try #require(try Python.reference("rotate", input: input) as? [String: [[Double]]])
        let expected = ref["rows"]!.flatMap { $0.map(Float.init) }
        #expect(expected.count == out.after.rows * width)
        if let msg = compare(out.after.data, expected, atol: 1e-5, rtol: 1e-5, label: "rotate:\(degrees)×\(scale) vs numpy") {
            Issue.record(Comment(rawValue: msg))
        }
        // The angle to the direction shrinks by the rotation (toward for positive angles).
        let unit = unitVector(vector.directions[2]!)
        let angle = { (h: [Float]) in acos(Double(dot(h, unit)) / Double(dot(h, h)).squareRoot()) }
        let turned = angle(Array(out.before.row(1))) - angle(Array(out.after.row(1)))
        let want = Double(scale * degrees) * .pi / 180
        // Rotations past the direction fold back in [0, π]; the check covers the ones that stay on one side.
        if abs(want) < angle(Array(out.before.row(1))) && angle(Array(out.before.row(1))) - want < .pi {
            #expect(abs(turned - want) <= 1e-4, "row 1 turned by \(turned) rad, expected \(want)")
        }
    }

    @Test func parses() throws {
        #expect(try SteerOp(parsing: "rotate:20") == .rotate(20))
        #expect(try SteerOp(parsing: "rotate:-7.5") == .rotate(-7.5))
        #expect(try SteerSpec(parsing: "v.gguf:1@op=rotate:15,layers=2").op == .rotate(15))
        for bad in ["rotate:", "rotate:x", "rotate:400", "rotate:nan"] {
            #expect(throws: VaneError.self, "\(bad) is refused") { try SteerOp(parsing: bad) }
        }
    }
}

import Foundation
import VaneEngine
import VaneModelIO
import VaneTokenizer

/// What a steering hook does to an activation h with a direction v (unit v̂ = v/‖v‖) at scale s:
///
///     add         h ← h + s·v
///     ablate      h ← h − s·(h·v̂) v̂              (s = 1 projects the direction out)
///     clamp(c)    h ← h + s·(c − h·v̂) v̂          (s = 1 sets the projection on v̂ to c)
///     rotate(δ)   h ← ‖h‖ (cos(φ − s·δ) v̂ + sin(φ − s·δ) ŵ)
///
/// For `rotate`, h = (h·v̂) v̂ + w splits h into its part along v̂ and the rest (ŵ = w/‖w‖), and φ = atan2(‖w‖, h·v̂)
/// is the angle between h and v̂: h turns by s·δ toward v̂ (away for negative angles) within the plane of v̂ and h,
/// keeping its norm exactly (angular steering). Turning by φ gives ‖h‖ v̂, clamp's target with the norm kept; by
/// φ − 90° gives h with v̂ projected out and rescaled to ‖h‖, ablate followed by norm preservation. An h along v̂
/// (w = 0) spans no plane and is left as it is.
///
/// With several vectors at one hook point the operations apply in the order given. With `normPreserve`, h is
/// then rescaled to its norm before steering (repeng's `normalize`).
public enum SteerOp: Sendable, Equatable, CustomStringConvertible {
    case add
    case ablate
    case clamp(Float)
    /// Degrees toward the direction (negative: away).
    case rotate(Float)

    public init(parsing text: String) throws {
        switch text {
        case "add": self = .add
        case "ablate": self = .ablate
        default:
            if text.hasPrefix("rotate:") {
                let value = text.dropFirst("rotate:".count)
                guard let degrees = Float(value), degrees.isFinite, abs(degrees) <= 360 else {
                    throw VaneError("rotate angle \"\(value)\" is not a number of degrees in −360…360",
                                    hint: "write rotate:DEG, e.g. rotate:20 (toward the direction) or rotate:-20 (away)")
                }
                self = .rotate(degrees)
                return
            }
            guard text.hasPrefix("clamp:") else {
                throw VaneError("steering operation \"\(text)\" is not add, ablate, clamp:VALUE or rotate:DEG")
            }
            let value = text.dropFirst("clamp:".count)
            guard let v = Float(value), v.isFinite else {
                throw VaneError("clamp value \"\(value)\" is not a number", hint: "write clamp:VALUE, e.g. clamp:0 or clamp:-3.5")
            }
            self = .clamp(v)
        }
    }

    /// Whether the operation leaves every activation as it is at scale `scale`: registering no hook for it keeps
    /// the forward pass bit-identical to no steering.
    func isIdentity(scale: Float) -> Bool {
        if scale == 0 { return true }
        if case .rotate(let degrees) = self { return degrees == 0 }
        return false
    }

    public var description: String {
        switch self {
        case .add: "add"
        case .ablate: "ablate"
        case .clamp(let v): "clamp:\(v)"
        case .rotate(let degrees): "rotate:\(degrees)"
        }
    }
}

/// Which rows of a forward pass are steered: all, the prompt's (positions before `promptLength`), the generated
/// ones, or those a segment trigger picks from the text (SegmentTrigger).
public enum SteerPositions: Sendable, Equatable, CustomStringConvertible {
    case all, prompt, generated
    case segment(SegmentTrigger)

    public init(parsing text: String) throws {
        switch text {
        case "all": self = .all
        case "prompt": self = .prompt
        case "generated": self = .generated
        default:
            guard let trigger = try SegmentTrigger(parsing: text) else {
                throw VaneError("positions \"\(text)\" is not all, prompt, generated, inside:M1,M2, at:TEXT, after:TEXT or "
                    + "first-of-segment:SEP")
            }
            self = .segment(trigger)
        }
    }

    public var description: String {
        switch self {
        case .all: "all"
        case .prompt: "prompt"
        case .generated: "generated"
        case .segment(let t): t.description
        }
    }
}

/// One vector of a steering intervention with its own settings: scale, layers (nil: every layer the vector has),
/// hook point (nil: the vector's own), positions and operation.
public struct SteerTerm: Sendable {
    public var vector: ControlVector
    public var scale: Float
    public var layers: [Int]?
    public var hook: SteerHook?
    public var positions: SteerPositions
    public var op: SteerOp

    public init(vector: ControlVector, scale: Float, layers: [Int]? = nil, hook: SteerHook? = nil,
                positions: SteerPositions = .all, op: SteerOp = .add) {
        self.vector = vector
        self.scale = scale
        self.layers = layers
        self.hook = hook
        self.positions = positions
        self.op = op
    }
}

/// A steering intervention: control vectors, each with its scale and settings, applied by hooks at their layers.
public struct Steering: Sendable {
    public var terms: [SteerTerm]
    public var normPreserve: Bool
    /// A condition (CAST) that decides from the prompt whether the terms apply; they then steer generated
    /// positions only (Condition.swift).
    public var gate: SteerGate?

    public init(terms: [SteerTerm], normPreserve: Bool = false, gate: SteerGate? = nil) {
        self.terms = terms
        self.normPreserve = normPreserve
        self.gate = gate
    }

    /// Every vector with the same settings.
    public init(vectors: [(vector: ControlVector, scale: Float)], layers: [Int]? = nil, hook: SteerHook? = nil,
                positions: SteerPositions = .all, op: SteerOp = .add, normPreserve: Bool = false) {
        self.init(terms: vectors.map { SteerTerm(vector: $0.vector, scale: $0.scale, layers: layers, hook: hook,
                                                 positions: positions, op: op) },
                  normPreserve: normPreserve)
    }

    /// The same intervention with every scale multiplied by `factor`.
    public func scaled(by factor: Float) -> Steering {
        var s = self
        for i in s.terms.indices { s.terms[i].scale *= factor }
        return s
    }

    /// One direction applied at one hook point and layer.
    public struct Step: Sendable {
        public var point: HookPoint
        public var layer: Int
        public var direction: [Float]
        /// direction / ‖direction‖ (zeros for a zero direction).
        public var unit: [Float]
        public var scale: Float
        public var op: SteerOp
        public var positions: SteerPositions
    }

    /// The steps of every term with a non-zero scale, grouped by hook point in the order the points first appear;
    /// within a point, in the order the terms were given. Throws for layers the model or a vector lacks.
    public func plan(modelLayers: Int) throws -> [(point: HookPoint, steps: [Step])] {
        var plan: [HookPoint: [Step]] = [:]
        var order: [HookPoint] = []
        for term in terms where !term.op.isIdentity(scale: term.scale) {
            let vector = term.vector
            if let layers = term.layers {
                try LayerList.check(layers, modelLayers: modelLayers)
                try ControlVector.refuseLayerZero(layers)
            }
            let chosen = term.layers ?? vector.layers
            let missing = chosen.filter { vector.directions[$0] == nil }
            if term.layers != nil, missing.count == chosen.count {
                throw VaneError("the vector \(vector.method.map { "(\($0)) " } ?? "")has no direction at layers \(chosen.map(String.init).joined(separator: ",")); it has \(vector.layers.map(String.init).joined(separator: ","))")
            }
            try LayerList.check(vector.layers, modelLayers: modelLayers)
            for l in chosen {
                guard let d = vector.directions[l] else { continue }
                let point = (term.hook ?? vector.hook).point(l)
                if plan[point] == nil { order.append(point) }
                let norm = d.reduce(0) { $0 + $1 * $1 }.squareRoot()
                plan[point, default: []].append(Step(point: point, layer: l, direction: d,
                                                     unit: d.map { norm > 0 ? $0 / norm : 0 }, scale: term.scale,
                                                     op: term.op, positions: term.positions))
            }
        }
        return order.map { ($0, plan[$0]!) }
    }

    /// Registers one hook per steered hook point. Nothing is registered for a zero scale (or a zero rotation), so
    /// steering at scale 0 leaves the forward pass bit-identical to no steering. With a gate, its hook goes first
    /// and the returned outcome holds its decision once the prompt has run. Throws for layers the model or the
    /// vectors lack.
    ///
    /// Segment triggers read the tokens through `tokenizer` (required when a term has one); `triggers`, when given,
    /// collects how often they fire.
    @discardableResult
    public func install(on hooks: Hooks, promptLength: Int, modelLayers: Int, tokenizer: BPETokenizer? = nil,
                        triggers: TriggerLog? = nil) throws -> ConditionOutcome? {
        let plan = try plan(modelLayers: modelLayers)
        // One tracker per trigger, shared by every step and hook point that uses it.
        var trackers: [SegmentTrigger: SegmentTracker] = [:]
        for step in plan.flatMap(\.steps) {
            guard case .segment(let trigger) = step.positions, trackers[trigger] == nil else { continue }
            guard let tokenizer else {
                throw VaneError("positions \(trigger) needs the model's tokenizer to read the text")
            }
            trackers[trigger] = SegmentTracker(trigger, tokenizer: tokenizer, promptLength: promptLength)
        }
        triggers?.trackers += trackers.values
        var outcome: ConditionOutcome?
        if let gate, !plan.isEmpty {
            try LayerList.check([gate.condition.layer], modelLayers: modelLayers)
            let o = ConditionOutcome()
            gate.install(on: hooks, promptLength: promptLength, outcome: o)
            outcome = o
        }
        for (point, steps) in plan {
            let preserve = normPreserve
            hooks.add(point) { [outcome, unowned hooks] a in
                for (t, position) in a.positions.enumerated() {
                    if let outcome, !(outcome.fired && position >= promptLength) { continue }
                    let chosen = steps.filter { step in
                        if case .segment(let trigger) = step.positions {
                            return trackers[trigger]!.fires(at: position, tokens: hooks.tokens)
                        }
                        return step.positions.contains(position, promptLength: promptLength)
                    }
                    if !chosen.isEmpty { Self.apply(chosen, normPreserve: preserve, to: a.row(t)) }
                }
            }
        }
        return outcome
    }

    static func apply(_ steps: [Step], normPreserve: Bool, to h: UnsafeMutableBufferPointer<Float>) {
        let before = normPreserve ? h.reduce(0) { $0 + $1 * $1 }.squareRoot() : 0
        for step in steps {
            switch step.op {
            case .add:
                for i in 0..<h.count { h[i] += step.scale * step.direction[i] }
            case .ablate, .clamp:
                var projection = 0.0
                for i in 0..<h.count { projection += Double(h[i]) * Double(step.unit[i]) }
                let target: Float = if case .clamp(let c) = step.op { c } else { 0 }
                let shift = step.scale * (target - Float(projection))
                for i in 0..<h.count { h[i] += shift * step.unit[i] }
            case .rotate(let degrees):
                rotate(h, toward: step.unit, radians: Double(step.scale) * Double(degrees) * .pi / 180)
            }
        }
        if normPreserve {
            let after = h.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if after > 0 { for i in 0..<h.count { h[i] *= before / after } }
        }
    }
}

/// Turns h by `radians` toward the unit vector u within the plane of u and h, in float64, keeping ‖h‖.
func rotate(_ h: UnsafeMutableBufferPointer<Float>, toward u: [Float], radians: Double) {
    var along = 0.0, squared = 0.0, uSquared = 0.0
    for i in 0..<h.count {
        along += Double(h[i]) * Double(u[i])
        squared += Double(h[i]) * Double(h[i])
        uSquared += Double(u[i]) * Double(u[i])
    }
    let norm = squared.squareRoot()
    // ‖w‖ from w itself, not from ‖h‖² − (h·u)², which cancels when h is nearly along u.
    var wSquared = 0.0
    for i in 0..<h.count {
        let w = Double(h[i]) - along * Double(u[i])
        wSquared += w * w
    }
    let wNorm = wSquared.squareRoot()
    // A zero direction (unit all zeros) or an h along it spans no plane.
    guard uSquared > 0, wNorm > 0 else { return }
    let angle = atan2(wNorm, along) - radians
    let a = norm * cos(angle), b = norm * sin(angle) / wNorm
    for i in 0..<h.count {
        let w = Double(h[i]) - along * Double(u[i])
        h[i] = Float(a * Double(u[i]) + b * w)
    }
}

extension SteerPositions {
    /// Whether the row at `position` is steered, prompt positions being those before `promptLength`.
    /// For segment triggers, see SegmentTracker (this says false).
    public func contains(_ position: Int, promptLength: Int) -> Bool {
        switch self {
        case .all: true
        case .prompt: position < promptLength
        case .generated: position >= promptLength
        case .segment: false
        }
    }
}

/// How often segment triggers fired, over the sequences whose steering reported to it.
public final class TriggerLog {
    var trackers: [SegmentTracker] = []

    public init() {}

    /// Generated positions at which a trigger fired, summed over the triggers.
    public var firedGenerated: Int { trackers.reduce(0) { $0 + $1.firedGenerated } }
    public var isEmpty: Bool { trackers.isEmpty }
}

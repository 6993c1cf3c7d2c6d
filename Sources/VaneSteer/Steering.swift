import VaneEngine
import VaneModelIO

/// What a steering hook does to an activation h with a direction v (unit v̂ = v/‖v‖) at scale s:
///
///     add         h ← h + s·v
///     ablate      h ← h − s·(h·v̂) v̂              (s = 1 projects the direction out)
///     clamp(c)    h ← h + s·(c − h·v̂) v̂          (s = 1 sets the projection on v̂ to c)
///
/// With several vectors at one hook point the operations apply in the order given. With `normPreserve`, h is
/// then rescaled to its norm before steering (repeng's `normalize`).
public enum SteerOp: Sendable, Equatable, CustomStringConvertible {
    case add
    case ablate
    case clamp(Float)

    public init(parsing text: String) throws {
        switch text {
        case "add": self = .add
        case "ablate": self = .ablate
        default:
            guard text.hasPrefix("clamp:") else {
                throw VaneError("steering operation \"\(text)\" is not add, ablate or clamp:VALUE")
            }
            let value = text.dropFirst("clamp:".count)
            guard let v = Float(value), v.isFinite else {
                throw VaneError("clamp value \"\(value)\" is not a number", hint: "write clamp:VALUE, e.g. clamp:0 or clamp:-3.5")
            }
            self = .clamp(v)
        }
    }

    public var description: String {
        switch self {
        case .add: "add"
        case .ablate: "ablate"
        case .clamp(let v): "clamp:\(v)"
        }
    }
}

/// Which rows of a forward pass are steered: prompt positions are those before `promptLength`.
public enum SteerPositions: String, Sendable, CaseIterable {
    case all, prompt, generated
}

/// A steering intervention: control vectors with scales, applied by hooks at their layers.
public struct Steering: Sendable {
    public var vectors: [(vector: ControlVector, scale: Float)]
    /// Only these layers (nil: every layer each vector has).
    public var layers: [Int]?
    /// Where to apply (nil: each vector's own hook).
    public var hook: SteerHook?
    public var positions: SteerPositions
    public var op: SteerOp
    public var normPreserve: Bool

    public init(vectors: [(vector: ControlVector, scale: Float)], layers: [Int]? = nil, hook: SteerHook? = nil,
                positions: SteerPositions = .all, op: SteerOp = .add, normPreserve: Bool = false) {
        self.vectors = vectors
        self.layers = layers
        self.hook = hook
        self.positions = positions
        self.op = op
        self.normPreserve = normPreserve
    }

    /// The same intervention with every scale multiplied by `factor`.
    public func scaled(by factor: Float) -> Steering {
        var s = self
        s.vectors = vectors.map { ($0.vector, $0.scale * factor) }
        return s
    }

    /// Registers one hook per steered hook point. Nothing is registered for a zero scale, so steering at scale 0
    /// leaves the forward pass bit-identical to no steering. Throws for layers the model or the vectors lack.
    public func install(on hooks: Hooks, promptLength: Int, modelLayers: Int) throws {
        if let layers {
            try LayerList.check(layers, modelLayers: modelLayers)
            try ControlVector.refuseLayerZero(layers)
        }
        var plan: [HookPoint: [(direction: [Float], scale: Float)]] = [:]
        var order: [HookPoint] = []
        for (vector, scale) in vectors where scale != 0 {
            let chosen = layers ?? vector.layers
            let missing = chosen.filter { vector.directions[$0] == nil }
            if layers != nil, missing.count == chosen.count {
                throw VaneError("the vector \(vector.method.map { "(\($0)) " } ?? "")has no direction at layers \(chosen.map(String.init).joined(separator: ",")); it has \(vector.layers.map(String.init).joined(separator: ","))")
            }
            try LayerList.check(vector.layers, modelLayers: modelLayers)
            for l in chosen {
                guard let d = vector.directions[l] else { continue }
                let point = (hook ?? vector.hook).point(l)
                if plan[point] == nil { order.append(point) }
                plan[point, default: []].append((d, scale))
            }
        }
        for point in order {
            let terms = plan[point]!.map { term -> (direction: [Float], unit: [Float], scale: Float) in
                let norm = term.direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return (term.direction, term.direction.map { norm > 0 ? $0 / norm : 0 }, term.scale)
            }
            let (op, positions, preserve, promptLength) = (self.op, self.positions, normPreserve, promptLength)
            hooks.add(point) { a in
                for (t, position) in a.positions.enumerated() {
                    switch positions {
                    case .all: break
                    case .prompt: if position >= promptLength { continue }
                    case .generated: if position < promptLength { continue }
                    }
                    Self.apply(terms, op: op, normPreserve: preserve, to: a.row(t))
                }
            }
        }
    }

    static func apply(_ terms: [(direction: [Float], unit: [Float], scale: Float)], op: SteerOp, normPreserve: Bool,
                      to h: UnsafeMutableBufferPointer<Float>) {
        let before = normPreserve ? h.reduce(0) { $0 + $1 * $1 }.squareRoot() : 0
        for term in terms {
            switch op {
            case .add:
                for i in 0..<h.count { h[i] += term.scale * term.direction[i] }
            case .ablate, .clamp:
                var projection = 0.0
                for i in 0..<h.count { projection += Double(h[i]) * Double(term.unit[i]) }
                let target: Float = if case .clamp(let c) = op { c } else { 0 }
                let shift = term.scale * (target - Float(projection))
                for i in 0..<h.count { h[i] += shift * term.unit[i] }
            }
        }
        if normPreserve {
            let after = h.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if after > 0 { for i in 0..<h.count { h[i] *= before / after } }
        }
    }
}

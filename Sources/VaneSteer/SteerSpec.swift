import Foundation
import VaneModelIO

/// One `--steer` argument: `PATH[:SCALE][@key=value,…]`, a vector with its scale and, after `@`, its own settings:
///
///     layers=6-18        layers (a LayerList: 8-20, 3,5,7, 1-4,10)
///     hook=attn_out      hook point (resid_post, resid_mid, attn_out, mlp_out)
///     positions=prompt   all, prompt, generated, inside:M1,M2, after:TEXT or first-of-segment:SEP
///     op=ablate          add, ablate, clamp:VALUE or rotate:DEG
///
/// e.g. `v.gguf:0.1@layers=6-18,op=ablate`. A comma followed by no `key=` continues the value before it, so
/// `layers=3,5,7,op=ablate` lists three layers. Settings left out take the command's global options.
public struct SteerSpec: Sendable, Equatable {
    public var path: String
    public var scale: Float
    public var layers: [Int]?
    public var hook: SteerHook?
    public var positions: SteerPositions?
    public var op: SteerOp?

    public static let keys = ["layers", "hook", "positions", "op"]

    public init(parsing text: String) throws {
        var head = text
        var settings: [(key: String, value: String)] = []
        if !FileManager.default.fileExists(atPath: text), let at = text.lastIndex(of: "@") {
            head = String(text[..<at])
            for part in text[text.index(after: at)...].split(separator: ",", omittingEmptySubsequences: false) {
                if let eq = part.firstIndex(of: "="), Self.keys.contains(String(part[..<eq])) {
                    settings.append((String(part[..<eq]), String(part[part.index(after: eq)...])))
                } else if !settings.isEmpty, !part.contains("=") {
                    settings[settings.count - 1].value += "," + part
                } else {
                    throw VaneError("--steer \"\(text)\": \"\(part)\" is not one of \(Self.keys.map { $0 + "=…" }.joined(separator: ", "))",
                                    hint: "write VECTOR.gguf[:SCALE][@layers=6-18,hook=resid_post,positions=all,op=ablate]")
                }
            }
        }
        let scaled = try ScaledVectorPath(parsing: head)
        path = scaled.path
        scale = scaled.scale
        for (key, value) in settings {
            do {
                switch key {
                case "layers":
                    guard layers == nil else { throw VaneError("layers given twice") }
                    layers = try LayerList.parse(value)
                case "hook":
                    guard hook == nil else { throw VaneError("hook given twice") }
                    hook = try SteerHook(parsing: value)
                case "positions":
                    guard positions == nil else { throw VaneError("positions given twice") }
                    positions = try SteerPositions(parsing: value)
                default:
                    guard op == nil else { throw VaneError("op given twice") }
                    op = try SteerOp(parsing: value)
                }
            } catch let e as VaneError {
                throw VaneError("--steer \"\(text)\": \(e.message)", hint: e.hint)
            }
        }
    }

    /// The term for `vector`, settings left out taken from `defaults` (whose vector and scale are ignored).
    public func term(_ vector: ControlVector, defaults: SteerTerm.Defaults) -> SteerTerm {
        SteerTerm(vector: vector, scale: scale, layers: layers ?? defaults.layers, hook: hook ?? defaults.hook,
                  positions: positions ?? defaults.positions, op: op ?? defaults.op)
    }
}

extension SteerTerm {
    /// The settings a command applies to every vector that does not give its own.
    public struct Defaults: Sendable {
        public var layers: [Int]?
        public var hook: SteerHook?
        public var positions: SteerPositions
        public var op: SteerOp

        public init(layers: [Int]? = nil, hook: SteerHook? = nil, positions: SteerPositions = .all, op: SteerOp = .add) {
            self.layers = layers
            self.hook = hook
            self.positions = positions
            self.op = op
        }
    }
}

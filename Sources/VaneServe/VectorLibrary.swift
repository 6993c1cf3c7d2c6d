import Foundation
import VaneEngine
import VaneModelIO
import VaneSteer

/// The control vectors a server may steer with: `DIR/NAME.gguf` for the directory given at start-up, named by
/// NAME alone (no paths, no `..`). Each is read and checked against the served model the first time a request
/// names it, then kept.
final class VectorLibrary: @unchecked Sendable {
    let directory: URL?
    private let identity: ModelIdentity
    private let lock = NSLock()
    private var loaded: [String: ControlVector] = [:]

    init(directory: URL?, model: LanguageModel) {
        self.directory = directory
        identity = ModelIdentity(files: model.files)
    }

    /// The names on offer, for error messages and GET /v1/models.
    var names: [String] {
        guard let directory,
              let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return files.filter { $0.hasSuffix(".gguf") }.map { String($0.dropLast(5)) }.sorted()
    }

    func vector(_ name: String, param: String) throws(APIError) -> ControlVector {
        guard let directory else {
            throw APIError.invalid("this server steers with no vectors: start it with --vectors DIR", param: param)
        }
        guard !name.isEmpty, name.count <= 200, !name.hasPrefix("."),
              name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) })
        else {
            throw APIError.invalid("\(param) \"\(name)\" is not a vector name: give the file's stem in the "
                + "server's vector directory (letters, digits, . _ -), not a path", param: param)
        }
        lock.lock()
        defer { lock.unlock() }
        if let v = loaded[name] { return v }
        let url = directory.appendingPathComponent(name + ".gguf")
        guard FileManager.default.fileExists(atPath: url.path) else {
            let known = names
            throw APIError.invalid("unknown vector \"\(name)\"", param: param,
                                   hint: known.isEmpty ? "the vector directory holds none" : "known: \(known.joined(separator: ", "))")
        }
        do {
            let v = try ControlVector(contentsOf: url)
            try v.check(against: identity)
            loaded[name] = v
            return v
        } catch {
            throw APIError.invalid("vector \"\(name)\" cannot steer this model: \(error)", param: param)
        }
    }

    /// The `steering` field of a request: a list of terms, each
    /// `{"vector": NAME, "scale": S, "layers": "6-18" | [6, 7], "op": "add" | "ablate" | "clamp" | "rotate",
    ///   "value": V, "positions": "all" | "prompt" | "generated", "hook": "resid_post" | …}`,
    /// `value` being clamp's target projection or rotate's angle in degrees. Settings left out are the vector's own
    /// (layers, hook) or `vane generate`'s defaults (scale 1, op add, positions all).
    func steering(_ entries: [Fields], modelLayers: Int) throws(APIError) -> Steering? {
        guard !entries.isEmpty else { return nil }
        var terms: [SteerTerm] = []
        for e in entries {
            try e.refuseUnknown(["vector", "scale", "layers", "op", "value", "positions", "hook"])
            guard let name = try e.string("vector") else {
                throw APIError.invalid("\(e.param("vector")) is missing: name a vector", param: e.param("vector"))
            }
            let vector = try vector(name, param: e.param("vector"))
            let scale = Float(try e.number("scale", in: -1e4...1e4) ?? 1)
            var layers: [Int]?
            switch e.values["layers"] {
            case nil, .null?: break
            case .string(let text)?:
                do {
                    layers = try LayerList.parse(text)
                    try LayerList.check(layers!, modelLayers: modelLayers)
                } catch {
                    throw APIError.invalid("\(e.param("layers")): \(error)", param: e.param("layers"))
                }
            case .array(let list)?:
                layers = try list.enumerated().map { (i, v) throws(APIError) -> Int in
                    guard case .number(let x) = v, x == x.rounded(), x >= 0, x < Double(modelLayers) else {
                        throw APIError.invalid("\(e.param("layers"))[\(i)] must be a layer number 0…\(modelLayers - 1)",
                                               param: e.param("layers"))
                    }
                    return Int(x)
                }
            case let v?:
                throw APIError.invalid("\(e.param("layers")) must be a string like \"6-18\" or an array of layer "
                    + "numbers, not \(v.kind)", param: e.param("layers"))
            }
            let value = try e.number("value", in: -1e6...1e6)
            let op: SteerOp
            switch try e.string("op") ?? "add" {
            case "add": op = .add
            case "ablate": op = .ablate
            case "clamp":
                guard let value else {
                    throw APIError.invalid("op clamp needs \(e.param("value")): the projection to set", param: e.param("value"))
                }
                op = .clamp(Float(value))
            case "rotate":
                guard let value, abs(value) <= 360 else {
                    throw APIError.invalid("op rotate needs \(e.param("value")): an angle in degrees, −360…360",
                                           param: e.param("value"))
                }
                op = .rotate(Float(value))
            case let other:
                throw APIError.invalid("\(e.param("op")) \"\(other)\" is not add, ablate, clamp or rotate", param: e.param("op"))
            }
            var positions = SteerPositions.all
            if let p = try e.string("positions") {
                do { positions = try SteerPositions(parsing: p) } catch {
                    throw APIError.invalid("\(e.param("positions")): \(error)", param: e.param("positions"))
                }
            }
            var hook: SteerHook?
            if let h = try e.string("hook") {
                do { hook = try SteerHook(parsing: h) } catch {
                    throw APIError.invalid("\(e.param("hook")): \(error)", param: e.param("hook"))
                }
            }
            terms.append(SteerTerm(vector: vector, scale: scale, layers: layers, hook: hook, positions: positions, op: op))
        }
        let steering = Steering(terms: terms)
        do { _ = try steering.plan(modelLayers: modelLayers) } catch {
            throw APIError.invalid("steering: \(error)", param: "steering")
        }
        return steering
    }
}

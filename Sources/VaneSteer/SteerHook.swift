import VaneEngine
import VaneModelIO

/// Where in a block a direction lives: one of the [T, d] hook points a control vector can be read at and added
/// to. `resid_post` is llama.cpp's "l_out", the point its control vectors are added to.
public enum SteerHook: String, Sendable, CaseIterable, CustomStringConvertible {
    case residPost = "resid_post"
    case residMid = "resid_mid"
    case attnOut = "attn_out"
    case mlpOut = "mlp_out"

    public var description: String { rawValue }

    /// The TransformerLens name with the layer left open, e.g. `blocks.*.hook_resid_post`.
    public var pattern: String { "blocks.*.hook_\(rawValue)" }

    public func point(_ layer: Int) -> HookPoint {
        switch self {
        case .residPost: .residPost(layer)
        case .residMid: .residMid(layer)
        case .attnOut: .attnOut(layer)
        case .mlpOut: .mlpOut(layer)
        }
    }

    /// Accepts `resid_post`, `hook_resid_post` or `blocks.*.hook_resid_post`.
    public init(parsing text: String) throws {
        var name = Substring(text)
        if name.hasPrefix("blocks.*.") { name = name.dropFirst("blocks.*.".count) }
        if name.hasPrefix("hook_") { name = name.dropFirst("hook_".count) }
        guard let hook = SteerHook(rawValue: String(name)) else {
            throw VaneError("hook \"\(text)\" is not a steering hook point",
                             hint: "use one of " + SteerHook.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = hook
    }

    /// The hook and layer of a TransformerLens name such as `blocks.12.hook_resid_post`; nil for other points.
    public static func parse(point name: String) -> (hook: SteerHook, layer: Int)? {
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blocks", let layer = Int(parts[1]), parts[2].hasPrefix("hook_"),
              let hook = SteerHook(rawValue: String(parts[2].dropFirst("hook_".count))) else { return nil }
        return (hook, layer)
    }
}

/// Layer lists as the CLI writes them: `8-20`, `3,5,7`, `1-4,10`.
public enum LayerList {
    static let maxLayers = ConfigKeys.numHiddenLayers.range.upperBound

    public static func parse(_ text: String) throws -> [Int] {
        var out = Set<Int>()
        for part in text.split(separator: ",") {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(ends.count), let lo = Int(ends[0]), let hi = Int(ends[ends.count - 1]), lo >= 0, lo <= hi else {
                throw VaneError("layers \"\(text)\": \"\(part)\" is not a layer or a range lo-hi",
                                 hint: "write layers like 8-20 or 3,5,7")
            }
            // Bounded before the range is walked: no model has this many layers.
            guard hi < maxLayers else {
                throw VaneError("layers \"\(text)\": layer \(hi) is beyond any model (at most \(maxLayers) layers)")
            }
            out.formUnion(lo...hi)
        }
        guard !out.isEmpty else { throw VaneError("layers \"\(text)\" names no layer", hint: "write layers like 8-20 or 3,5,7") }
        return out.sorted()
    }

    /// The inverse of `parse`, with runs as ranges: [1, 2, 3, 4, 10] → "1-4,10".
    public static func describe(_ layers: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        let sorted = layers.sorted()
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(j > i ? "\(sorted[i])-\(sorted[j])" : "\(sorted[i])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// Refuses layers the model does not have.
    public static func check(_ layers: [Int], modelLayers: Int) throws {
        if let bad = layers.first(where: { $0 >= modelLayers }) {
            throw VaneError("layer \(bad) is out of range: the model has layers 0…\(modelLayers - 1)")
        }
    }
}

import Foundation
import Hummingbird
import VaneEngine
import VaneTensor
import VaneTokenizer

/// POST /v1/activations: one forward pass, as `vane trace` runs it, and the hooks' activations back.
///
///     {"input": "text" | "messages": [...], "hooks": ["blocks.*.hook_resid_post", ...],
///      "positions": "last" | "mean" | "all" | "index:K", "skip_first": 0}
///  →  {"object": "activations", "model": ..., "tokens": [ids],
///      "activations": [{"hook": "blocks.3.hook_resid_post", "shape": [1, 576], "dtype": "float32",
///                       "data": base64 of little-endian float32, row-major}], "usage": {"prompt_tokens": T}}
///
/// `all` keeps every position ([T, …]); `last` and `index:K` one row (K < 0 counts from the end); `mean` averages
/// the rows from `skip_first` on (default 0; `vane extract --positions mean` skips the first by default).
/// hook_pattern [H, T, T] is returned whole whatever `positions` says.
extension Routes {
    enum Positions: Equatable {
        case all, last, mean, index(Int)

        init(_ text: String) throws(APIError) {
            switch text {
            case "all": self = .all
            case "last": self = .last
            case "mean": self = .mean
            default:
                guard text.hasPrefix("index:"), let k = Int(text.dropFirst("index:".count)) else {
                    throw APIError.invalid("positions \"\(text)\" is not last, mean, all or index:K", param: "positions")
                }
                self = .index(k)
            }
        }
    }

    func activations(_ request: Request) async throws -> Response {
        let bytes = try await request.body.collect(upTo: context.options.maxBodyBytes)
        let fields = try JSONValue.object(from: Data(buffer: bytes))
        try fields.refuseUnknown(["model", "input", "messages", "hooks", "positions", "skip_first"])
        let model = context.model
        let name = try context.checkModel(fields)
        let tokens: [Int]
        switch (try fields.string("input"), try fields.objects("messages")) {
        case (let text?, nil):
            tokens = model.encode(text)
        case (nil, let messages?):
            let chat = try messages.map { m throws(APIError) -> ChatMessage in
                try m.refuseUnknown(["role", "content"])
                guard let role = try m.string("role") else { throw APIError.invalid("\(m.param("role")) is missing", param: m.param("role")) }
                return ChatMessage(role: role, content: try m.string("content") ?? "")
            }
            do { tokens = try model.encodeChat(chat) } catch {
                throw APIError.invalid("the chat template cannot render these messages: \(error)", param: "messages")
            }
        default:
            throw APIError.invalid("give exactly one of input (text) and messages", param: "input")
        }
        guard !tokens.isEmpty else { throw APIError.invalid("the input encodes to no tokens", param: "input") }
        guard tokens.count <= model.config.maxPositionEmbeddings else {
            throw APIError.invalid("the input has \(tokens.count) tokens; this model's context is "
                + "\(model.config.maxPositionEmbeddings)", param: "input")
        }
        guard let patterns = try fields.strings("hooks"), !patterns.isEmpty else {
            throw APIError.invalid("hooks is missing: name hook points, e.g. [\"blocks.*.hook_resid_post\"]", param: "hooks")
        }
        let points: [HookPoint]
        do {
            points = try HookPoint.matching(patterns, layers: model.config.numHiddenLayers, experts: model.config.routes)
        } catch {
            throw APIError.invalid("hooks: \(error)", param: "hooks")
        }
        let positions = try Positions(try fields.string("positions") ?? "all")
        let skipFirst = try fields.integer("skip_first", in: 0...Int(Int32.max)) ?? 0
        if positions == .mean, skipFirst >= tokens.count {
            throw APIError.invalid("skip_first is \(skipFirst) but the input has only \(tokens.count) tokens", param: "skip_first")
        }
        if case .index(let k) = positions, !(-tokens.count..<tokens.count).contains(k) {
            throw APIError.invalid("index:\(k) lies outside the input's \(tokens.count) tokens", param: "positions")
        }

        let (_, events) = try context.engine.submit(.trace(tokens: tokens, points: points))
        context.metrics.promptTokens.increment(by: Int64(tokens.count))
        var traced: [HookPoint: Tensor]?
        for await event in events {
            if case .traced(let t) = event { traced = t }
            if case .failed(let e) = event { throw e }
        }
        guard let traced else { throw APIError.server("the trace was cancelled") }
        let out: [[String: Any]] = points.map { p in
            let t = Self.select(traced[p]!, positions: positions, skipFirst: skipFirst, perToken: p.isPerToken)
            let data = t.data.withUnsafeBufferPointer { Data(buffer: $0) }  // x86-64 and arm64: little-endian
            return ["hook": p.description, "shape": t.shape, "dtype": "float32", "data": data.base64EncodedString()]
        }
        return jsonResponse(["object": "activations", "model": name, "tokens": tokens, "activations": out,
                             "usage": ["prompt_tokens": tokens.count, "total_tokens": tokens.count]])
    }

    /// The rows `positions` keeps of a [T, …] tensor, as [1, …] (or [T, …] for `all`).
    static func select(_ t: Tensor, positions: Positions, skipFirst: Int, perToken: Bool) -> Tensor {
        guard perToken, positions != .all else { return t }
        let rows = t.shape[0]
        let width = t.data.count / max(rows, 1)
        var shape = t.shape
        shape[0] = 1
        switch positions {
        case .all: return t
        case .last: return Tensor(shape: shape, data: Array(t.data[((rows - 1) * width)...]))
        case .index(let k):
            let r = k < 0 ? rows + k : k
            return Tensor(shape: shape, data: Array(t.data[(r * width)..<((r + 1) * width)]))
        case .mean:
            // Summed in float64, as Vane's extraction pools, then rounded once.
            var sum = [Double](repeating: 0, count: width)
            for r in skipFirst..<rows { for c in 0..<width { sum[c] += Double(t.data[r * width + c]) } }
            let n = Double(rows - skipFirst)
            return Tensor(shape: shape, data: sum.map { Float($0 / n) })
        }
    }
}

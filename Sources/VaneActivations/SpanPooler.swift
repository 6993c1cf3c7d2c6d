import VaneEngine

/// Runs sequences through a model with reading hooks and pools each hooked point over a span of positions as
/// the activations pass: a row copy for `last` and `index:K`, the span's rows for `all`, a running sum (in
/// Double) for `mean`. Extraction, head attribution and the recipes all take their activations through it.
///
/// Each run is one exact (f32) forward call over the tokens up to the span's end: later tokens cannot change
/// earlier activations.
public final class SpanPooler {
    public let model: LanguageModel
    public let points: [HookPoint]
    public let positions: PositionMode

    private let hooks = Hooks()
    private var cache: KVCache
    private var span = 0..<0
    private var sums: [[Double]] = []
    private var rows: [[Float]] = []

    public init(model: LanguageModel, points: [HookPoint], positions: PositionMode, capacity: Int = 0) {
        self.model = model
        self.points = points
        self.positions = positions
        cache = model.transformer.makeCache(capacity: max(capacity, 1))
        for (h, point) in points.enumerated() {
            hooks.add(point) { [unowned self] activation in take(h, activation) }
        }
    }

    /// Runs `tokens[..<span.upperBound]` and returns one pooled array per point (`all`: the span's rows, flat).
    public func run(_ tokens: [Int], span: Range<Int>) throws -> [[Float]] {
        precondition(span.upperBound >= 1 && span.upperBound <= tokens.count, "span \(span) outside \(tokens.count) tokens")
        if span.upperBound > cache.capacity { cache = model.transformer.makeCache(capacity: span.upperBound) }
        self.span = span
        rows = Array(repeating: [], count: points.count)
        sums = Array(repeating: [], count: points.count)
        cache.truncate(to: 0)
        _ = try model.transformer.forward(Array(tokens[..<span.upperBound]), cache: cache, hooks: hooks,
                                          logits: .none, precision: .exact)
        if positions == .mean {
            let n = Double(span.count)
            rows = sums.map { sum in sum.map { Float($0 / n) } }
        }
        return rows
    }

    private func take(_ h: Int, _ activation: Hooks.Activation) {
        let width = activation.rowWidth
        let base = activation.positions.lowerBound
        switch positions {
        case .last:
            rows[h] = Array(activation.row(span.upperBound - 1 - base))
        case .index(let k):
            rows[h] = Array(activation.row((k >= 0 ? span.lowerBound + k : span.upperBound + k) - base))
        case .all:
            rows[h] = Array(activation.values[((span.lowerBound - base) * width)..<((span.upperBound - base) * width)])
        case .mean:
            var sum = [Double](repeating: 0, count: width)
            for t in span {
                let row = activation.row(t - base)
                for i in 0..<width { sum[i] += Double(row[i]) }
            }
            sums[h] = sum
        }
    }
}

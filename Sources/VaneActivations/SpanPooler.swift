import VaneEngine

/// Runs sequences through a model with reading hooks and pools each hooked point over a span of positions as
/// the activations pass: a row copy for `last` and `index:K`, the span's rows for `all`, a running sum (in
/// Double) for `mean`. Extraction, head attribution and the recipes all take their activations through it.
///
/// Each run is one exact (f32) forward call over the tokens up to the span's end: later tokens cannot change
/// earlier activations.
///
/// A mean can be dominated by one position: the first token of a sequence (the attention sink) has a residual
/// norm a hundred times the others' in many models. For `mean`, each run measures every position's share of the
/// mean m = Σ h_t / n as h_t·Σh / ‖Σh‖² (the shares sum to 1) and `dominance` counts, per point, the runs where
/// one position carries more than half of it over a span of at least 3 positions (worth a warning when the same
/// position does so in at least a tenth of the runs).
public final class SpanPooler {
    public let model: LanguageModel
    public let points: [HookPoint]
    public let positions: PositionMode

    private let hooks = Hooks()
    private var cache: KVCache
    private var span = 0..<0
    private var sums: [[Double]] = []
    private var rows: [[Float]] = []
    /// Per point (as `points`), what `mean` runs found (see the type's comment).
    public private(set) var dominance: [Dominance]

    /// Runs of a `mean` pooler in which one position carried more than half of the mean at one point.
    public struct Dominance: Sendable, Equatable {
        public var point: HookPoint
        /// Runs with a span of at least 3 positions.
        public var runs = 0
        /// Runs in which one position carried more than half of the mean.
        public var dominated = 0
        /// Per absolute position that dominated: in how many runs, and the largest share it carried.
        public var counts: [Int: Int] = [:]
        public var largest: [Int: Double] = [:]

        /// The position that dominated most often (the lower on a tie), and its largest share.
        public var position: Int? { counts.max { ($0.value, -$0.key) < ($1.value, -$1.key) }?.key }
        public var share: Double { position.flatMap { largest[$0] } ?? 0 }

        /// Shares above this are counted.
        public static let threshold = 0.5

        /// Whether the same position dominated in at least a tenth of the runs (the sink, always position 0, does):
        /// worth a warning, where a stray example whose one token outweighs the rest is not.
        public var isSystematic: Bool { position.map { (counts[$0] ?? 0) * 10 >= runs } ?? false }

        /// "position 0 carries 97% of the mean at blocks.15.hook_resid_post in 80 of 80 examples", or nil when no
        /// run was dominated.
        public var summary: String? {
            guard let position else { return nil }
            return "position \(position) carries \(Int((share * 100).rounded()))% of the mean at \(point) in "
                + "\(counts[position] ?? 0) of \(runs) examples"
        }

        mutating func record(position: Int, share: Double) {
            dominated += 1
            counts[position, default: 0] += 1
            largest[position] = max(largest[position] ?? 0, share)
        }
    }

    /// The share of the mean each row carries: h_t·Σh / ‖Σh‖², with `sum` = Σh over the rows.
    public static func shares<Row: Collection<Float>>(of rows: [Row], sum: [Double]) -> [Double] {
        let total = sum.reduce(0) { $0 + $1 * $1 }
        return rows.map { row in
            var dot = 0.0
            for (x, s) in zip(row, sum) { dot += Double(x) * s }
            return total > 0 ? dot / total : 0
        }
    }

    public init(model: LanguageModel, points: [HookPoint], positions: PositionMode, capacity: Int = 0) {
        self.model = model
        self.points = points
        self.positions = positions
        dominance = points.map { Dominance(point: $0) }
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
            let spanRows = span.map { activation.row($0 - base) }
            for row in spanRows {
                for i in 0..<width { sum[i] += Double(row[i]) }
            }
            sums[h] = sum
            if span.count >= 3 {
                dominance[h].runs += 1
                let shares = Self.shares(of: spanRows, sum: sum)
                if let top = shares.indices.max(by: { shares[$0] < shares[$1] }), shares[top] > Dominance.threshold {
                    dominance[h].record(position: span.lowerBound + top, share: shares[top])
                }
            }
        }
    }
}

import Foundation
import VanePlot
import VaneActivations
import VaneEngine
import VaneSteer
import VaneModelIO

/// How strongly one attention head pushes the residual stream along a direction.
public struct HeadScore: Sendable, Codable, Equatable {
    public var layer: Int
    public var head: Int
    public var score: Double

    public init(layer: Int, head: Int, score: Double) {
        self.layer = layer
        self.head = head
        self.score = score
    }

    /// `L.h`, as `--heads` takes it.
    public var name: String { "\(layer).\(head)" }
}

/// Per-head attribution (ThinkEdit): with d_L a layer's direction (positive side = label 1, e.g. long reasoning),
///
///     score(L, h) = mean over the chosen examples of [ mean over the example's span tokens of
///                   attn.hook_result[L, h] · (−d̂_L) ]
///
/// so a head scores high when its output pushes toward the label-0 side (short reasoning). By linearity the inner
/// mean equals the dot product of the span's mean head result, which is what a store pooled with
/// `--positions mean` holds; a store of all positions is averaged over each example's rows first.
public enum HeadAttribution {
    /// Scores from per-example mean head results: `results[L]` is [N, H·d] (example-major), `directions[L]` [d].
    public static func scores(results: [Int: [Float]], examples n: Int, heads: Int, width d: Int,
                              directions: [Int: [Float]]) -> [HeadScore] {
        var out: [HeadScore] = []
        for layer in results.keys.sorted() {
            guard let rows = results[layer], let dir = directions[layer] else { continue }
            let unit = unit(dir)
            for h in 0..<heads {
                var total = 0.0
                for i in 0..<n {
                    let base = (i * heads + h) * d
                    for c in 0..<d { total -= Double(rows[base + c]) * unit[c] }
                }
                out.append(HeadScore(layer: layer, head: h, score: total / Double(max(n, 1))))
            }
        }
        return out
    }

    /// Scores from a store holding `blocks.L.attn.hook_result` for each layer of `directions`, over the examples
    /// whose label is `label`.
    public static func scores(store: ActivationStore, directions: [Int: [Float]], label: Int = 0) throws -> [HeadScore] {
        let chosen = store.examples.labels.indices.filter { store.examples.labels[$0] == label }
        guard !chosen.isEmpty else {
            throw VaneError("\(store.url.path) has no examples with label \(label) (labels present: \(Set(store.examples.labels).sorted().map(String.init).joined(separator: ", ")))",
                             hint: "attribution runs on the label-0 (short) examples; pick others with --label")
        }
        var results: [Int: [Float]] = [:]
        var heads = 0, width = 0
        for layer in directions.keys.sorted() {
            let point = HookPoint.attnResult(layer)
            guard store.hooks.contains(point.description) else {
                throw VaneError("\(store.url.path) holds no \(point); attribution needs attn.hook_result at every layer of the direction",
                                 hint: "extract with --hooks 'blocks.*.attn.hook_result' --positions mean")
            }
            let t = try store.read(point)
            guard t.shape.count == 3 else { throw VaneError("\(store.url.path): \(point) has shape \(t.shape), expected [N, H, d]") }
            (heads, width) = (t.shape[1], t.shape[2])
            try checkWidth(directions[layer]!, width, layer: layer)
            let rowWidth = heads * width
            var rows = [Float](repeating: 0, count: chosen.count * rowWidth)
            for (k, i) in chosen.enumerated() {
                let span = store.tokenOffsets.map { $0[i]..<$0[i + 1] } ?? i..<(i + 1)
                guard !span.isEmpty else { continue }
                for r in span { for c in 0..<rowWidth { rows[k * rowWidth + c] += t.data[r * rowWidth + c] } }
                for c in 0..<rowWidth { rows[k * rowWidth + c] /= Float(span.count) }
            }
            results[layer] = rows
        }
        return scores(results: results, examples: chosen.count, heads: heads, width: width, directions: directions)
    }

    /// Scores computed on the fly from a JSONL dataset (the forms `vane extract` reads), teacher-forcing each
    /// example whose label is `label` and averaging over its span, input positions 0..<skipFirst left out (nil:
    /// 1, the attention sink, as for `extract --positions mean`).
    public static func scores(model: LanguageModel, data: URL, span: SpanRule, skipFirst: Int? = nil,
                              directions: [Int: [Float]], label: Int = 0,
                              progress: (ProgressEvent) -> Void = { _ in }) throws -> [HeadScore] {
        let c = model.config
        let (H, d) = (c.numAttentionHeads, c.hiddenSize)
        try LayerList.check(directions.keys.sorted(), modelLayers: c.numHiddenLayers)
        for (l, v) in directions { try checkWidth(v, d, layer: l) }
        let input = try ExtractionInput(url: data, model: model, span: span, positions: .mean, skipFirst: skipFirst,
                                        skipBad: false)
        let chosen = input.examples.filter { $0.label == label }
        guard !chosen.isEmpty else {
            throw VaneError("\(data.path) has no examples with label \(label)", hint: "attribution runs on the label-0 (short) examples; pick others with --label")
        }
        let layers = directions.keys.sorted()
        let units = directions.mapValues(unit)
        var sums = [Int: [Double]]()
        for l in layers { sums[l] = [Double](repeating: 0, count: H) }
        var tokensRun = 0
        progress(ProgressEvent(task: "heads", done: 0, total: chosen.count, tokens: 0))
        // The mean over the span of −result_h · u is −(mean result_h) · u: pool the results, then project.
        let pooler = SpanPooler(model: model, points: layers.map { .attnResult($0) }, positions: .mean,
                                capacity: chosen.map(\.span.upperBound).max() ?? 1)
        for (index, example) in chosen.enumerated() {
            let means = try pooler.run(example.tokens, span: example.span)
            for (k, l) in layers.enumerated() {
                let u = units[l]!
                for h in 0..<H {
                    var dot = 0.0
                    for i in 0..<d { dot += Double(means[k][h * d + i]) * u[i] }
                    sums[l]![h] -= dot
                }
            }
            tokensRun += example.span.upperBound
            progress(ProgressEvent(task: "heads", done: index + 1, total: chosen.count, tokens: tokensRun))
        }
        return layers.flatMap { l in (0..<H).map { HeadScore(layer: l, head: $0, score: sums[l]![$0] / Double(chosen.count)) } }
    }

    /// Highest score first (ties: lower layer, then lower head).
    public static func ranked(_ scores: [HeadScore]) -> [HeadScore] {
        scores.sorted { ($0.score, -$0.layer, -$0.head) > ($1.score, -$1.layer, -$1.head) }
    }

    /// The top `k` heads, refusing a k the model cannot supply.
    public static func top(_ k: Int, of scores: [HeadScore]) throws -> [HeadScore] {
        guard k >= 1 else { throw VaneError("--top-k must be at least 1 (got \(k))") }
        guard k <= scores.count else {
            throw VaneError("--top-k \(k) is larger than the \(scores.count) heads scored",
                             hint: "choose k ≤ \(scores.count) (layers scored × heads per layer)")
        }
        return Array(ranked(scores).prefix(k))
    }

    public static func table(_ scores: [HeadScore], limit: Int? = nil) -> String {
        var s = " rank  layer  head       score\n"
        for (i, x) in ranked(scores).prefix(limit ?? scores.count).enumerated() {
            s += String(format: "%5d  %5d  %4d  %10.4f\n", i + 1, x.layer, x.head, x.score)
        }
        return s
    }

    public static func json(_ scores: [HeadScore]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(ranked(scores))
    }

    /// Reads the JSON `json(_:)` writes.
    public static func read(json url: URL) throws -> [HeadScore] {
        do { return try JSONDecoder().decode([HeadScore].self, from: Data(contentsOf: url)) } catch {
            throw VaneError("\(url.path): not a head-score list as `vane heads --json` writes it (\(error.localizedDescription))")
        }
    }

    /// Layers × heads, each cell coloured by its score.
    public static func heatmap(_ scores: [HeadScore], title: String) -> SVGHeatmap {
        let layers = Array(Set(scores.map(\.layer))).sorted()
        let heads = (scores.map(\.head).max() ?? -1) + 1
        var cells = [[Double]](repeating: [Double](repeating: .nan, count: heads), count: layers.count)
        for s in scores { if let r = layers.firstIndex(of: s.layer) { cells[r][s.head] = s.score } }
        return SVGHeatmap(title: title, rowLabel: "layer", columnLabel: "head", rows: layers.map(String.init),
                          columns: (0..<heads).map(String.init), values: cells)
    }

    static func unit(_ v: [Float]) -> [Double] {
        let norm = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return v.map { norm > 0 ? Double($0) / norm : 0 }
    }

    static func checkWidth(_ v: [Float], _ d: Int, layer: Int) throws {
        guard v.count == d else {
            throw VaneError("the direction at layer \(layer) has width \(v.count) but the model's hidden size is \(d)",
                             hint: "the vector was made for a different model")
        }
    }
}

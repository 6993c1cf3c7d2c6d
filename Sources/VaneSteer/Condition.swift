import Foundation
import VaneEngine
import VaneModelIO
import VanePlot

/// Conditional steering (CAST, Lee et al. 2024): a condition direction c at one layer decides, from a prompt's
/// activations, whether the behaviour vectors apply to that generation at all.
///
///     score   = cos(h̄, c)          h̄ = the prompt's pooled activation at the condition's hook and layer
///     fires   = score ≥ threshold   (comparator `ge`), or score ≤ threshold (`le`)
///
/// h̄ is pooled as the store the condition was found on pooled its examples: the mean over the prompt's positions
/// from `skip_first` on (stores of `mean` or `all` positions), or the last position (`last`). The decision is taken
/// once, when the prompt's last row passes the condition's point; the behaviour vectors then steer the generated
/// positions only (the prompt was already processed when the decision fell), so a condition that never fires
/// leaves generation bit-identical to no steering.
///
/// `vane vector condition` finds c, the layer, the threshold and the comparator on a labelled store by grid search
/// (`ConditionSearch`), and writes them into the vector file beside the directions:
///
///     vane.condition.layer        u32     the layer whose direction decides
///     vane.condition.threshold    f32
///     vane.condition.comparator   string  ge | le
///     vane.condition.pooling      string  mean | last
///     vane.condition.skip_first   u32     positions left out of the mean
///     vane.condition.f1           f32     F1 of the decision on the store it was found on
public struct SteerCondition: Sendable, Equatable {
    public enum Comparator: String, Sendable, CaseIterable {
        case ge, le

        func holds(_ score: Double, _ threshold: Double) -> Bool { self == .ge ? score >= threshold : score <= threshold }
        var symbol: String { self == .ge ? "≥" : "≤" }
    }

    public enum Pooling: Sendable, Equatable {
        case mean(skipFirst: Int)
        case last
    }

    public var layer: Int
    public var threshold: Float
    public var comparator: Comparator
    public var pooling: Pooling
    public var f1: Float?

    public init(layer: Int, threshold: Float, comparator: Comparator, pooling: Pooling, f1: Float? = nil) {
        self.layer = layer
        self.threshold = threshold
        self.comparator = comparator
        self.pooling = pooling
        self.f1 = f1
    }

    var metadata: [(key: String, value: GGUFValue)] {
        var out: [(key: String, value: GGUFValue)] = [
            ("vane.condition.layer", .uint32(UInt32(layer))),
            ("vane.condition.threshold", .float32(threshold)),
            ("vane.condition.comparator", .string(comparator.rawValue)),
        ]
        switch pooling {
        case .mean(let k):
            out += [("vane.condition.pooling", .string("mean")), ("vane.condition.skip_first", .uint32(UInt32(k)))]
        case .last:
            out.append(("vane.condition.pooling", .string("last")))
        }
        if let f1 { out.append(("vane.condition.f1", .float32(f1))) }
        return out
    }

    /// The condition a vector file carries; nil when it has no `vane.condition.layer`.
    init?(file: GGUFFile, path: String, directions: [Int: [Float]]) throws {
        guard let layer = file["vane.condition.layer"]?.int else { return nil }
        guard directions[layer] != nil else {
            throw VaneError("\(path): vane.condition.layer is \(layer), which has no direction tensor")
        }
        guard let t = file["vane.condition.threshold"]?.float, t.isFinite, abs(t) <= 1 else {
            throw VaneError("\(path): vane.condition.threshold is missing or not a cosine in −1…1")
        }
        guard let c = file["vane.condition.comparator"]?.string.flatMap(Comparator.init(rawValue:)) else {
            throw VaneError("\(path): vane.condition.comparator is missing or not ge / le")
        }
        let pooling: Pooling
        switch file["vane.condition.pooling"]?.string {
        case "mean": pooling = .mean(skipFirst: file["vane.condition.skip_first"]?.int ?? 0)
        case "last": pooling = .last
        default: throw VaneError("\(path): vane.condition.pooling is missing or not mean / last")
        }
        self.init(layer: layer, threshold: Float(t), comparator: c, pooling: pooling,
                  f1: file["vane.condition.f1"]?.float.map(Float.init))
    }

    public var description: String {
        let pool = switch pooling {
        case .mean(let k): k > 0 ? "mean from position \(k)" : "mean"
        case .last: "last position"
        }
        return "cos \(comparator.symbol) \(String(format: "%.4g", threshold)) at layer \(layer) (\(pool))"
    }
}

/// The decision of a condition on one prompt, filled in while the prompt runs.
public final class ConditionOutcome: @unchecked Sendable {
    /// cos(h̄, c); nil until the prompt's last row passed the condition's point.
    public internal(set) var score: Double?
    public internal(set) var fired = false

    public init() {}
}

extension SteerCondition {
    /// `--steer-if COND.gguf[@layer=L,threshold=T,comparator=ge|le]`: the file's condition with any setting
    /// replaced.
    public static func parse(_ text: String) throws -> (path: String, layer: Int?, threshold: Float?, comparator: Comparator?) {
        var path = text, layer: Int?, threshold: Float?, comparator: Comparator?
        guard !FileManager.default.fileExists(atPath: text), let at = text.lastIndex(of: "@") else { return (path, nil, nil, nil) }
        path = String(text[..<at])
        for part in text[text.index(after: at)...].split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            let hint = "write COND.gguf[@layer=L,threshold=T,comparator=ge|le]"
            guard kv.count == 2 else { throw VaneError("--steer-if \"\(text)\": \"\(part)\" is not key=value", hint: hint) }
            switch kv[0] {
            case "layer":
                guard let l = Int(kv[1]), l >= 1 else { throw VaneError("--steer-if \"\(text)\": layer \"\(kv[1])\" is not a layer from 1", hint: hint) }
                layer = l
            case "threshold":
                guard let t = Float(kv[1]), t.isFinite, abs(t) <= 1 else {
                    throw VaneError("--steer-if \"\(text)\": threshold \"\(kv[1])\" is not a cosine in −1…1", hint: hint)
                }
                threshold = t
            case "comparator":
                guard let c = Comparator(rawValue: kv[1]) else { throw VaneError("--steer-if \"\(text)\": comparator \"\(kv[1])\" is not ge or le", hint: hint) }
                comparator = c
            default:
                throw VaneError("--steer-if \"\(text)\": \"\(kv[0])\" is not layer, threshold or comparator", hint: hint)
            }
        }
        return (path, layer, threshold, comparator)
    }
}

/// A condition with its direction, ready to install.
public struct SteerGate: Sendable {
    public var vector: ControlVector
    public var condition: SteerCondition

    public init(vector: ControlVector, condition: SteerCondition) {
        self.vector = vector
        self.condition = condition
    }

    /// The gate from a vector file, with settings given on the command line replacing the file's. A file without a
    /// condition needs layer and threshold given (pooling then: mean over every position).
    public init(_ text: String) throws {
        let p = try SteerCondition.parse(text)
        let v = try ControlVector(contentsOf: URL(fileURLWithPath: p.path))
        guard var c = v.condition ?? p.layer.flatMap({ l in p.threshold.map { SteerCondition(layer: l, threshold: $0, comparator: .ge, pooling: .mean(skipFirst: 1)) } }) else {
            throw VaneError("\(p.path) carries no condition (vane.condition.*)",
                            hint: "make one with `vane vector condition`, or give @layer=L,threshold=T")
        }
        if let l = p.layer { c.layer = l }
        if let t = p.threshold { c.threshold = t }
        if let cmp = p.comparator { c.comparator = cmp }
        guard v.directions[c.layer] != nil else {
            throw VaneError("\(p.path) has no direction at layer \(c.layer); it has \(LayerList.describe(v.layers))")
        }
        self.init(vector: v, condition: c)
    }

    /// Registers the hook that pools the prompt's rows at the condition's point and decides once the last prompt
    /// row has passed.
    func install(on hooks: Hooks, promptLength: Int, outcome: ConditionOutcome) {
        let direction = vector.directions[condition.layer]!
        let condition = self.condition
        var sum = [Double](repeating: 0, count: direction.count)
        var count = 0
        hooks.add(vector.hook.point(condition.layer)) { a in
            for (t, position) in a.positions.enumerated() where position < promptLength {
                let take: Bool = switch condition.pooling {
                case .mean(let k): position >= min(k, promptLength - 1)
                case .last: position == promptLength - 1
                }
                if take {
                    let row = a.row(t)
                    for i in 0..<sum.count { sum[i] += Double(row[i]) }
                    count += 1
                }
                if position == promptLength - 1 {
                    let score = cosine(sum.map { $0 / Double(max(count, 1)) }, direction)
                    outcome.score = score
                    outcome.fired = condition.comparator.holds(score, Double(condition.threshold))
                }
            }
        }
    }
}

func cosine(_ a: [Double], _ b: [Float]) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for i in 0..<a.count {
        ab += a[i] * Double(b[i])
        aa += a[i] * a[i]
        bb += Double(b[i]) * Double(b[i])
    }
    return aa > 0 && bb > 0 ? ab / (aa * bb).squareRoot() : 0
}

/// The grid search of `vane vector condition`: for each layer, the direction (by any DirectionMethod) and every
/// threshold between two neighbouring example scores, with both comparators; the best F1 over all of them, the
/// positive class being label 1 (the condition holds).
public enum ConditionSearch {
    public struct LayerResult: Sendable {
        public var layer: Int
        public var direction: [Float]
        public var threshold: Float
        public var comparator: SteerCondition.Comparator
        public var f1: Double
        public var precision: Double
        public var recall: Double
    }

    /// The best threshold and comparator for one layer's rows [N, d] and direction, by F1 on the labelled rows.
    public static func best(rows: [Float], width d: Int, direction: [Float], labels: [Int], layer: Int) -> LayerResult {
        let idx = labels.indices.filter { labels[$0] == 0 || labels[$0] == 1 }
        let scored = idx.map { i in (score: cosine(rows[(i * d)..<((i + 1) * d)].map(Double.init), direction), positive: labels[i] == 1) }
            .sorted { $0.score < $1.score }
        let positives = scored.filter(\.positive).count
        var best = LayerResult(layer: layer, direction: direction, threshold: 0, comparator: .ge, f1: -1, precision: 0, recall: 0)
        // Thresholds between neighbours, and below / above every score.
        var cuts = [scored.first.map { $0.score - 1e-6 } ?? 0]
        for k in 1..<max(scored.count, 1) where scored[k].score > scored[k - 1].score {
            cuts.append((scored[k].score + scored[k - 1].score) / 2)
        }
        cuts.append((scored.last?.score ?? 0) + 1e-6)
        for cut in cuts {
            for comparator in SteerCondition.Comparator.allCases {
                var tp = 0, fp = 0
                for s in scored where comparator.holds(s.score, cut) {
                    if s.positive { tp += 1 } else { fp += 1 }
                }
                let precision = tp + fp > 0 ? Double(tp) / Double(tp + fp) : 0
                let recall = positives > 0 ? Double(tp) / Double(positives) : 0
                let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
                if f1 > best.f1 {
                    best = LayerResult(layer: layer, direction: direction, threshold: Float(cut), comparator: comparator,
                                       f1: f1, precision: precision, recall: recall)
                }
            }
        }
        return best
    }

    public static func plot(_ results: [LayerResult], title: String) -> SVGPlot {
        SVGPlot([SVGPlot.Panel(title: "\(title): condition F1 by layer", xLabel: "layer", yLabel: "F1",
                               x: results.map { Double($0.layer) }, series: [.init("F1", results.map(\.f1))])])
    }

    public static func table(_ results: [LayerResult]) -> String {
        var s = "layer      f1  precision  recall  comparator  threshold\n"
        for r in results {
            s += String(format: "%5d  %6.3f  %9.3f  %6.3f  %10@  %9.4f\n", r.layer, r.f1, r.precision, r.recall,
                        r.comparator.rawValue, r.threshold)
        }
        return s
    }
}

extension VectorBuilder {
    /// The condition of `vane vector condition`: a direction per layer by `method`, the best (layer, threshold,
    /// comparator) by F1 (ties: the lower layer), and the vector file holding the directions and the condition.
    public func condition(_ method: DirectionMethod, hook: SteerHook? = nil, layers: [Int]? = nil,
                          commandLine: String? = nil) throws -> (vector: ControlVector, results: [ConditionSearch.LayerResult]) {
        let pooling: SteerCondition.Pooling
        switch store.provenance.positions {
        case .mean, .all: pooling = .mean(skipFirst: store.provenance.skipFirst)
        case .last: pooling = .last
        case .index(let k):
            throw VaneError("\(store.url.path) pooled position \(k) of each span; a condition pools a prompt by its mean or its last position",
                            hint: "extract with --positions mean, last or all")
        }
        var vector = try compute(method, hook: hook, layers: layers, commandLine: commandLine)
        let labels = examples.labels
        var results: [ConditionSearch.LayerResult] = []
        for l in vector.layers {
            let (rows, d) = try rows(vector.hook.point(l))
            results.append(ConditionSearch.best(rows: rows, width: d, direction: vector.directions[l]!, labels: labels, layer: l))
        }
        guard let top = results.max(by: { $0.f1 < $1.f1 || ($0.f1 == $1.f1 && $0.layer > $1.layer) }) else {
            throw VaneError("no layer to search")
        }
        vector.condition = SteerCondition(layer: top.layer, threshold: top.threshold, comparator: top.comparator,
                                          pooling: pooling, f1: Float(top.f1))
        vector.method = "condition(\(method.rawValue))"
        return (vector, results)
    }
}

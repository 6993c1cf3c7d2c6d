import Foundation
import VaneEngine
import VaneModelIO
import VanePlot

/// RICE's expert finding: which experts a mixture-of-experts model routes the marked tokens to (reasoning words
/// such as "wait", "hmm", "alternatively"). Over every token t of the texts, for each block L with experts and
/// each expert e:
///
///     routed(t, L, e)  e is among the top k of block L at t (mlp.hook_expert_weights[t, e] ≠ 0)
///     marked(t)        t's text, trimmed and lowercased, is one of the marker tokens; or (span markers) t lies
///                      between a start marker and the next end marker: it begins at or after the start marker's
///                      last byte and before the end marker's first (the marker tokens themselves are not marked)
///     nPMI = ln(p(r, m) / (p(r)·p(m))) / −ln p(r, m)        in [−1, 1]; −1 when never routed at a marked token
///
/// and the experts are ranked by nPMI (ties: more marked-and-routed tokens first). The texts run as plain text,
/// one forward pass each, with the model's own routing.
public enum Rice {
    /// Which tokens are marked.
    public enum Marks: Sendable {
        /// Whole tokens whose text, trimmed and lowercased, is one of these.
        case tokens([String])
        /// The tokens inside every START … END span of a text (`--span-start/--span-end`, e.g. `<think>` and
        /// `</think>`).
        case span(start: String, end: String)
    }

    public struct Score: Codable, Sendable, Equatable {
        public var layer: Int
        public var expert: Int
        public var npmi: Double
        /// Tokens routed to the expert, and those of them marked.
        public var routed: Int
        public var markedRouted: Int
    }

    public struct Result: Codable, Sendable {
        public var model: String
        /// The marker tokens, or a span's start and end marker.
        public var markers: [String]
        /// Whether `markers` are a span's start and end (else whole tokens).
        public var span: Bool
        public var texts: Int
        public var tokens: Int
        public var markedTokens: Int
        public var experts: Int
        public var expertsPerToken: Int
        /// Blocks with experts, from 0 (`blocks.L`).
        public var layers: [Int]
        /// Every (layer, expert), best first.
        public var ranked: [Score]
    }

    /// nPMI of two binary events over `total` tokens from their counts.
    public static func npmi(joint: Int, routed: Int, marked: Int, total: Int) -> Double {
        guard joint > 0 else { return -1 }
        let n = Double(total)
        let (pxy, px, py) = (Double(joint) / n, Double(routed) / n, Double(marked) / n)
        guard pxy < 1 else { return 1 }
        return Foundation.log(pxy / (px * py)) / -Foundation.log(pxy)
    }

    /// Texts of a JSON Lines file: each line an object with a "text" string (also "prompt" or "response").
    public static func texts(contentsOf url: URL) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw VaneError("cannot read \(url.path): \(error.localizedDescription)")
        }
        var out: [String] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let text = (object["text"] ?? object["response"] ?? object["prompt"]) as? String else {
                throw VaneError("\(url.path):\(i + 1): not a JSON object with a \"text\" string",
                                hint: "one object per line, e.g. {\"text\": \"… wait, that is wrong …\"}")
            }
            out.append(text)
        }
        guard !out.isEmpty else { throw VaneError("\(url.path) holds no texts") }
        return out
    }

    /// Routes every token of `texts` through `model` and scores each (layer, expert) against the marker tokens.
    public static func run(_ model: LanguageModel, texts: [String], markers: [String],
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        try run(model, texts: texts, marks: .tokens(markers), progress: progress)
    }

    /// Routes every token of `texts` through `model` and scores each (layer, expert) against the marked tokens.
    public static func run(_ model: LanguageModel, texts: [String], marks marking: Marks,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> Result {
        let c = model.config
        guard let moe = c.moe else {
            throw VaneError("RICE needs a mixture-of-experts model; \(model.files.url.lastPathComponent) is \(c.architecture), which has no experts")
        }
        let mark: ([Int]) -> [Bool]
        let described: [String]
        switch marking {
        case .tokens(let markers):
            let wanted = Set(markers.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
            guard !wanted.isEmpty else { throw VaneError("no marker tokens given", hint: "e.g. --tokens \"wait,hmm,alternatively\"") }
            mark = { ids in ids.map { wanted.contains(model.tokenizer.decode([$0]).trimmingCharacters(in: .whitespacesAndNewlines).lowercased()) } }
            described = wanted.sorted()
        case .span(let start, let end):
            guard !start.isEmpty, !end.isEmpty else { throw VaneError("span markers must not be empty", hint: "e.g. --span-start '<think>' --span-end '</think>'") }
            mark = { ids in insideSpans(ids.map { model.tokenizer.bytes(of: $0) }, start: Array(start.utf8), end: Array(end.utf8)) }
            described = [start, end]
        }
        let layers = (0..<c.numHiddenLayers).filter(c.routes)
        let E = moe.experts
        var routed = [[Int]](repeating: [Int](repeating: 0, count: E), count: c.numHiddenLayers)
        var joint = routed
        var (tokens, marked) = (0, 0)
        var marks: [Bool] = []
        let hooks = Hooks()
        for l in layers {
            hooks.add(.expertWeights(l)) { a in
                for t in 0..<a.shape[0] {
                    let row = a.row(t)
                    for e in 0..<E where row[e] != 0 {
                        routed[l][e] += 1
                        if marks[t] { joint[l][e] += 1 }
                    }
                }
            }
        }
        for (i, text) in texts.enumerated() {
            let ids = model.encode(text)
            guard !ids.isEmpty else { continue }
            marks = mark(ids)
            let cache = model.transformer.makeCache(capacity: ids.count)
            guard cache.capacity >= ids.count else {
                throw VaneError("text \(i + 1) has \(ids.count) tokens, more than the model's context of \(cache.capacity)")
            }
            _ = try model.transformer.forward(ids, cache: cache, hooks: hooks, logits: .none)
            tokens += ids.count
            marked += marks.filter { $0 }.count
            progress(i + 1, texts.count)
        }
        guard marked > 0 else {
            if case .span(let start, let end) = marking {
                throw VaneError("no token of the texts lies between \(String(reflecting: start)) and \(String(reflecting: end))",
                                hint: "a span is the tokens after a start marker up to the next end marker; check the texts hold both")
            }
            throw VaneError("no token of the texts is one of the markers (\(described.joined(separator: ", ")))",
                            hint: "markers match whole tokens, trimmed and lowercased; `vane tokenize` shows how the model splits a text")
        }
        var scores: [Score] = []
        for l in layers {
            for e in 0..<E {
                scores.append(Score(layer: l, expert: e,
                                    npmi: npmi(joint: joint[l][e], routed: routed[l][e], marked: marked, total: tokens),
                                    routed: routed[l][e], markedRouted: joint[l][e]))
            }
        }
        scores.sort { ($0.npmi, $0.markedRouted, -$0.layer, -$0.expert) > ($1.npmi, $1.markedRouted, -$1.layer, -$1.expert) }
        var span = false
        if case .span = marking { span = true }
        return Result(model: model.files.url.lastPathComponent, markers: described, span: span, texts: texts.count, tokens: tokens,
                      markedTokens: marked, experts: E, expertsPerToken: moe.expertsPerToken, layers: layers, ranked: scores)
    }

    /// For tokens given as their bytes: whether each begins inside a START … END span (at or after the end of a
    /// start marker, before the first byte of the next end marker), over every such span of the text.
    static func insideSpans(_ tokens: [[UInt8]], start: [UInt8], end: [UInt8]) -> [Bool] {
        var offsets: [Int] = [], bytes: [UInt8] = []
        for t in tokens {
            offsets.append(bytes.count)
            bytes += t
        }
        func find(_ needle: [UInt8], from i: Int) -> Int? {
            guard bytes.count >= needle.count, i <= bytes.count - needle.count else { return nil }
            return (i...(bytes.count - needle.count)).first { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
        }
        var spans: [Range<Int>] = []
        var from = 0
        while let open = find(start, from: from) {
            let inside = open + start.count
            guard let close = find(end, from: inside) else { break }
            spans.append(inside..<close)
            from = close + end.count
        }
        return offsets.map { o in spans.contains { $0.contains(o) } }
    }

    /// The layer × expert grid of nPMI values.
    public static func heatmap(_ r: Result) -> SVGHeatmap {
        var values = [[Double]](repeating: [Double](repeating: .nan, count: r.experts), count: r.layers.count)
        for s in r.ranked { if let row = r.layers.firstIndex(of: s.layer) { values[row][s.expert] = s.npmi } }
        let marked = r.span ? "inside \(r.markers[0]) … \(r.markers[1])" : r.markers.joined(separator: ", ")
        return SVGHeatmap(title: "nPMI(routed, marked: \(marked))", rowLabel: "block",
                          columnLabel: "expert", rows: r.layers.map(String.init), columns: (0..<r.experts).map(String.init),
                          values: values)
    }

    /// Writes the result as JSON.
    public static func write(_ r: Result, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(r)
        try AtomicFile.write(url) { try $0.write(contentsOf: data + Data("\n".utf8)) }
    }
}

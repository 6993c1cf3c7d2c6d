import Foundation
import VaneActivations
import VaneBake
import VaneSteer
import VaneEngine
import VaneModelIO
import VaneTokenizer

/// Reasoning length, as ThinkEdit measures it: the tokens between `<think>` and `</think>` when the response has
/// the opening tag (up to the response's end when it was cut before `</think>`), else every token of the response.
public enum ReasoningLength {
    public static let open = "<think>", close = "</think>"

    /// The reasoning tokens' range within `tokens` (a response), and whether the response opened a think block.
    public static func span(of tokens: [Int], tokenizer: BPETokenizer) -> (range: Range<Int>, tagged: Bool) {
        var starts: [Int] = []
        var bytes: [UInt8] = []
        for id in tokens {
            starts.append(bytes.count)
            bytes += tokenizer.bytes(of: id)
        }
        guard let o = find(Array(open.utf8), in: bytes, from: 0) else { return (0..<tokens.count, false) }
        let inside = o + open.utf8.count
        let end = find(Array(close.utf8), in: bytes, from: inside) ?? bytes.count
        let first = starts.firstIndex { $0 >= inside } ?? tokens.count
        let last = starts.firstIndex { $0 >= end } ?? tokens.count
        return (first..<max(first, last), true)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        return (start...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

/// A length cut: a token count (`120`) or a percentile of the observed lengths (`25%`, linear interpolation).
public enum LengthThreshold: Sendable, Equatable, CustomStringConvertible {
    case tokens(Double)
    case percentile(Double)

    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") {
            guard let p = Double(t.dropLast()), (0...100).contains(p) else {
                throw VaneError("length threshold \"\(text)\": a percentile is a number from 0% to 100%")
            }
            self = .percentile(p)
        } else {
            guard let n = Double(t), n >= 0, n.isFinite else {
                throw VaneError("length threshold \"\(text)\" is neither a token count (120) nor a percentile (25%)")
            }
            self = .tokens(n)
        }
    }

    public var description: String {
        switch self {
        case .tokens(let n): String(format: "%g tokens", n)
        case .percentile(let p): String(format: "%g%%", p)
        }
    }

    /// The cut in tokens for these lengths.
    public func tokens(over lengths: [Int]) -> Double {
        switch self {
        case .tokens(let n): return n
        case .percentile(let p): return Self.quantile(lengths.map(Double.init), p / 100)
        }
    }

    /// The q-quantile (0…1) with linear interpolation between order statistics (numpy's default).
    public static func quantile(_ x: [Double], _ q: Double) -> Double {
        guard !x.isEmpty else { return .nan }
        let s = x.sorted()
        let pos = q * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        return s[lo] + (pos - Double(lo)) * (s[hi] - s[lo])
    }
}

/// The sampling settings a model ships with: GGUF `general.sampling.{temp,top_k,top_p,min_p}`, or an HF folder's
/// generation_config.json (`do_sample`, `temperature`, `top_k`, `top_p`; transformers' defaults 1.0, 50, 1.0 fill
/// what it leaves out when sampling). A model that says nothing decodes greedily, as transformers' `generate` does.
public enum ModelSampling {
    public static func defaults(_ files: ModelFiles) -> (options: SamplingOptions, source: String) {
        switch files.source {
        case .gguf(let f):
            guard let temp = f.metadata["general.sampling.temp"]?.float else { break }
            return (SamplingOptions(temperature: Float(temp), topK: f.metadata["general.sampling.top_k"]?.int ?? 0,
                                    topP: Float(f.metadata["general.sampling.top_p"]?.float ?? 1),
                                    minP: Float(f.metadata["general.sampling.min_p"]?.float ?? 0)), "general.sampling.*")
        case .hfFolder(let url, _):
            let file = url.appendingPathComponent("generation_config.json")
            guard let data = try? Data(contentsOf: file),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  json["do_sample"] as? Bool == true else { break }
            return (SamplingOptions(temperature: (json["temperature"] as? NSNumber)?.floatValue ?? 1,
                                    topK: (json["top_k"] as? NSNumber)?.intValue ?? 50,
                                    topP: (json["top_p"] as? NSNumber)?.floatValue ?? 1), "generation_config.json")
        }
        return (.greedy, "none in the model (greedy)")
    }
}

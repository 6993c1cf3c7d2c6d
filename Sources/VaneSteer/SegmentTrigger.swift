import VaneEngine
import VaneModelIO
import VaneTokenizer

/// Steering at segments of the text rather than at every position, found as tokens arrive:
///
///     inside:M1,M2          tokens that begin after an M1 and before the next M2 (`inside:<think>,</think>`: the
///                           thinking span); a token that may begin M2 (the text from at or before its start is a
///                           prefix of M2, e.g. "</") is left out, as the tokens completing M2 are not known yet
///     at:TEXT               the token in which each occurrence of TEXT ends (`at:\n\n`: SEAL's thought
///                           boundaries, where `vane recipe seal` reads its direction)
///     after:TEXT            the token right after each occurrence of TEXT, i.e. the one following the token in
///                           which the occurrence ends (`after:\n\n`: thought boundaries; `after:Wait`)
///     first-of-segment:SEP  the first generated token and, among generated tokens, the one after each SEP
///
/// TEXT, markers and separators are matched on the decoded bytes; `\n`, `\t`, `\\` and `\,` are escapes. A position
/// is decided when its token is an input of the forward pass, from that token and those before it, so decoding
/// and a teacher-forced pass over the same tokens steer the same rows.
public enum SegmentTrigger: Sendable, Hashable, CustomStringConvertible {
    case inside(start: String, end: String)
    case at(String)
    case after(String)
    case firstOfSegment(String)

    /// Parses the text after `inside:`, `after:` or `first-of-segment:`; nil for other text.
    public init?(parsing text: String) throws {
        if text.hasPrefix("inside:") {
            let (start, end) = try Self.unescapePair(text.dropFirst("inside:".count), in: text, form: "inside:")
            self = .inside(start: start, end: end)
        } else if text.hasPrefix("at:") {
            self = .at(try Self.unescape(text.dropFirst("at:".count), in: text))
        } else if text.hasPrefix("after:") {
            self = .after(try Self.unescape(text.dropFirst("after:".count), in: text))
        } else if text.hasPrefix("first-of-segment:") {
            self = .firstOfSegment(try Self.unescape(text.dropFirst("first-of-segment:".count), in: text))
        } else {
            return nil
        }
    }

    /// A marker written on a command line: `\n`, `\t`, `\\` and `\,` are escapes; empty markers are refused.
    /// `text` is the whole argument, for the message.
    public static func unescape(_ s: Substring, in text: String) throws -> String {
        var out = "", escaped = false
        for c in s {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\", ",": out.append(c)
                default: throw VaneError("\"\\\(c)\" in \"\(text)\" is not an escape: use \\n, \\t, \\\\ or \\,")
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        guard !escaped else { throw VaneError("\"\(text)\" ends with a lone backslash") }
        guard !out.isEmpty else { throw VaneError("\"\(text)\" has an empty marker") }
        return out
    }

    /// `START,END` split at the first comma that is not escaped, each unescaped; `form` prefixes the example.
    public static func unescapePair(_ body: Substring, in text: String, form: String = "") throws -> (String, String) {
        var i = body.startIndex, escaped = false
        while i < body.endIndex, escaped || body[i] != "," {
            escaped = !escaped && body[i] == "\\"
            i = body.index(after: i)
        }
        guard i < body.endIndex else {
            throw VaneError("\"\(text)\": write \(form)START,END, e.g. \(form)<think>,</think>")
        }
        return (try unescape(body[..<i], in: text), try unescape(body[body.index(after: i)...], in: text))
    }

    public var description: String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
                .replacingOccurrences(of: "\t", with: "\\t").replacingOccurrences(of: ",", with: "\\,")
        }
        return switch self {
        case .inside(let a, let b): "inside:\(escape(a)),\(escape(b))"
        case .at(let t): "at:\(escape(t))"
        case .after(let t): "after:\(escape(t))"
        case .firstOfSegment(let s): "first-of-segment:\(escape(s))"
        }
    }
}

/// Decides, position by position, where one trigger fires in one sequence, from the tokens its forward calls
/// recorded on the hooks. Keeps the decoded bytes so far; a rewound sequence (a shorter or different prefix) is
/// decided again from the first position that changed.
final class SegmentTracker {
    let trigger: SegmentTrigger
    let tokenizer: BPETokenizer
    let promptLength: Int
    private let start: [UInt8], end: [UInt8]
    private var seen: [Int] = []
    private var text: [UInt8] = []
    /// Byte offset where each seen position's token begins.
    private var offsets: [Int] = []
    private var fires: [Bool] = []
    /// `inside:` only: whether the text before each position is inside the span.
    private var open: [Bool] = []

    init(_ trigger: SegmentTrigger, tokenizer: BPETokenizer, promptLength: Int) {
        self.trigger = trigger
        self.tokenizer = tokenizer
        self.promptLength = promptLength
        switch trigger {
        case .inside(let a, let b): (start, end) = (Array(a.utf8), Array(b.utf8))
        case .at(let t), .after(let t), .firstOfSegment(let t): (start, end) = (Array(t.utf8), [])
        }
    }

    /// Generated positions the trigger fired at so far.
    var firedGenerated: Int { fires.indices.filter { $0 >= promptLength && fires[$0] }.count }

    func fires(at position: Int, tokens: [Int]) -> Bool {
        guard position < tokens.count, tokens[position] >= 0 else { return false }
        var keep = min(seen.count, position)
        if let changed = (0..<keep).first(where: { seen[$0] != tokens[$0] }) { keep = changed }
        if keep < seen.count { rewind(to: keep) }
        while seen.count <= position { advance(tokens[seen.count]) }
        return fires[position]
    }

    private func rewind(to p: Int) {
        seen.removeSubrange(p...)
        fires.removeSubrange(p...)
        if !open.isEmpty { open.removeSubrange(p...) }
        text.removeSubrange(offsets[p]...)
        offsets.removeSubrange(p...)
    }

    /// Whether `marker` ends at byte offset e of the text.
    private func endsAt(_ e: Int, _ marker: [UInt8]) -> Bool {
        e >= marker.count && text[(e - marker.count)..<e].elementsEqual(marker)
    }

    /// Whether an occurrence of `marker` ends within the previous token (bytes offsets[p-1]+1 … offsets[p]).
    private func endsInPreviousToken(_ marker: [UInt8]) -> Bool {
        let p = seen.count
        guard p >= 1 else { return false }
        return (offsets[p - 1] + 1...max(offsets[p - 1] + 1, text.count)).contains { $0 <= text.count && endsAt($0, marker) }
    }

    private func advance(_ token: Int) {
        let p = seen.count
        let bytes = tokenizer.bytes(of: token)
        offsets.append(text.count)
        let fire: Bool
        switch trigger {
        case .at:
            // An occurrence ending within this token's own bytes.
            let through = text + bytes
            fire = !bytes.isEmpty && (text.count + 1...through.count).contains { e in
                e >= start.count && through[(e - start.count)..<e].elementsEqual(start)
            }
        case .after:
            fire = endsInPreviousToken(start)
        case .firstOfSegment:
            fire = p == promptLength || (p > promptLength && endsInPreviousToken(start))
        case .inside:
            // Walk the previous token's bytes: each completed START opens the span, each completed END closes it.
            var inside = p == 0 ? false : open[p - 1]
            if p >= 1 {
                for e in (offsets[p - 1] + 1)...max(offsets[p - 1] + 1, text.count) where e <= text.count {
                    if !inside, endsAt(e, start) { inside = true } else if inside, endsAt(e, end) { inside = false }
                }
            }
            open.append(inside)
            // Not inside: a token that may begin END, i.e. the text from some offset at or before its start to its
            // end is a prefix of END or starts with it (decided now, before the tokens that would complete END).
            let through = text + bytes
            let beginsEnd = !bytes.isEmpty && (max(0, text.count - end.count + 1)...text.count).contains { s in
                let tail = through[s...]
                return tail.count <= end.count ? end.starts(with: tail) : tail.starts(with: end)
            }
            fire = inside && !beginsEnd
        }
        seen.append(token)
        text += bytes
        fires.append(fire)
    }
}

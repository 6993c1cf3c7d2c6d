// Splits a template into text and tag tokens, applying Jinja's whitespace rules as HF's chat-template
// environment configures them (jinja2 with trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False):
//
//   - "\r\n" and "\r" become "\n", and one trailing newline of the template is dropped.
//   - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`, `-#}` strip all whitespace after it.
//   - trim_blocks: one newline right after `%}` or `#}` is dropped (not after `}}`, and not after `+%}`).
//   - lstrip_blocks: spaces and tabs between the start of a line and `{%` or `{#` are dropped (not before `{{`,
//     and not for `{%+`). "Start of a line" includes the start of the template and the point just after a
//     tag whose end swallowed a newline.
//   - Inside tags, `}}` and `%}` only close the tag when no bracket is open, so `{{ {'a': {'b': 1}} }}` works.

enum TokenKind: Equatable, Sendable {
    case text(String)
    case variableBegin, variableEnd  // {{ }}
    case blockBegin, blockEnd        // {% %}
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
    case end
}

struct Token: Sendable {
    let kind: TokenKind
    let offset: Int  // byte offset of the token's first character
}

struct Lexer {
    let source: SourceText
    private let b: [UInt8]
    private var pos = 0
    private var tokens: [Token] = []
    private var lineStarting = true

    /// Normalizes newlines; the returned SourceText is what every offset refers to.
    static func normalize(_ text: String, origin: String) -> SourceText {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var previousCR = false
        for byte in text.utf8 {
            if byte == 0x0D {
                bytes.append(0x0A)
            } else if !(byte == 0x0A && previousCR) {
                bytes.append(byte)
            }
            previousCR = byte == 0x0D
        }
        if bytes.last == 0x0A { bytes.removeLast() }
        return SourceText(bytes: bytes, origin: origin)
    }

    init(source: SourceText) {
        self.source = source
        self.b = source.bytes
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (0x09...0x0D).contains(c) }
    static func isNameStart(_ c: UInt8) -> Bool { c == 0x5F || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) }
    static func isDigit(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) }

    private func at(_ i: Int) -> UInt8? { i < b.count ? b[i] : nil }
    private func fail(_ message: String, at offset: Int) -> JinjaError { source.error(.syntax, message, at: offset) }

    mutating func tokenize() throws -> [Token] {
        while pos < b.count {
            // Find the next tag opening.
            var i = pos
            var kind: UInt8 = 0
            while i + 1 < b.count {
                if b[i] == UInt8(ascii: "{"), [UInt8(ascii: "{"), UInt8(ascii: "%"), UInt8(ascii: "#")].contains(b[i + 1]) {
                    kind = b[i + 1]
                    break
                }
                i += 1
            }
            if kind == 0 {
                emitText(pos, b.count)
                break
            }
            let modifier = at(i + 2)
            var textEnd = i
            if modifier == UInt8(ascii: "-") {
                while textEnd > pos, Self.isSpace(b[textEnd - 1]) { textEnd -= 1 }
            } else if modifier != UInt8(ascii: "+"), kind != UInt8(ascii: "{") {
                // lstrip_blocks
                var lineStart = textEnd
                while lineStart > pos, b[lineStart - 1] != 0x0A { lineStart -= 1 }
                let atLineStart = lineStart > pos || lineStarting
                if atLineStart, lineStart < textEnd, b[lineStart..<textEnd].allSatisfy(Self.isSpace) {
                    textEnd = lineStart
                }
            }
            emitText(pos, textEnd)
            let bodyStart = i + 2 + (modifier == UInt8(ascii: "-") || modifier == UInt8(ascii: "+") ? 1 : 0)
            switch kind {
            case UInt8(ascii: "#"): try lexComment(openedAt: i, bodyStart: bodyStart)
            case UInt8(ascii: "%"): try lexTag(openedAt: i, bodyStart: bodyStart, block: true)
            default: try lexTag(openedAt: i, bodyStart: bodyStart, block: false)
            }
        }
        tokens.append(Token(kind: .end, offset: b.count))
        return tokens
    }

    private mutating func emitText(_ start: Int, _ end: Int) {
        if start < end {
            tokens.append(Token(kind: .text(String(decoding: b[start..<end], as: UTF8.self)), offset: start))
        }
    }

    /// After a closing `-%}`/`-}}`/`-#}`: swallow all whitespace; a swallowed newline at its end starts a line.
    private mutating func swallowWhitespace() {
        let start = pos
        while pos < b.count, Self.isSpace(b[pos]) { pos += 1 }
        lineStarting = pos > start && b[pos - 1] == 0x0A
    }

    /// After a plain `%}` or `#}`: trim_blocks drops one newline.
    private mutating func trimBlockNewline() {
        if at(pos) == 0x0A {
            pos += 1
            lineStarting = true
        } else {
            lineStarting = false
        }
    }

    private mutating func lexComment(openedAt start: Int, bodyStart: Int) throws {
        var j = bodyStart
        while j + 1 < b.count, !(b[j] == UInt8(ascii: "#") && b[j + 1] == UInt8(ascii: "}")) { j += 1 }
        guard j + 1 < b.count else { throw fail("missing end of comment tag '#}' for the comment opened here", at: start) }
        pos = j + 2
        let modifier = j > bodyStart ? b[j - 1] : 0
        if modifier == UInt8(ascii: "-") {
            swallowWhitespace()
        } else if modifier == UInt8(ascii: "+") {
            lineStarting = false
        } else {
            trimBlockNewline()
        }
    }

    private mutating func lexTag(openedAt start: Int, bodyStart: Int, block: Bool) throws {
        tokens.append(Token(kind: block ? .blockBegin : .variableBegin, offset: start))
        pos = bodyStart
        let close = block ? UInt8(ascii: "%") : UInt8(ascii: "}")
        var brackets: [UInt8] = []
        while true {
            while pos < b.count, Self.isSpace(b[pos]) { pos += 1 }
            guard pos < b.count else {
                throw fail("unexpected end of template: the tag opened here was never closed with '\(block ? "%}" : "}}")'",
                           at: start)
            }
            if brackets.isEmpty {
                let c = b[pos]
                if (c == UInt8(ascii: "-") || c == UInt8(ascii: "+")) && at(pos + 1) == close && at(pos + 2) == UInt8(ascii: "}") {
                    tokens.append(Token(kind: block ? .blockEnd : .variableEnd, offset: pos))
                    pos += 3
                    if c == UInt8(ascii: "-") { swallowWhitespace() } else { lineStarting = false }
                    return
                }
                if c == close && at(pos + 1) == UInt8(ascii: "}") {
                    tokens.append(Token(kind: block ? .blockEnd : .variableEnd, offset: pos))
                    pos += 2
                    if block { trimBlockNewline() } else { lineStarting = false }
                    return
                }
            }
            try lexExpressionToken(&brackets)
        }
    }

    private mutating func lexExpressionToken(_ brackets: inout [UInt8]) throws {
        let start = pos
        let c = b[pos]
        if Self.isNameStart(c) {
            while pos < b.count, Self.isNameStart(b[pos]) || Self.isDigit(b[pos]) { pos += 1 }
            tokens.append(Token(kind: .name(String(decoding: b[start..<pos], as: UTF8.self)), offset: start))
            return
        }
        if Self.isDigit(c) {
            tokens.append(Token(kind: try lexNumber(), offset: start))
            return
        }
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            tokens.append(Token(kind: .string(try lexString(quote: c)), offset: start))
            return
        }
        for op in ["//", "**", "==", "!=", "<=", ">="] where b[pos...].starts(with: op.utf8) {
            pos += 2
            tokens.append(Token(kind: .op(op), offset: start))
            return
        }
        let single = "+-*/%~<>=.,:|()[]{}"
        guard single.utf8.contains(c) else {
            throw fail("unexpected character '\(String(decoding: [c], as: UTF8.self))' in a tag", at: start)
        }
        switch c {
        case UInt8(ascii: "("): brackets.append(UInt8(ascii: ")"))
        case UInt8(ascii: "["): brackets.append(UInt8(ascii: "]"))
        case UInt8(ascii: "{"): brackets.append(UInt8(ascii: "}"))
        case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
            guard let expected = brackets.popLast() else { throw fail("unexpected '\(Character(Unicode.Scalar(c)))'", at: start) }
            if expected != c {
                throw fail("unexpected '\(Character(Unicode.Scalar(c)))', expected '\(Character(Unicode.Scalar(expected)))'", at: start)
            }
        default: break
        }
        pos += 1
        tokens.append(Token(kind: .op(String(Character(Unicode.Scalar(c)))), offset: start))
    }

    /// Integers and floats as Jinja writes them: `12`, `1_000`, `1.5`, `2e3`, `1.5E-3`.
    private mutating func lexNumber() throws -> TokenKind {
        let start = pos
        func digits() {
            while pos < b.count, Self.isDigit(b[pos]) || (b[pos] == UInt8(ascii: "_") && pos + 1 < b.count && Self.isDigit(b[pos + 1])) {
                pos += 1
            }
        }
        digits()
        var isFloat = false
        if at(pos) == UInt8(ascii: "."), let d = at(pos + 1), Self.isDigit(d) {
            isFloat = true
            pos += 1
            digits()
        }
        if let e = at(pos), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            var k = pos + 1
            if let s = at(k), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { k += 1 }
            if let d = at(k), Self.isDigit(d) {
                isFloat = true
                pos = k
                digits()
            }
        }
        let text = String(decoding: b[start..<pos], as: UTF8.self).replacingOccurrences(of: "_", with: "")
        if isFloat, let d = Double(text) { return .float(d) }
        if let i = Int(text) { return .integer(i) }
        throw fail("number '\(text)' does not fit in a 64-bit integer", at: start)
    }

    /// A quoted string with Python's escapes (Jinja decodes string literals with "unicode-escape").
    private mutating func lexString(quote: UInt8) throws -> String {
        let start = pos
        pos += 1
        var raw: [UInt8] = []
        while true {
            guard pos < b.count else { throw fail("unterminated string literal", at: start) }
            let c = b[pos]
            if c == quote { pos += 1; break }
            if c == UInt8(ascii: "\\"), pos + 1 < b.count {
                raw.append(c)
                raw.append(b[pos + 1])
                pos += 2
                continue
            }
            raw.append(c)
            pos += 1
        }
        return try unescape(String(decoding: raw, as: UTF8.self), at: start)
    }

    private func unescape(_ s: String, at offset: Int) throws -> String {
        guard s.contains("\\") else { return s }
        var out = String.UnicodeScalarView()
        var it = Array(s.unicodeScalars)[...]
        func hex(_ count: Int) throws -> Unicode.Scalar {
            let digits = it.prefix(count)
            guard digits.count == count, let v = UInt32(String(String.UnicodeScalarView(digits)), radix: 16),
                  let scalar = Unicode.Scalar(v)
            else { throw fail("invalid \\x, \\u or \\U escape in a string literal", at: offset) }
            it = it.dropFirst(count)
            return scalar
        }
        while let c = it.popFirst() {
            guard c == "\\", let e = it.popFirst() else { out.append(c); continue }
            switch e {
            case "\n": break
            case "\\", "'", "\"": out.append(e)
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "x": out.append(try hex(2))
            case "u": out.append(try hex(4))
            case "U": out.append(try hex(8))
            case "0"..."7":
                var value = e.value - 0x30
                for _ in 0..<2 {
                    guard let d = it.first, ("0"..."7").contains(d) else { break }
                    value = value * 8 + d.value - 0x30
                    it = it.dropFirst()
                }
                out.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            default:
                out.append(c)
                out.append(e)
            }
        }
        return String(out)
    }
}

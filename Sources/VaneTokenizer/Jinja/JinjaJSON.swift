import Foundation
import VaneCore

// JSON in and out of JinjaValue.
//
// In: RFC 8259 text parsed into JinjaValue keeping object key order (Foundation's JSONSerialization loses it, and
// a template's `tojson` output follows it). Integers without fraction or exponent that fit in Int stay ints.
// Out: Python's `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)` — HF's
// `tojson` filter — byte for byte: ", " and ": " separators without indent, "," and ": " with it.

extension JinjaValue {
    /// Parses JSON text, keeping the order of object keys.
    public init(json: String) throws {
        var parser = JSONParser(bytes: Array(json.utf8))
        self = try parser.parseDocument()
    }

    /// Parses UTF-8 JSON data, keeping the order of object keys.
    public init(jsonData: Data) throws {
        var parser = JSONParser(bytes: Array(jsonData))
        self = try parser.parseDocument()
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var pos = 0
    var depth = 0
    static let maxDepth = 512

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws -> JinjaValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3 }  // UTF-8 byte-order mark
        let value = try parseValue()
        skipWhitespace()
        if pos < bytes.count { throw fail("unexpected content after the JSON value") }
        return value
    }

    /// What was wrong and where: the 1-based line and the byte offset into the UTF-8 text.
    func fail(_ message: String) -> VaneError {
        let line = bytes[..<min(pos, bytes.count)].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        return VaneError("JSON error at line \(line) (byte \(pos)): \(message)")
    }

    mutating func skipWhitespace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    mutating func expect(_ literal: String, _ value: JinjaValue) throws -> JinjaValue {
        let lit = Array(literal.utf8)
        guard bytes[pos...].starts(with: lit) else { throw fail("invalid literal, expected '\(literal)'") }
        pos += lit.count
        return value
    }

    mutating func parseValue() throws -> JinjaValue {
        skipWhitespace()
        guard pos < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .none)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character '\(Character(Unicode.Scalar(bytes[pos])))'")
        }
    }

    mutating func nest() throws {
        depth += 1
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth) levels") }
    }

    mutating func parseObject() throws -> JinjaValue {
        try nest()
        pos += 1
        var object = JinjaObject()
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':' after key") }
            pos += 1
            object[key] = try parseValue()
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unexpected end of JSON in an object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
            throw fail("expected ',' or '}' in an object")
        }
        depth -= 1
        return .object(object)
    }

    mutating func parseArray() throws -> JinjaValue {
        try nest()
        pos += 1
        var items: [JinjaValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return .array(items)
        }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unexpected end of JSON in an array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; break }
            throw fail("expected ',' or ']' in an array")
        }
        depth -= 1
        return .array(items)
    }

    mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16)
        else { throw fail("invalid \\u escape") }
        pos += 4
        return v
    }

    mutating func parseString() throws -> String {
        pos += 1
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw fail("unterminated string") }
            let b = bytes[pos]
            pos += 1
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { throw fail("control character in a string") }
            if b != UInt8(ascii: "\\") { out.append(b); continue }
            guard pos < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800..<0xDC00).contains(code), bytes[pos...].starts(with: Array("\\u".utf8)) {
                    let save = pos
                    pos += 2
                    let low = try parseHex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                    }
                }
                // A lone surrogate cannot be represented in a Swift string; Python would keep it.
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }

    mutating func parseNumber() throws -> JinjaValue {
        let start = pos
        var isInteger = true
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        func digits() { while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 } }
        digits()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") { isInteger = false; pos += 1; digits() }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            digits()
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw fail("invalid number '\(text)'") }
        return .double(d)
    }
}

// MARK: - Output

/// Options of Python's json.dumps that templates use through `tojson`.
struct JSONDumpOptions {
    var indent: String? = nil
    var itemSeparator: String? = nil
    var keySeparator = ": "
    var ensureASCII = false
    var sortKeys = false
}

enum JSONDump {
    struct Unserializable: Error { let typeName: String }

    static func dump(_ value: JinjaValue, _ options: JSONDumpOptions) throws -> String {
        var out = ""
        try write(value, options, level: 0, into: &out)
        return out
    }

    private static func write(_ value: JinjaValue, _ o: JSONDumpOptions, level: Int, into out: inout String) throws {
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            out += d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : d.description
        case .string(let s): writeString(s, ascii: o.ensureASCII, into: &out)
        case .array(let items):
            try writeContainer(items.count, open: "[", close: "]", o, level: level, into: &out) { i, out in
                try write(items[i], o, level: level + 1, into: &out)
            }
        case .object(let object):
            var pairs = object.pairs
            if o.sortKeys { pairs.sort { Array($0.0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.0.unicodeScalars.map(\.value)) } }
            try writeContainer(pairs.count, open: "{", close: "}", o, level: level, into: &out) { i, out in
                writeString(pairs[i].0, ascii: o.ensureASCII, into: &out)
                out += o.keySeparator
                try write(pairs[i].1, o, level: level + 1, into: &out)
            }
        case .undefined, .opaque: throw Unserializable(typeName: value.typeName)
        }
    }

    private static func writeContainer(_ count: Int, open: String, close: String, _ o: JSONDumpOptions, level: Int,
                                       into out: inout String,
                                       element: (Int, inout String) throws -> Void) throws {
        out += open
        if count == 0 { out += close; return }
        let separator = o.itemSeparator ?? (o.indent == nil ? ", " : ",")
        for i in 0..<count {
            if i > 0 { out += separator }
            if let indent = o.indent { out += "\n" + String(repeating: indent, count: level + 1) }
            try element(i, &out)
        }
        if let indent = o.indent { out += "\n" + String(repeating: indent, count: level) }
        out += close
    }

    private static func writeString(_ s: String, ascii: Bool, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ascii && scalar.value > 0x7E) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                    } else {
                        out += String(format: "\\u%04x", scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

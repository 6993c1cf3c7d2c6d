import Foundation

/// A value in a Jinja template: the JSON-like data a caller passes in (messages, tools, extra variables) plus the
/// few kinds only templates create (namespaces, macros, built-in functions), which are opaque.
///
/// It mirrors Python where chat templates depend on Python's behaviour: ints and floats stay distinct (`1` prints
/// as `1`, `1.0` as `1.0`), dictionaries keep insertion order (`tojson` output follows it), and `undefined` is
/// Jinja's default Undefined — it prints as nothing, is falsy, iterates as empty, and its attributes are undefined.
public enum JinjaValue: Sendable, Equatable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    case object(JinjaObject)
    case opaque(JinjaOpaque)
}

/// A string-keyed dictionary that keeps insertion order, like a Python dict. Equality ignores order, as in Python.
public struct JinjaObject: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    /// Later duplicates replace the value but keep the first key's position (Python's dict semantics).
    public init(_ pairs: [(String, JinjaValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }
    public var pairs: [(String, JinjaValue)] { keys.map { ($0, storage[$0] ?? .undefined) } }
    public var values: [JinjaValue] { keys.map { storage[$0] ?? .undefined } }

    public static func == (a: JinjaObject, b: JinjaObject) -> Bool { a.storage == b.storage }
}

/// Values that only exist while a template renders: a `namespace(...)` object, a macro, a built-in function.
/// Callers never construct them; they appear in `JinjaValue` so that templates can pass them around.
public struct JinjaOpaque: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case namespace(Int)  // index into the renderer's namespace table (they are mutable by `set ns.x = …`)
        case macro(Int)      // index into the renderer's macro table
        case builtin(Builtin)
    }
    let kind: Kind
}

/// The global functions HF's chat-template environment provides (plus `dict`, which Jinja itself provides).
enum Builtin: String, Sendable, CaseIterable {
    case range, namespace, dict
    case raiseException = "raise_exception"
    case strftimeNow = "strftime_now"
}

// MARK: - Literals, so callers can write `extra: ["tools": [["type": "function", …]]]`.

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .object(JinjaObject(elements)) }
}

// MARK: - Python semantics the interpreter relies on

extension JinjaValue {
    /// Python truthiness; undefined is falsy.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let o): !o.isEmpty
        case .opaque: true
        }
    }

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        case .opaque(let o):
            switch o.kind {
            case .namespace: "Namespace"
            case .macro: "Macro"
            case .builtin: "builtin_function"
            }
        }
    }

    /// Python `str(value)`, which is what `{{ value }}` prints; undefined prints as "".
    var pythonString: String {
        switch self {
        case .undefined: ""
        case .string(let s): s
        default: pythonRepr
        }
    }

    /// Python `repr(value)`: how values print inside lists and dicts.
    var pythonRepr: String {
        switch self {
        case .undefined: ""
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .double(let d): Self.pythonFloat(d)
        case .string(let s): Self.pythonStringRepr(s)
        case .array(let a): "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .object(let o):
            "{" + o.pairs.map { Self.pythonStringRepr($0.0) + ": " + $0.1.pythonRepr }.joined(separator: ", ") + "}"
        case .opaque(let o):
            switch o.kind {
            case .namespace: "<Namespace>"
            case .macro: "<Macro>"
            case .builtin(let b): "<built-in function \(b.rawValue)>"
            }
        }
    }

    /// Swift's shortest round-trip formatting matches Python's float repr, except for the non-finite spellings.
    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        return d.description
    }

    /// Python picks single quotes unless the text contains a single quote and no double quote.
    static func pythonStringRepr(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote {
                    out += "\\" + String(quote)
                } else if scalar.value < 0x20 || (0x7f...0xa0).contains(scalar.value) {
                    out += "\\x" + String(format: "%02x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
        return out
    }

    /// Python `==`: numbers compare by value across int/float/bool, containers element-wise.
    func looselyEquals(_ other: JinjaValue) -> Bool {
        if case .int(let a) = self, case .int(let b) = other { return a == b }
        if let a = numericValue, let b = other.numericValue { return a == b }
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.looselyEquals($1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.pairs.allSatisfy { key, value in b[key].map(value.looselyEquals) ?? false }
        case (.opaque(let a), .opaque(let b)): return a == b
        default: return false
        }
    }

    /// Numbers (and bools, which are ints in Python) as Double, for mixed comparisons.
    var numericValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }
}

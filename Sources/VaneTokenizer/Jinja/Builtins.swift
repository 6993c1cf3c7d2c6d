import Foundation

// Operators, filters, tests and methods with the Python/jinja2 behaviour chat templates rely on. Strings are
// handled as sequences of Unicode scalars, as Python indexes and measures them.

typealias Scalars = [Unicode.Scalar]

private func scalars(_ s: String) -> Scalars { Array(s.unicodeScalars) }
private func string(_ s: some Sequence<Unicode.Scalar>) -> String {
    var out = String.UnicodeScalarView()
    out.append(contentsOf: s)
    return String(out)
}

/// Positions of non-overlapping occurrences of `needle` in `hay`, left to right, at most `limit` of them.
private func occurrences(of needle: Scalars, in hay: Scalars, limit: Int = .max) -> [Int] {
    guard !needle.isEmpty, needle.count <= hay.count else { return [] }
    var found: [Int] = []
    var i = 0
    while i <= hay.count - needle.count, found.count < limit {
        if hay[i] == needle[0], hay[i..<i + needle.count].elementsEqual(needle) {
            found.append(i)
            i += needle.count
        } else {
            i += 1
        }
    }
    return found
}

private func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
    c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
}

private func requireString(_ v: JinjaValue, _ what: String) throws -> String {
    guard case .string(let s) = v else { throw JinjaFailure("\(what) must be a string, not '\(v.typeName)'") }
    return s
}

private func requireInt(_ v: JinjaValue, _ what: String) throws -> Int {
    switch v {
    case .int(let i): return i
    case .bool(let b): return b ? 1 : 0
    default: throw JinjaFailure("\(what) must be an integer, not '\(v.typeName)'")
    }
}

// MARK: - Operators

enum Operators {
    private enum Number {
        case int(Int), double(Double)
        init?(_ v: JinjaValue) {
            switch v {
            case .int(let i): self = .int(i)
            case .bool(let b): self = .int(b ? 1 : 0)
            case .double(let d): self = .double(d)
            default: return nil
            }
        }
        var double: Double {
            switch self {
            case .int(let i): Double(i)
            case .double(let d): d
            }
        }
    }

    static func binary(_ op: BinaryOp, _ a: JinjaValue, _ b: JinjaValue) throws -> JinjaValue {
        func unsupported() -> JinjaFailure {
            JinjaFailure("unsupported operand types for \(op.rawValue): '\(a.typeName)' and '\(b.typeName)'")
        }
        switch op {
        case .equal: return .bool(a.looselyEquals(b))
        case .notEqual: return .bool(!a.looselyEquals(b))
        case .less: return .bool(try compare(a, b, op) < 0)
        case .lessEqual: return .bool(try compare(a, b, op) <= 0)
        case .greater: return .bool(try compare(a, b, op) > 0)
        case .greaterEqual: return .bool(try compare(a, b, op) >= 0)
        case .in: return .bool(try contains(b, a))
        case .notIn: return .bool(!(try contains(b, a)))
        default: break
        }
        switch (op, a, b) {
        case (.add, .string(let x), .string(let y)): return .string(x + y)
        case (.add, .array(let x), .array(let y)): return .array(x + y)
        case (.multiply, .string(let s), _), (.multiply, _, .string(let s)):
            guard let n = Number(a.typeName == "str" ? b : a), case .int(let count) = n else { throw unsupported() }
            try JinjaLimits.checkRepetition(s.utf8.count, count, limit: JinjaLimits.maxStringBytes, "string repetition")
            return .string(String(repeating: s, count: max(count, 0)))
        case (.multiply, .array(let items), _), (.multiply, _, .array(let items)):
            guard let n = Number(a.typeName == "list" ? b : a), case .int(let count) = n else { throw unsupported() }
            try JinjaLimits.checkRepetition(items.count, count, limit: JinjaLimits.maxItems, "list repetition")
            return .array(Array([[JinjaValue]](repeating: items, count: max(count, 0)).joined()))
        case (.modulo, .string, _):
            throw JinjaFailure("printf-style '%' string formatting is not supported; use '~' or filters")
        default: break
        }
        guard let x = Number(a), let y = Number(b) else { throw unsupported() }
        if case .int(let i) = x, case .int(let j) = y {
            return try intArithmetic(op, i, j)
        }
        let (p, q) = (x.double, y.double)
        switch op {
        case .add: return .double(p + q)
        case .subtract: return .double(p - q)
        case .multiply: return .double(p * q)
        case .divide:
            guard q != 0 else { throw JinjaFailure("float division by zero") }
            return .double(p / q)
        case .floorDivide:
            guard q != 0 else { throw JinjaFailure("float floor division by zero") }
            return .double((p / q).rounded(.down))
        case .modulo:
            guard q != 0 else { throw JinjaFailure("float modulo by zero") }
            let r = fmod(p, q)
            return .double(r != 0 && (r < 0) != (q < 0) ? r + q : r)
        case .power: return .double(pow(p, q))
        default: throw unsupported()
        }
    }

    private static func intArithmetic(_ op: BinaryOp, _ i: Int, _ j: Int) throws -> JinjaValue {
        func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> JinjaValue {
            guard !r.overflow else { throw JinjaFailure("integer overflow in '\(op.rawValue)'") }
            return .int(r.partialValue)
        }
        switch op {
        case .add: return try checked(i.addingReportingOverflow(j))
        case .subtract: return try checked(i.subtractingReportingOverflow(j))
        case .multiply: return try checked(i.multipliedReportingOverflow(by: j))
        case .divide:
            guard j != 0 else { throw JinjaFailure("division by zero") }
            return .double(Double(i) / Double(j))
        case .floorDivide, .modulo:
            guard j != 0 else { throw JinjaFailure("integer division or modulo by zero") }
            guard !(i == .min && j == -1) else { throw JinjaFailure("integer overflow in '\(op.rawValue)'") }
            let (q, r) = i.quotientAndRemainder(dividingBy: j)
            let adjust = r != 0 && (r < 0) != (j < 0)
            return .int(op == .modulo ? (adjust ? r + j : r) : (adjust ? q - 1 : q))
        case .power:
            if j < 0 { return .double(pow(Double(i), Double(j))) }
            var result = 1
            for _ in 0..<j {
                let r = result.multipliedReportingOverflow(by: i)
                guard !r.overflow else { throw JinjaFailure("integer overflow in '**'") }
                result = r.partialValue
                if result == 0 || result == 1 { break }
            }
            return .int(result)
        default: throw JinjaFailure("unsupported operand types for \(op.rawValue): 'int' and 'int'")
        }
    }

    /// Python ordering: numbers with numbers, strings by code point, lists element-wise.
    static func compare(_ a: JinjaValue, _ b: JinjaValue, _ op: BinaryOp = .less) throws -> Int {
        if case .int(let x) = a, case .int(let y) = b { return x < y ? -1 : x > y ? 1 : 0 }
        if let x = a.numericValue, let y = b.numericValue { return x < y ? -1 : x > y ? 1 : 0 }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            let (p, q) = (x.unicodeScalars.map(\.value), y.unicodeScalars.map(\.value))
            return p.lexicographicallyPrecedes(q) ? -1 : p == q ? 0 : 1
        case (.array(let x), .array(let y)):
            for (p, q) in zip(x, y) where !p.looselyEquals(q) { return try compare(p, q, op) }
            return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
        default:
            throw JinjaFailure("'\(op.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
    }

    /// Python `needle in container`.
    static func contains(_ container: JinjaValue, _ needle: JinjaValue) throws -> Bool {
        switch container {
        case .undefined: return false
        case .string(let s):
            guard case .string(let n) = needle else {
                throw JinjaFailure("'in <string>' requires string as left operand, not '\(needle.typeName)'")
            }
            return n.isEmpty || !occurrences(of: scalars(n), in: scalars(s), limit: 1).isEmpty
        case .array(let items): return items.contains { $0.looselyEquals(needle) }
        case .object(let o):
            guard case .string(let key) = needle else { return false }
            return o[key] != nil
        default: throw JinjaFailure("argument of type '\(container.typeName)' is not iterable")
        }
    }

    /// `a[i]` with an integer index (negative counts from the end); out of range is undefined, as in jinja2.
    static func item(_ target: JinjaValue, _ index: JinjaValue) throws -> JinjaValue {
        guard let i = try? requireInt(index, "index") else { return .undefined }
        switch target {
        case .array(let items):
            let k = i < 0 ? i + items.count : i
            return items.indices.contains(k) ? items[k] : .undefined
        case .string(let s):
            let chars = scalars(s)
            let k = i < 0 ? i + chars.count : i
            return chars.indices.contains(k) ? .string(String(chars[k])) : .undefined
        default:
            return .undefined
        }
    }

    /// `a[start:stop:step]` on lists and strings, with Python's index clamping.
    static func slice(_ target: JinjaValue, _ start: Int?, _ stop: Int?, _ step: Int?) throws -> JinjaValue {
        let step = step ?? 1
        guard step != 0 else { throw JinjaFailure("slice step cannot be zero") }
        func indices(_ n: Int) -> [Int] {
            func clamp(_ v: Int?, _ dflt: Int, low: Int, high: Int) -> Int {
                guard var v else { return dflt }
                if v < 0 { v += n }
                return min(max(v, low), high)
            }
            if step > 0 {
                let s = clamp(start, 0, low: 0, high: n), e = clamp(stop, n, low: 0, high: n)
                return s < e ? Array(stride(from: s, to: e, by: step)) : []
            }
            let s = clamp(start, n - 1, low: -1, high: n - 1), e = clamp(stop, -1, low: -1, high: n - 1)
            return s > e ? Array(stride(from: s, to: e, by: step)) : []
        }
        switch target {
        case .array(let items): return .array(indices(items.count).map { items[$0] })
        case .string(let s):
            let chars = scalars(s)
            return .string(string(indices(chars.count).map { chars[$0] }))
        case .undefined: return .undefined
        default: throw JinjaFailure("'\(target.typeName)' object is not subscriptable")
        }
    }

    /// What filters such as `list`, `join` and `map` iterate: list items, characters, dict keys.
    static func iterate(_ value: JinjaValue, _ what: String) throws -> [JinjaValue] {
        switch value {
        case .undefined: return []
        case .array(let items): return items
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .object(let o): return o.keys.map { .string($0) }
        default: throw JinjaFailure("\(what): '\(value.typeName)' object is not iterable")
        }
    }
}

// MARK: - Filters

enum Filters {
    static let names: Set<String> = [
        "abs", "capitalize", "count", "d", "default", "first", "float", "indent", "int", "items", "join", "last",
        "length", "list", "lower", "map", "reject", "rejectattr", "replace", "reverse", "safe", "select", "selectattr",
        "sort", "string", "title", "tojson", "trim", "unique", "upper",
    ]

    static func apply(_ name: String, _ value: JinjaValue, _ args: CallArguments, renderer: Renderer) throws -> JinjaValue {
        func bind(_ params: [String]) throws -> [JinjaValue?] { try args.bind(params, function: name) }
        switch name {
        case "length", "count":
            _ = try bind([])
            switch value {
            case .undefined: return .int(0)
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a): return .int(a.count)
            case .object(let o): return .int(o.count)
            default: throw JinjaFailure("object of type '\(value.typeName)' has no len()")
            }
        case "trim":
            let p = try bind(["chars"])
            return .string(Methods.strip(value.pythonString, p[0], left: true, right: true))
        case "string", "safe":
            _ = try bind([])
            return name == "safe" ? value : .string(value.pythonString)
        case "upper": _ = try bind([]); return .string(value.pythonString.uppercased())
        case "lower": _ = try bind([]); return .string(value.pythonString.lowercased())
        case "capitalize": _ = try bind([]); return .string(Methods.capitalize(value.pythonString))
        case "title": _ = try bind([]); return .string(Methods.title(value.pythonString))
        case "default", "d":
            let p = try bind(["default_value", "boolean"])
            let useDefault = (p[1]?.isTruthy ?? false) ? !value.isTruthy : value == .undefined
            return useDefault ? (p[0] ?? .string("")) : value
        case "first", "last":
            _ = try bind([])
            let items = try Operators.iterate(value, name)
            return (name == "first" ? items.first : items.last) ?? .undefined
        case "join":
            let p = try bind(["d", "attribute"])
            var items = try Operators.iterate(value, name)
            if let attribute = p[1] { items = items.map { path($0, attribute, renderer) } }
            let separator = p[0]?.pythonString ?? ""
            try JinjaLimits.checkRepetition(separator.utf8.count, items.count, limit: JinjaLimits.maxStringBytes, "join separators")
            try JinjaLimits.checkRenderable(.array(items), "join")
            return .string(items.map(\.pythonString).joined(separator: separator))
        case "replace":
            let p = try bind(["old", "new", "count"])
            guard let old = p[0], let new = p[1] else { throw JinjaFailure("replace() needs the old and new strings") }
            return .string(try Methods.replace(value.pythonString, old.pythonString, new.pythonString,
                                               count: try p[2].map { try requireInt($0, "replace count") } ?? -1))
        case "list":
            _ = try bind([])
            return .array(try Operators.iterate(value, name))
        case "reverse":
            _ = try bind([])
            if case .string(let s) = value { return .string(string(s.unicodeScalars.reversed())) }
            return .array(try Operators.iterate(value, name).reversed())
        case "items":
            _ = try bind([])
            switch value {
            case .undefined: return .array([])
            case .object(let o): return .array(o.pairs.map { .array([.string($0.0), $0.1]) })
            default: throw JinjaFailure("items filter needs a dict, not '\(value.typeName)'")
            }
        case "int":
            let p = try bind(["default", "base"])
            let fallback = p[0] ?? .int(0)
            switch value {
            case .int: return value
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return d.isFinite && abs(d) < 9.2e18 ? .int(Int(d)) : fallback
            case .string(let s):
                let t = s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
                let base = try p[1].map { try requireInt($0, "base") } ?? 10
                if let i = Int(t, radix: base) { return .int(i) }
                if let d = Double(t), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let p = try bind(["default"])
            switch value {
            case .int(let i): return .double(Double(i))
            case .double: return value
            case .bool(let b): return .double(b ? 1 : 0)
            case .string(let s):
                return Double(s.trimmingCharacters(in: .whitespaces)).map(JinjaValue.double) ?? (p[0] ?? .double(0))
            default: return p[0] ?? .double(0)
            }
        case "abs":
            _ = try bind([])
            switch value {
            case .int(let i) where i != .min: return .int(abs(i))
            case .double(let d): return .double(abs(d))
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw JinjaFailure("bad operand type for abs(): '\(value.typeName)'")
            }
        case "tojson":
            let p = try bind(["ensure_ascii", "indent", "separators", "sort_keys"])
            var options = JSONDumpOptions()
            options.ensureASCII = p[0]?.isTruthy ?? false
            switch p[1] ?? JinjaValue.none {
            case .none: break
            case .int(let n):
                try JinjaLimits.checkRepetition(1, n, limit: 1024, "tojson indent")
                options.indent = String(repeating: " ", count: max(n, 0))
            case .string(let s): options.indent = s
            case let v: throw JinjaFailure("tojson indent must be an integer or string, not '\(v.typeName)'")
            }
            if let separators = p[2], separators != JinjaValue.none {
                guard case .array(let pair) = separators, pair.count == 2,
                      case .string(let item) = pair[0], case .string(let key) = pair[1]
                else { throw JinjaFailure("tojson separators must be a pair of strings") }
                options.itemSeparator = item
                options.keySeparator = key
            }
            options.sortKeys = p[3]?.isTruthy ?? false
            // Refused before dumping when even the plain rendering is too large; the result is checked after.
            try JinjaLimits.checkRenderable(value, "tojson")
            do {
                return .string(try JSONDump.dump(value, options))
            } catch let e as JSONDump.Unserializable {
                throw JinjaFailure("Object of type \(e.typeName) is not JSON serializable (in tojson)")
            }
        case "selectattr", "rejectattr", "select", "reject":
            let byAttribute = name.hasSuffix("attr")
            var rest = args.positional
            guard args.keyword.isEmpty else { throw JinjaFailure("\(name)() takes no keyword arguments") }
            var attribute: JinjaValue? = nil
            if byAttribute {
                guard !rest.isEmpty else { throw JinjaFailure("\(name)() needs an attribute name") }
                attribute = rest.removeFirst()
            }
            let test = try rest.first.map { try requireString($0, "\(name)() test name") }
            let testArgs = Array(rest.dropFirst())
            if let test, !Tests.names.contains(test) { throw JinjaFailure("no test named '\(test)' (in \(name))") }
            let keep = !name.hasPrefix("reject")
            return .array(try Operators.iterate(value, name).filter { item in
                let subject = attribute.map { path(item, $0, renderer) } ?? item
                let passed = try test.map { try Tests.apply($0, subject, testArgs) } ?? subject.isTruthy
                return passed == keep
            })
        case "map":
            let items = try Operators.iterate(value, name)
            if let attributeArg = args.keyword.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = args.keyword.first(where: { $0.0 == "default" })?.1
                return .array(items.map {
                    let v = path($0, attributeArg, renderer)
                    return v == .undefined ? (fallback ?? .undefined) : v
                })
            }
            guard let filterName = args.positional.first else { throw JinjaFailure("map() needs a filter name or attribute=") }
            let f = try requireString(filterName, "map() filter name")
            guard names.contains(f) else { throw JinjaFailure("no filter named '\(f)' (in map)") }
            let inner = CallArguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
            return .array(try items.map { try apply(f, $0, inner, renderer: renderer) })
        case "unique":
            let p = try bind(["case_sensitive", "attribute"])
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try Operators.iterate(value, name) {
                var key = p[1].map { path(item, $0, renderer) } ?? item
                if !(p[0]?.isTruthy ?? false), case .string(let s) = key { key = .string(s.lowercased()) }
                if !seen.contains(where: { $0.looselyEquals(key) }) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .array(out)
        case "sort":
            let p = try bind(["reverse", "case_sensitive", "attribute"])
            let caseSensitive = p[1]?.isTruthy ?? false
            func key(_ v: JinjaValue) -> JinjaValue {
                let k = p[2].map { path(v, $0, renderer) } ?? v
                if !caseSensitive, case .string(let s) = k { return .string(s.lowercased()) }
                return k
            }
            var failure: Error? = nil
            var items = try Operators.iterate(value, name)
            items.sort { a, b in
                do { return try Operators.compare(key(a), key(b)) < 0 } catch {
                    failure = error
                    return false
                }
            }
            if let failure { throw failure }
            return .array((p[0]?.isTruthy ?? false) ? items.reversed() : items)
        case "indent":
            let p = try bind(["width", "first", "blank"])
            let indentation: String
            switch p[0] ?? .int(4) {
            case .string(let s): indentation = s
            case let w:
                let width = try requireInt(w, "indent width")
                try JinjaLimits.checkRepetition(1, width, limit: 1024, "indent width")
                indentation = String(repeating: " ", count: max(width, 0))
            }
            let text = value.pythonString
            let lineCount = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            try JinjaLimits.checkRepetition(indentation.utf8.count, lineCount, limit: JinjaLimits.maxStringBytes - text.utf8.count, "indent")
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var result: String
            if p[2]?.isTruthy ?? false {
                result = lines.joined(separator: "\n" + indentation)
            } else {
                result = lines.removeFirst()
                if !lines.isEmpty {
                    result += "\n" + lines.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
                }
            }
            if p[1]?.isTruthy ?? false { result = indentation + result }
            return .string(result)
        default:
            throw JinjaFailure("no filter named '\(name)'")
        }
    }

    /// An attribute path as `selectattr`, `map(attribute=)`, `join(attribute=)` take it: "a.b" or an integer index.
    private static func path(_ value: JinjaValue, _ attribute: JinjaValue, _ renderer: Renderer) -> JinjaValue {
        if case .int = attribute { return (try? Operators.item(value, attribute)) ?? .undefined }
        var v = value
        for part in attribute.pythonString.split(separator: ".") {
            if let i = Int(part), case .array = v {
                v = (try? Operators.item(v, .int(i))) ?? .undefined
            } else {
                v = renderer.attribute(v, String(part))
            }
        }
        return v
    }
}

// MARK: - Tests (`x is name`)

enum Tests {
    static let names: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "even", "false", "float", "ge", "gt", "in",
        "integer", "iterable", "le", "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence",
        "string", "true", "undefined", "upper", "==", "!=", "<", "<=", ">", ">=", "greaterthan", "lessthan",
    ]

    static func apply(_ name: String, _ v: JinjaValue, _ args: [JinjaValue]) throws -> Bool {
        func arg() throws -> JinjaValue {
            guard args.count == 1 else { throw JinjaFailure("test '\(name)' takes one argument (\(args.count) given)") }
            return args[0]
        }
        switch name {
        case "defined": return v != .undefined
        case "undefined": return v == .undefined
        case "none": return v == JinjaValue.none
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": return v == .bool(true)
        case "false": return v == .bool(false)
        case "string": if case .string = v { return true } else { return false }
        case "mapping": if case .object = v { return true } else { return false }
        case "number": return v.numericValue != nil
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "iterable", "sequence":
            switch v {
            case .undefined, .string, .array, .object: return true
            default: return false
            }
        case "callable":
            if case .opaque(let o) = v, case .namespace = o.kind { return false }
            if case .opaque = v { return true }
            return false
        case "odd", "even":
            let i = try requireInt(v, "the value of test '\(name)'")
            return (i % 2 != 0) == (name == "odd")
        case "divisibleby":
            let n = try requireInt(try arg(), "divisibleby argument")
            guard n != 0 else { throw JinjaFailure("divisibleby 0") }
            return try requireInt(v, "the value of test 'divisibleby'") % n == 0
        case "eq", "equalto", "==": return v.looselyEquals(try arg())
        case "ne", "!=": return !v.looselyEquals(try arg())
        case "lt", "<", "lessthan": return try Operators.compare(v, try arg(), .less) < 0
        case "le", "<=": return try Operators.compare(v, try arg(), .lessEqual) <= 0
        case "gt", ">", "greaterthan": return try Operators.compare(v, try arg(), .greater) > 0
        case "ge", ">=": return try Operators.compare(v, try arg(), .greaterEqual) >= 0
        case "in": return try Operators.contains(try arg(), v)
        case "sameas": return v == (try arg())
        case "lower", "upper":
            guard case .string(let s) = v else { return false }
            let cased = s.unicodeScalars.filter { $0.properties.isUppercase || $0.properties.isLowercase }
            return !cased.isEmpty && cased.allSatisfy { name == "lower" ? $0.properties.isLowercase : $0.properties.isUppercase }
        default:
            throw JinjaFailure("no test named '\(name)'")
        }
    }
}

// MARK: - Methods (`s.strip()`, `d.items()` …)

enum Methods {
    /// The result of calling method `name` on `target`, or nil when values of that type have no such method.
    static func call(_ target: JinjaValue, _ name: String, _ args: CallArguments) throws -> JinjaValue? {
        func bind(_ params: [String]) throws -> [JinjaValue?] { try args.bind(params, function: name) }
        switch target {
        case .string(let s):
            switch name {
            case "strip", "lstrip", "rstrip":
                let p = try bind(["chars"])
                return .string(strip(s, p[0], left: name != "rstrip", right: name != "lstrip"))
            case "split", "rsplit":
                let p = try bind(["sep", "maxsplit"])
                let maxsplit = try p[1].map { try requireInt($0, "maxsplit") } ?? -1
                let sep = p[0].flatMap { $0 == JinjaValue.none ? nil : $0 }
                return .array(try split(s, sep.map { try requireString($0, "separator") }, maxsplit: maxsplit,
                                        fromRight: name == "rsplit").map(JinjaValue.string))
            case "startswith", "endswith":
                let p = try bind(["prefix"])
                let candidates: [JinjaValue]
                switch p[0] {
                case .array(let items)?: candidates = items
                case let v?: candidates = [v]
                case nil: throw JinjaFailure("\(name)() needs an argument")
                }
                return .bool(try candidates.contains { c in
                    let affix = scalars(try requireString(c, "\(name)() argument"))
                    let me = scalars(s)
                    return name == "startswith" ? me.starts(with: affix) : me.reversed().starts(with: affix.reversed())
                })
            case "upper": _ = try bind([]); return .string(s.uppercased())
            case "lower": _ = try bind([]); return .string(s.lowercased())
            case "title": _ = try bind([]); return .string(title(s))
            case "capitalize": _ = try bind([]); return .string(capitalize(s))
            case "replace":
                let p = try bind(["old", "new", "count"])
                guard let old = p[0], let new = p[1] else { throw JinjaFailure("replace() needs the old and new strings") }
                return .string(try replace(s, try requireString(old, "replace() old"), try requireString(new, "replace() new"),
                                           count: try p[2].map { try requireInt($0, "replace count") } ?? -1))
            case "find":
                let p = try bind(["sub"])
                let sub = scalars(try requireString(p[0] ?? .undefined, "find() argument"))
                if sub.isEmpty { return .int(0) }
                return .int(occurrences(of: sub, in: scalars(s), limit: 1).first ?? -1)
            case "count":
                let p = try bind(["sub"])
                return .int(occurrences(of: scalars(try requireString(p[0] ?? .undefined, "count() argument")), in: scalars(s)).count)
            case "join":
                let p = try bind(["iterable"])
                let items = try Operators.iterate(p[0] ?? .undefined, "join")
                let strings = try items.map { try requireString($0, "join() item") }
                try JinjaLimits.checkRepetition(s.utf8.count, strings.count, limit: JinjaLimits.maxStringBytes, "join separators")
                try JinjaLimits.checkRenderable(.array(items), "join")
                return .string(strings.joined(separator: s))
            case "splitlines":
                _ = try bind([])
                var lines = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                if lines.last == "" { lines.removeLast() }
                return .array(lines.map(JinjaValue.string))
            default: return nil
            }
        case .object(let o):
            switch name {
            case "items": _ = try bind([]); return .array(o.pairs.map { .array([.string($0.0), $0.1]) })
            case "keys": _ = try bind([]); return .array(o.keys.map(JinjaValue.string))
            case "values": _ = try bind([]); return .array(o.values)
            case "get":
                let p = try bind(["key", "default"])
                guard case .string(let key)? = p[0] else { return p[1] ?? JinjaValue.none }
                return o[key] ?? p[1] ?? JinjaValue.none
            default: return nil
            }
        default:
            return nil
        }
    }

    static func strip(_ s: String, _ chars: JinjaValue?, left: Bool, right: Bool) -> String {
        let set: Set<Unicode.Scalar>? = chars.flatMap { c in c == JinjaValue.none ? nil : Set(c.pythonString.unicodeScalars) }
        let strip: (Unicode.Scalar) -> Bool = { c in set.map { $0.contains(c) } ?? isPythonSpace(c) }
        var v = scalars(s)[...]
        if left { v = v.drop(while: strip) }
        if right { while let last = v.last, strip(last) { v = v.dropLast() } }
        return string(v)
    }

    static func split(_ s: String, _ sep: String?, maxsplit: Int, fromRight: Bool) throws -> [String] {
        let chars = scalars(s)
        let limit = maxsplit < 0 ? Int.max : maxsplit
        guard let sep else {
            // Runs of whitespace separate; leading and trailing whitespace yields no empty parts.
            var words: [(Int, Int)] = []
            var i = 0
            while i < chars.count {
                while i < chars.count, isPythonSpace(chars[i]) { i += 1 }
                guard i < chars.count else { break }
                let start = i
                while i < chars.count, !isPythonSpace(chars[i]) { i += 1 }
                words.append((start, i))
            }
            guard words.count > limit else { return words.map { string(chars[$0.0..<$0.1]) } }
            // The unsplit remainder keeps its inner and outer whitespace, as in Python.
            if fromRight {
                let head = string(chars[..<words[words.count - limit - 1].1])
                return [head] + words.suffix(limit).map { string(chars[$0.0..<$0.1]) }
            }
            let tail = string(chars[words[limit].0...])
            return words.prefix(limit).map { string(chars[$0.0..<$0.1]) } + [tail]
        }
        let needle = scalars(sep)
        guard !needle.isEmpty else { throw JinjaFailure("empty separator") }
        var positions = occurrences(of: needle, in: chars)
        if positions.count > limit {
            if fromRight {
                // Right-to-left matching differs from left-to-right only for self-overlapping separators.
                positions = Array(positions.suffix(limit))
            } else {
                positions = Array(positions.prefix(limit))
            }
        }
        var parts: [String] = []
        var start = 0
        for p in positions {
            parts.append(string(chars[start..<p]))
            start = p + needle.count
        }
        parts.append(string(chars[start...]))
        return parts
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int) throws -> String {
        let chars = scalars(s)
        let limit = count < 0 ? Int.max : count
        // Each replacement adds at most new's bytes; checked before the result is built.
        let most = min(limit, old.isEmpty ? chars.count + 1 : occurrences(of: scalars(old), in: chars, limit: limit).count)
        try JinjaLimits.checkRepetition(new.utf8.count, most, limit: JinjaLimits.maxStringBytes - s.utf8.count, "replace()")
        if old.isEmpty {
            // Python inserts `new` before every character and at the end.
            var out = String.UnicodeScalarView()
            var inserted = 0
            for c in chars {
                if inserted < limit { out.append(contentsOf: new.unicodeScalars); inserted += 1 }
                out.append(c)
            }
            if inserted < limit { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        let needle = scalars(old)
        var out = String.UnicodeScalarView()
        var start = 0
        for p in occurrences(of: needle, in: chars, limit: limit) {
            out.append(contentsOf: chars[start..<p])
            out.append(contentsOf: new.unicodeScalars)
            start = p + needle.count
        }
        out.append(contentsOf: chars[start...])
        return String(out)
    }

    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return String(first).uppercased() + string(s.unicodeScalars.dropFirst()).lowercased()
    }

    /// Python str.title(): a cased letter after a non-letter starts a word.
    static func title(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s.unicodeScalars {
            let cased = c.properties.isUppercase || c.properties.isLowercase || c.properties.isAlphabetic
            out += previousCased ? String(c).lowercased() : String(c).uppercased()
            previousCased = cased
        }
        return out
    }
}

// MARK: - strftime

/// C-locale strftime for the directives chat templates use (Llama 3.x writes `strftime_now("%d %b %Y")`).
enum Strftime {
    private static let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    private static let months = ["January", "February", "March", "April", "May", "June", "July", "August",
                                 "September", "October", "November", "December"]

    static func format(_ date: Date, _ format: String, timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let (year, month, day) = (c.year ?? 1970, c.month ?? 1, c.day ?? 1)
        let (hour, minute, second) = (c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
        let weekday = (c.weekday ?? 1) - 1
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        func pad(_ v: Int, _ width: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var out = ""
        var it = format.makeIterator()
        while let ch = it.next() {
            guard ch == "%" else { out.append(ch); continue }
            guard let d = it.next() else { out.append("%"); break }
            switch d {
            case "a": out += String(days[weekday].prefix(3))
            case "A": out += days[weekday]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "B": out += months[month - 1]
            case "d": out += pad(day)
            case "e": out += (day < 10 ? " " : "") + String(day)
            case "m": out += pad(month)
            case "y": out += pad(year % 100)
            case "Y": out += String(year)
            case "H": out += pad(hour)
            case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "M": out += pad(minute)
            case "S": out += pad(second)
            case "j": out += pad(dayOfYear, 3)
            case "F": out += "\(year)-\(pad(month))-\(pad(day))"
            case "%": out += "%"
            default: out += "%" + String(d)
            }
        }
        return out
    }
}

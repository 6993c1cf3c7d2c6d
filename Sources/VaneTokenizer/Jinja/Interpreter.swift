import Foundation

// Renders a parsed template. Scoping follows Jinja: a `for` body and a macro body get their own frame, so a
// `{% set %}` inside a loop does not leak out of it (templates use `namespace()` objects to carry state out);
// `if` bodies share the enclosing frame. Names that are not found are undefined, not errors.

final class Renderer {
    enum Flow { case normal, breakLoop, continueLoop }

    let source: SourceText
    private var frames: [[String: JinjaValue]]
    private var namespaces: [JinjaObject] = []
    private var macros: [MacroDefinition] = []
    private var macroDepth = 0
    private var depth = 0
    private var iterations = 0
    let clock: (now: Date, timeZone: TimeZone)

    init(source: SourceText, globals: [String: JinjaValue], now: Date, timeZone: TimeZone) {
        self.source = source
        var root: [String: JinjaValue] = [:]
        for builtin in Builtin.allCases { root[builtin.rawValue] = .opaque(JinjaOpaque(kind: .builtin(builtin))) }
        root.merge(globals) { $1 }
        self.frames = [root]
        self.clock = (now, timeZone)
    }

    private func fail(_ message: String, at offset: Int) -> JinjaError { source.error(.runtime, message, at: offset) }

    // MARK: Statements

    /// Counts one level of renderer recursion; `offset` is where the error points.
    private func enter(at offset: Int) throws {
        depth += 1
        guard depth <= JinjaLimits.maxRenderDepth else {
            throw fail("the template nests deeper than \(JinjaLimits.maxRenderDepth) levels (expressions, blocks and macro calls together)",
                       at: offset)
        }
    }

    func run(_ nodes: [Node], into out: inout String) throws -> Flow {
        try enter(at: 0)
        defer { depth -= 1 }
        for node in nodes {
            switch node {
            case .text(let s):
                out += s
                if out.utf8.count > JinjaLimits.maxStringBytes {
                    throw fail("output exceeds \(JinjaLimits.maxStringBytes >> 20) MiB; the template repeats text without end", at: 0)
                }
            case .output(let e):
                let value = try eval(e)
                do { try JinjaLimits.checkRenderable(value, "the output", extra: out.utf8.count) } catch let f as JinjaFailure {
                    throw fail(f.message, at: e.offset)
                }
                out += value.pythonString
            case .conditional(let branches, let otherwise):
                var body = otherwise
                for branch in branches where try eval(branch.test).isTruthy {
                    body = branch.body
                    break
                }
                let flow = try run(body, into: &out)
                if flow != .normal { return flow }
            case .forLoop(let loop):
                try runFor(loop, into: &out)
            case .set(let target, let valueExpr, let offset):
                try assign(target, try eval(valueExpr), at: offset)
            case .setBlock(let name, let body):
                var captured = ""
                _ = try run(body, into: &captured)
                frames[frames.count - 1][name] = .string(captured)
            case .macro(let definition):
                macros.append(definition)
                frames[frames.count - 1][definition.name] = .opaque(JinjaOpaque(kind: .macro(macros.count - 1)))
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            case .generation(let body):
                let flow = try run(body, into: &out)
                if flow != .normal { return flow }
            }
        }
        return .normal
    }

    private func assign(_ target: SetTarget, _ value: JinjaValue, at offset: Int) throws {
        switch target {
        case .name(let name):
            frames[frames.count - 1][name] = value
        case .names(let names):
            let values = try unpack(value, into: names.count, at: offset)
            for (name, v) in zip(names, values) { frames[frames.count - 1][name] = v }
        case .attribute(let name, let attribute):
            guard case .opaque(let o) = lookup(name), case .namespace(let id) = o.kind else {
                throw fail("cannot set '\(name).\(attribute)': '\(name)' is a \(lookup(name).typeName), and only namespace() objects accept attribute assignment",
                           at: offset)
            }
            namespaces[id][attribute] = value
        }
    }

    private func unpack(_ value: JinjaValue, into count: Int, at offset: Int) throws -> [JinjaValue] {
        let items = try iterate(value, at: offset)
        guard items.count == count else {
            throw fail("cannot unpack \(items.count) value\(items.count == 1 ? "" : "s") into \(count) variables", at: offset)
        }
        return items
    }

    /// What `for` iterates: list items, string characters, dict keys; undefined iterates as empty.
    private func iterate(_ value: JinjaValue, at offset: Int) throws -> [JinjaValue] {
        switch value {
        case .undefined: return []
        case .array(let items): return items
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .object(let o): return o.keys.map { .string($0) }
        default: throw fail("'\(value.typeName)' object is not iterable", at: offset)
        }
    }

    private func runFor(_ loop: ForLoop, into out: inout String) throws {
        var items = try iterate(try eval(loop.iterable), at: loop.iterable.offset)
        frames.append([:])
        defer { frames.removeLast() }
        func bind(_ item: JinjaValue) throws {
            iterations += 1
            guard iterations <= JinjaLimits.maxIterations else {
                throw fail("loops ran more than \(JinjaLimits.maxIterations) iterations in one render", at: loop.offset)
            }
            if loop.targets.count == 1 {
                frames[frames.count - 1][loop.targets[0]] = item
            } else {
                let values = try unpack(item, into: loop.targets.count, at: loop.offset)
                for (name, v) in zip(loop.targets, values) { frames[frames.count - 1][name] = v }
            }
        }
        if let filter = loop.filter {
            items = try items.filter { item in
                try bind(item)
                return try eval(filter).isTruthy
            }
        }
        if items.isEmpty {
            _ = try run(loop.otherwise, into: &out)
            return
        }
        for (i, item) in items.enumerated() {
            try bind(item)
            frames[frames.count - 1]["loop"] = .object(JinjaObject([
                ("index", .int(i + 1)), ("index0", .int(i)),
                ("revindex", .int(items.count - i)), ("revindex0", .int(items.count - i - 1)),
                ("first", .bool(i == 0)), ("last", .bool(i == items.count - 1)), ("length", .int(items.count)),
                ("previtem", i > 0 ? items[i - 1] : .undefined),
                ("nextitem", i + 1 < items.count ? items[i + 1] : .undefined),
            ]))
            if try run(loop.body, into: &out) == .breakLoop { break }
        }
    }

    private func lookup(_ name: String) -> JinjaValue {
        for frame in frames.reversed() {
            if let v = frame[name] { return v }
        }
        return .undefined
    }

    // MARK: Expressions

    func eval(_ e: Expr) throws -> JinjaValue {
        try enter(at: e.offset)
        defer { depth -= 1 }
        do {
            let value = try evaluate(e)
            // Doubling a string or list in a loop grows without bound; each step is checked here.
            switch value {
            case .string(let s) where s.utf8.count > JinjaLimits.maxStringBytes:
                throw JinjaLimits.tooLong(s.utf8.count, "a string")
            case .array(let a) where a.count > JinjaLimits.maxItems:
                throw JinjaFailure("a list of \(a.count) items exceeds the limit of \(JinjaLimits.maxItems)")
            default: return value
            }
        } catch let failure as JinjaFailure {
            throw source.error(failure.raised ? .raised : .runtime, failure.message, at: e.offset)
        }
    }

    private func evaluate(_ e: Expr) throws -> JinjaValue {
        switch e.kind {
        case .literal(let v):
            return v
        case .name(let n):
            return lookup(n)
        case .list(let items):
            return .array(try items.map(eval))
        case .dict(let pairs):
            var o = JinjaObject()
            for (k, v) in pairs {
                guard case .string(let key) = try eval(k) else { throw JinjaFailure("dictionary keys must be strings") }
                o[key] = try eval(v)
            }
            return .object(o)
        case .attribute(let target, let name):
            return attribute(try eval(target), name)
        case .item(let target, let index):
            let t = try eval(target)
            let i = try eval(index)
            if case .string(let name) = i { return attribute(t, name) }
            return try Operators.item(t, i)
        case .slice(let target, let start, let stop, let step):
            func bound(_ e: Expr?) throws -> Int? {
                guard let e else { return nil }
                switch try eval(e) {
                case .int(let i): return i
                case .none: return nil
                case let v: throw JinjaFailure("slice indices must be integers or none, not '\(v.typeName)'")
                }
            }
            return try Operators.slice(try eval(target), try bound(start), try bound(stop), try bound(step))
        case .call(let callee, let args):
            return try call(callee, args)
        case .filter(let target, let name, let args):
            let value = try eval(target)
            return try Filters.apply(name, value, try evalArguments(args), renderer: self)
        case .test(let target, let name, let args):
            return .bool(try Tests.apply(name, try eval(target), try args.map(eval)))
        case .unary(let op, let operand):
            let v = try eval(operand)
            switch op {
            case .not: return .bool(!v.isTruthy)
            case .plus:
                guard v.numericValue != nil else { throw JinjaFailure("bad operand type for unary +: '\(v.typeName)'") }
                return v
            case .negate:
                switch v {
                case .int(let i) where i != .min: return .int(-i)
                case .double(let d): return .double(-d)
                case .bool(let b): return .int(b ? -1 : 0)
                case .undefined: throw JinjaFailure("\(Self.describe(operand)) is undefined (in unary -)")
                default: throw JinjaFailure("bad operand type for unary -: '\(v.typeName)'")
                }
            }
        case .binary(let op, let l, let r):
            let a = try eval(l)
            let b = try eval(r)
            // Like jinja2's default Undefined: equality and membership tests work, arithmetic and ordering fail.
            if ![.equal, .notEqual, .in, .notIn].contains(op) {
                for (side, v) in [(l, a), (r, b)] where v == .undefined {
                    throw JinjaFailure("\(Self.describe(side)) is undefined (in '\(op.rawValue)')")
                }
            }
            return try Operators.binary(op, a, b)
        case .and(let l, let r):
            let a = try eval(l)
            return a.isTruthy ? try eval(r) : a
        case .or(let l, let r):
            let a = try eval(l)
            return a.isTruthy ? a : try eval(r)
        case .concat(let parts):
            let values = try parts.map(eval)
            try JinjaLimits.checkRenderable(.array(values), "'~'")
            return .string(values.map(\.pythonString).joined())
        case .conditional(let test, let then, let otherwise):
            if try eval(test).isTruthy { return try eval(then) }
            return try otherwise.map(eval) ?? .undefined
        }
    }

    /// A short rendering of an expression for messages: `messages[0].role`, `tools`, or "a value".
    static func describe(_ e: Expr) -> String {
        switch e.kind {
        case .name(let n): return "'\(n)'"
        case .attribute(let t, let n): return "'\(describe(t).trimmingCharacters(in: ["'"])).\(n)'"
        case .item(let t, let i):
            if case .literal(let v) = i.kind { return "'\(describe(t).trimmingCharacters(in: ["'"]))[\(v.pythonRepr)]'" }
            return "an item of \(describe(t))"
        default: return "a value"
        }
    }

    /// `a.b`: dict key, namespace attribute; anything else has no attributes here and gives undefined.
    func attribute(_ value: JinjaValue, _ name: String) -> JinjaValue {
        switch value {
        case .object(let o): return o[name] ?? .undefined
        case .opaque(let o):
            if case .namespace(let id) = o.kind { return namespaces[id][name] ?? .undefined }
            return .undefined
        default: return .undefined
        }
    }

    private func evalArguments(_ args: Arguments) throws -> CallArguments {
        CallArguments(positional: try args.positional.map(eval), keyword: try args.keyword.map { ($0.name, try eval($0.value)) })
    }

    private func call(_ callee: Expr, _ args: Arguments) throws -> JinjaValue {
        if case .attribute(let targetExpr, let name) = callee.kind {
            let target = try eval(targetExpr)
            if let result = try Methods.call(target, name, try evalArguments(args)) { return result }
            if case .undefined = target {
                throw JinjaFailure("cannot call '\(name)()': \(Self.describe(targetExpr)) is undefined")
            }
            let member = attribute(target, name)
            guard case .opaque = member else {
                throw JinjaFailure("'\(target.typeName)' object has no method '\(name)'")
            }
            return try callValue(member, try evalArguments(args), describing: callee)
        }
        return try callValue(try eval(callee), try evalArguments(args), describing: callee)
    }

    private func callValue(_ f: JinjaValue, _ args: CallArguments, describing callee: Expr) throws -> JinjaValue {
        guard case .opaque(let o) = f else {
            if case .undefined = f { throw JinjaFailure("\(Self.describe(callee)) is undefined and cannot be called") }
            throw JinjaFailure("'\(f.typeName)' object is not callable")
        }
        switch o.kind {
        case .builtin(let b): return try callBuiltin(b, args)
        case .macro(let id): return try callMacro(macros[id], args)
        case .namespace: throw JinjaFailure("'Namespace' object is not callable")
        }
    }

    private func callMacro(_ m: MacroDefinition, _ args: CallArguments) throws -> JinjaValue {
        guard args.positional.count <= m.parameters.count else {
            throw JinjaFailure("macro '\(m.name)' takes \(m.parameters.count) arguments, \(args.positional.count) given")
        }
        guard macroDepth < JinjaLimits.maxMacroDepth else {
            throw JinjaFailure("macro '\(m.name)' nested deeper than \(JinjaLimits.maxMacroDepth) calls")
        }
        let names = Set(m.parameters.map(\.name))
        for (name, _) in args.keyword where !names.contains(name) {
            throw JinjaFailure("macro '\(m.name)' has no parameter named '\(name)'")
        }
        let saved = frames
        frames = [frames[0], [:]]
        macroDepth += 1
        defer {
            frames = saved
            macroDepth -= 1
        }
        for (i, p) in m.parameters.enumerated() {
            let value: JinjaValue
            if i < args.positional.count {
                value = args.positional[i]
            } else if let kw = args.keyword.last(where: { $0.0 == p.name }) {
                value = kw.1
            } else {
                value = try p.defaultValue.map(eval) ?? .undefined
            }
            frames[1][p.name] = value
        }
        var out = ""
        _ = try run(m.body, into: &out)
        return .string(out)
    }

    private func callBuiltin(_ b: Builtin, _ args: CallArguments) throws -> JinjaValue {
        switch b {
        case .raiseException:
            let bound = try args.bind(["message"], function: b.rawValue)
            throw JinjaFailure(bound[0]?.pythonString ?? "", raised: true)
        case .strftimeNow:
            let bound = try args.bind(["format"], function: b.rawValue)
            guard case .string(let format) = bound[0] else { throw JinjaFailure("strftime_now() needs a format string") }
            return .string(Strftime.format(clock.now, format, timeZone: clock.timeZone))
        case .range:
            let ints = try args.positional.map { v -> Int in
                guard case .int(let i) = v else { throw JinjaFailure("range() arguments must be integers, not '\(v.typeName)'") }
                return i
            }
            guard (1...3).contains(ints.count), args.keyword.isEmpty else { throw JinjaFailure("range() takes 1 to 3 integer arguments") }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw JinjaFailure("range() step must not be zero") }
            // Counted before any item is made (the stride's own count would walk it); in Double, which cannot overflow.
            let count = max(0, ((Double(stop) - Double(start)) / Double(step)).rounded(.up))
            guard count <= Double(JinjaLimits.maxItems) else {
                throw JinjaFailure("range() of \(Int(count)) items exceeds the limit of \(JinjaLimits.maxItems)")
            }
            return .array(stride(from: start, to: stop, by: step).map { .int($0) })
        case .namespace, .dict:
            var o = JinjaObject()
            for v in args.positional {
                guard case .object(let initial) = v else { throw JinjaFailure("\(b.rawValue)() takes a dict or keyword arguments") }
                for (k, x) in initial.pairs { o[k] = x }
            }
            for (k, v) in args.keyword { o[k] = v }
            if b == .dict { return .object(o) }
            namespaces.append(o)
            return .opaque(JinjaOpaque(kind: .namespace(namespaces.count - 1)))
        }
    }
}

/// Evaluated arguments of a filter, method or function call.
struct CallArguments {
    var positional: [JinjaValue] = []
    var keyword: [(String, JinjaValue)] = []

    /// Matches arguments to a Python-style signature; nil where the caller gave nothing.
    func bind(_ names: [String], function: String) throws -> [JinjaValue?] {
        guard positional.count <= names.count else {
            throw JinjaFailure("\(function)() takes at most \(names.count) argument\(names.count == 1 ? "" : "s") (\(positional.count) given)")
        }
        var bound: [JinjaValue?] = positional + Array(repeating: nil, count: names.count - positional.count)
        for (name, value) in keyword {
            guard let i = names.firstIndex(of: name) else {
                throw JinjaFailure("\(function)() got an unexpected keyword argument '\(name)'")
            }
            bound[i] = value
        }
        return bound
    }
}

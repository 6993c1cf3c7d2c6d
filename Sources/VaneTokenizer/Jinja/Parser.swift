// Recursive-descent parser over the lexer's tokens, with jinja2's grammar and precedence (lowest first):
//
//   conditional   a if cond else b
//   or, and, not
//   compare       == != < <= > >= in, not in
//   + -
//   ~             (string concatenation)
//   * / // %
//   **
//   unary - +     then postfix .attr [index] [a:b:c] (call), then filters `| f(x)` and tests `is [not] t(x)`
//
// So `messages|length - 1` is `(messages|length) - 1` and `not x is defined` is `not (x is defined)`.
// Unknown filters and tests are syntax errors, as jinja2 reports them when compiling.

struct Parser {
    private let tokens: [Token]
    private let source: SourceText
    private var index = 0
    private var loopDepth = 0
    /// Open expressions and blocks; the parser and the renderer recurse once per level.
    private var nesting = 0

    init(tokens: [Token], source: SourceText) {
        self.tokens = tokens
        self.source = source
    }

    private var current: Token { tokens[index] }
    private var next: Token { tokens[min(index + 1, tokens.count - 1)] }

    /// An expression node, refused when it nests deeper than the renderer may recurse (`1+1+…` nests too).
    private func make(_ kind: Expr.Kind, offset: Int) throws -> Expr {
        let e = Expr(kind: kind, offset: offset)
        guard e.depth <= JinjaLimits.maxParseDepth else {
            throw fail("expression nested deeper than \(JinjaLimits.maxParseDepth) levels", at: offset)
        }
        return e
    }

    /// Counts one level of parser recursion (a parenthesis, `not`, unary sign or block); pair with `nesting -= 1`.
    private mutating func nest(_ what: String) throws {
        nesting += 1
        guard nesting <= JinjaLimits.maxParseDepth else {
            throw fail("\(what) nested deeper than \(JinjaLimits.maxParseDepth) levels")
        }
    }

    private func fail(_ message: String, at offset: Int? = nil) -> JinjaError {
        source.error(.syntax, message, at: offset ?? current.offset)
    }

    private static func describe(_ kind: TokenKind) -> String {
        switch kind {
        case .text: "template text"
        case .variableBegin: "'{{'"
        case .variableEnd: "'}}'"
        case .blockBegin: "'{%'"
        case .blockEnd: "'%}'"
        case .name(let n): "'\(n)'"
        case .string: "a string"
        case .integer(let i): "'\(i)'"
        case .float(let d): "'\(d)'"
        case .op(let o): "'\(o)'"
        case .end: "the end of the template"
        }
    }

    private mutating func advance() -> Token {
        let t = current
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    private func isOp(_ op: String) -> Bool { current.kind == .op(op) }
    private func isName(_ name: String) -> Bool { current.kind == .name(name) }

    private mutating func expectOp(_ op: String) throws {
        guard isOp(op) else { throw fail("expected '\(op)', found \(Self.describe(current.kind))") }
        _ = advance()
    }

    private mutating func expectName(_ what: String = "a name") throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected \(what), found \(Self.describe(current.kind))") }
        _ = advance()
        return n
    }

    private mutating func expectBlockEnd(_ tag: String) throws {
        guard current.kind == .blockEnd else {
            throw fail("expected '%}' to end the '\(tag)' tag, found \(Self.describe(current.kind))")
        }
        _ = advance()
    }

    // MARK: Statements

    mutating func parseTemplate() throws -> [Node] {
        let (body, _) = try parseBody(until: [], opener: nil)
        return body
    }

    /// Parses nodes until a `{% tag %}` whose name is in `until`; returns the body and that tag's name, leaving the
    /// tokens positioned after the tag name. `opener` names the block being closed, for the end-of-template error.
    private mutating func parseBody(until: Set<String>, opener: (tag: String, offset: Int)?) throws -> ([Node], String) {
        var nodes: [Node] = []
        while true {
            let token = current
            switch token.kind {
            case .end:
                if let opener { throw unclosed(opener, until, found: "the end of the template", at: opener.offset) }
                return (nodes, "")
            case .text(let s):
                _ = advance()
                nodes.append(.text(s))
            case .variableBegin:
                _ = advance()
                let e = try parseExpression()
                guard current.kind == .variableEnd else {
                    throw fail("expected '}}' after the expression, found \(Self.describe(current.kind))")
                }
                _ = advance()
                nodes.append(.output(e))
            case .blockBegin:
                _ = advance()
                let nameOffset = current.offset
                let tag = try expectName("a tag name after '{%'")
                if until.contains(tag) { return (nodes, tag) }
                if Self.continuationTags.contains(tag) {
                    guard let opener else { throw fail("unexpected '\(tag)': no block is open", at: nameOffset) }
                    throw unclosed(opener, until, found: "'\(tag)'", at: nameOffset)
                }
                nodes.append(try parseStatement(tag, offset: token.offset, nameOffset: nameOffset))
            default:
                throw fail("unexpected \(Self.describe(token.kind))")
            }
        }
    }

    /// Tags that continue or close a block; met outside their block they mean the template is mis-nested.
    private static let continuationTags: Set<String> = [
        "elif", "else", "endif", "endfor", "endset", "endmacro", "endgeneration",
    ]

    private func unclosed(_ opener: (tag: String, offset: Int), _ until: Set<String>, found: String, at offset: Int) -> JinjaError {
        let (line, column) = source.location(of: opener.offset)
        let expected = until.sorted().map { "'\($0)'" }.joined(separator: " or ")
        return fail("unexpected \(found): expected \(expected) to close the '\(opener.tag)' block opened at line \(line), column \(column)",
                    at: offset)
    }

    private mutating func parseStatement(_ tag: String, offset: Int, nameOffset: Int) throws -> Node {
        try nest("'\(tag)' block")
        defer { nesting -= 1 }
        switch tag {
        case "if": return try parseIf(offset: offset)
        case "for": return try parseFor(offset: offset)
        case "set": return try parseSet(offset: offset)
        case "macro": return try parseMacro(offset: offset)
        case "break", "continue":
            guard loopDepth > 0 else { throw fail("'\(tag)' outside of a for loop", at: nameOffset) }
            try expectBlockEnd(tag)
            return tag == "break" ? .breakLoop : .continueLoop
        case "generation":
            try expectBlockEnd(tag)
            let (body, _) = try parseBody(until: ["endgeneration"], opener: (tag, offset))
            try expectBlockEnd("endgeneration")
            return .generation(body)
        default:
            throw fail("unknown tag '\(tag)' (supported: if, for, set, macro, break, continue, generation)", at: nameOffset)
        }
    }

    private mutating func parseIf(offset: Int) throws -> Node {
        var branches: [(test: Expr, body: [Node])] = []
        var test = try parseOr()
        try expectBlockEnd("if")
        while true {
            let (body, endTag) = try parseBody(until: ["elif", "else", "endif"], opener: ("if", offset))
            branches.append((test, body))
            switch endTag {
            case "elif":
                test = try parseOr()
                try expectBlockEnd("elif")
            case "else":
                try expectBlockEnd("else")
                let (otherwise, _) = try parseBody(until: ["endif"], opener: ("if", offset))
                try expectBlockEnd("endif")
                return .conditional(branches: branches, otherwise: otherwise)
            default:
                try expectBlockEnd("endif")
                return .conditional(branches: branches, otherwise: [])
            }
        }
    }

    private mutating func parseFor(offset: Int) throws -> Node {
        var targets: [String] = []
        let parenthesized = isOp("(")
        if parenthesized { _ = advance() }
        repeat {
            targets.append(try expectName("a loop variable name"))
            guard isOp(",") else { break }
            _ = advance()
        } while true
        if parenthesized { try expectOp(")") }
        guard isName("in") else { throw fail("expected 'in' after the loop variables, found \(Self.describe(current.kind))") }
        _ = advance()
        let iterable = try parseOr()
        var filter: Expr? = nil
        if isName("if") {
            _ = advance()
            filter = try parseOr()
        }
        if isName("recursive") { throw fail("recursive for loops are not supported") }
        try expectBlockEnd("for")
        loopDepth += 1
        let (body, endTag) = try parseBody(until: ["else", "endfor"], opener: ("for", offset))
        loopDepth -= 1
        var otherwise: [Node] = []
        if endTag == "else" {
            try expectBlockEnd("else")
            (otherwise, _) = try parseBody(until: ["endfor"], opener: ("for", offset))
        }
        try expectBlockEnd("endfor")
        return .forLoop(ForLoop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise,
                                offset: offset))
    }

    private mutating func parseSet(offset: Int) throws -> Node {
        let first = try expectName("a variable name after 'set'")
        let target: SetTarget
        if isOp(".") {
            _ = advance()
            target = .attribute(first, try expectName("an attribute name"))
        } else if isOp(",") {
            var names = [first]
            while isOp(",") {
                _ = advance()
                names.append(try expectName("a variable name"))
            }
            target = .names(names)
        } else {
            target = .name(first)
        }
        if current.kind == .blockEnd, case .name(let name) = target {
            _ = advance()
            let (body, _) = try parseBody(until: ["endset"], opener: ("set", offset))
            try expectBlockEnd("endset")
            return .setBlock(name: name, body: body)
        }
        try expectOp("=")
        let value = try parseExpression()
        try expectBlockEnd("set")
        return .set(target, value, offset: offset)
    }

    private mutating func parseMacro(offset: Int) throws -> Node {
        let name = try expectName("a macro name")
        try expectOp("(")
        var parameters: [(name: String, defaultValue: Expr?)] = []
        while !isOp(")") {
            let p = try expectName("a parameter name")
            var value: Expr? = nil
            if isOp("=") {
                _ = advance()
                value = try parseExpression()
            }
            parameters.append((p, value))
            if !isOp(")") { try expectOp(",") }
        }
        _ = advance()
        try expectBlockEnd("macro")
        let savedDepth = loopDepth
        loopDepth = 0
        let (body, _) = try parseBody(until: ["endmacro"], opener: ("macro", offset))
        loopDepth = savedDepth
        try expectBlockEnd("endmacro")
        return .macro(MacroDefinition(name: name, parameters: parameters, body: body))
    }

    // MARK: Expressions

    mutating func parseExpression() throws -> Expr {
        try nest("expression")
        defer { nesting -= 1 }
        let value = try parseOr()
        guard isName("if") else { return value }
        let offset = advance().offset
        let test = try parseOr()
        var otherwise: Expr? = nil
        if isName("else") {
            _ = advance()
            otherwise = try parseExpression()
        }
        return try make(.conditional(test: test, then: value, otherwise: otherwise), offset: offset)
    }

    private mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        while isName("or") {
            let offset = advance().offset
            left = try make(.or(left, try parseAnd()), offset: offset)
        }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        while isName("and") {
            let offset = advance().offset
            left = try make(.and(left, try parseNot()), offset: offset)
        }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        if isName("not") {
            try nest("'not'")
            defer { nesting -= 1 }
            let offset = advance().offset
            return try make(.unary(.not, try parseNot()), offset: offset)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        var left = try parseAdditive()
        while true {
            let op: BinaryOp
            let offset = current.offset
            switch current.kind {
            case .op("=="): op = .equal
            case .op("!="): op = .notEqual
            case .op("<"): op = .less
            case .op("<="): op = .lessEqual
            case .op(">"): op = .greater
            case .op(">="): op = .greaterEqual
            case .name("in"): op = .in
            case .name("not") where next.kind == .name("in"):
                _ = advance()
                op = .notIn
            default: return left
            }
            _ = advance()
            left = try make(.binary(op, left, try parseAdditive()), offset: offset)
        }
    }

    private mutating func parseAdditive() throws -> Expr {
        var left = try parseConcat()
        while isOp("+") || isOp("-") {
            let t = advance()
            left = try make(.binary(t.kind == .op("+") ? .add : .subtract, left, try parseConcat()), offset: t.offset)
        }
        return left
    }

    private mutating func parseConcat() throws -> Expr {
        let first = try parseMultiplicative()
        guard isOp("~") else { return first }
        var parts = [first]
        while isOp("~") {
            _ = advance()
            parts.append(try parseMultiplicative())
        }
        return try make(.concat(parts), offset: first.offset)
    }

    private mutating func parseMultiplicative() throws -> Expr {
        var left = try parsePower()
        while true {
            let op: BinaryOp
            switch current.kind {
            case .op("*"): op = .multiply
            case .op("/"): op = .divide
            case .op("//"): op = .floorDivide
            case .op("%"): op = .modulo
            default: return left
            }
            let offset = advance().offset
            left = try make(.binary(op, left, try parsePower()), offset: offset)
        }
    }

    private mutating func parsePower() throws -> Expr {
        var left = try parseUnary(withFilters: true)
        while isOp("**") {
            let offset = advance().offset
            left = try make(.binary(.power, left, try parseUnary(withFilters: true)), offset: offset)
        }
        return left
    }

    private mutating func parseUnary(withFilters: Bool) throws -> Expr {
        var node: Expr
        if isOp("-") || isOp("+") {
            try nest("unary sign")
            defer { nesting -= 1 }
            let t = advance()
            node = try make(.unary(t.kind == .op("-") ? .negate : .plus, try parseUnary(withFilters: false)), offset: t.offset)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilters { node = try parseFiltersAndTests(node) }
        return node
    }

    private mutating func parsePrimary() throws -> Expr {
        let t = current
        switch t.kind {
        case .name(let n):
            _ = advance()
            switch n {
            case "true", "True": return try make(.literal(.bool(true)), offset: t.offset)
            case "false", "False": return try make(.literal(.bool(false)), offset: t.offset)
            case "none", "None": return try make(.literal(.none), offset: t.offset)
            default: return try make(.name(n), offset: t.offset)
            }
        case .string(var s):
            _ = advance()
            // Adjacent string literals concatenate, as in Python.
            while case .string(let more) = current.kind {
                s += more
                _ = advance()
            }
            return try make(.literal(.string(s)), offset: t.offset)
        case .integer(let i):
            _ = advance()
            return try make(.literal(.int(i)), offset: t.offset)
        case .float(let d):
            _ = advance()
            return try make(.literal(.double(d)), offset: t.offset)
        case .op("("):
            _ = advance()
            if isOp(")") {
                _ = advance()
                return try make(.list([]), offset: t.offset)
            }
            let first = try parseExpression()
            guard isOp(",") else {
                try expectOp(")")
                return first
            }
            // A tuple; Jinja tuples behave like lists for everything templates do with them.
            var items = [first]
            while isOp(",") {
                _ = advance()
                if isOp(")") { break }
                items.append(try parseExpression())
            }
            try expectOp(")")
            return try make(.list(items), offset: t.offset)
        case .op("["):
            _ = advance()
            var items: [Expr] = []
            while !isOp("]") {
                items.append(try parseExpression())
                if !isOp("]") { try expectOp(",") }
            }
            _ = advance()
            return try make(.list(items), offset: t.offset)
        case .op("{"):
            _ = advance()
            var pairs: [(key: Expr, value: Expr)] = []
            while !isOp("}") {
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
                if !isOp("}") { try expectOp(",") }
            }
            _ = advance()
            return try make(.dict(pairs), offset: t.offset)
        default:
            throw fail("expected an expression, found \(Self.describe(t.kind))")
        }
    }

    private mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp(".") {
                let offset = advance().offset
                switch current.kind {
                case .name(let n):
                    _ = advance()
                    node = try make(.attribute(node, n), offset: offset)
                case .integer(let i):
                    _ = advance()
                    node = try make(.item(node, Expr(kind: .literal(.int(i)), offset: offset)), offset: offset)
                default:
                    throw fail("expected an attribute name after '.', found \(Self.describe(current.kind))")
                }
            } else if isOp("[") {
                node = try parseSubscript(node)
            } else if isOp("(") {
                let offset = current.offset
                node = try make(.call(node, try parseArguments()), offset: offset)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ target: Expr) throws -> Expr {
        let offset = advance().offset
        var parts: [Expr?] = [nil]
        var isSlice = false
        while !isOp("]") {
            if isOp(":") {
                _ = advance()
                isSlice = true
                parts.append(nil)
                guard parts.count <= 3 else { throw fail("a slice has at most three parts") }
            } else {
                guard parts[parts.count - 1] == nil else { throw fail("expected ':' or ']' in a subscript") }
                parts[parts.count - 1] = try parseExpression()
            }
        }
        _ = advance()
        if !isSlice {
            guard let index = parts[0] else { throw fail("empty subscript '[]'", at: offset) }
            return try make(.item(target, index), offset: offset)
        }
        while parts.count < 3 { parts.append(nil) }
        return try make(.slice(target, start: parts[0], stop: parts[1], step: parts[2]), offset: offset)
    }

    private mutating func parseArguments() throws -> Arguments {
        try expectOp("(")
        var args = Arguments()
        while !isOp(")") {
            if case .name(let n) = current.kind, next.kind == .op("=") {
                _ = advance()
                _ = advance()
                args.keyword.append((n, try parseExpression()))
            } else {
                guard args.keyword.isEmpty else { throw fail("positional argument after a keyword argument") }
                args.positional.append(try parseExpression())
            }
            if !isOp(")") { try expectOp(",") }
        }
        _ = advance()
        return args
    }

    private mutating func parseFiltersAndTests(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp("|") {
                _ = advance()
                let offset = current.offset
                let name = try expectName("a filter name after '|'")
                guard Filters.names.contains(name) else { throw fail("no filter named '\(name)'", at: offset) }
                let args = isOp("(") ? try parseArguments() : Arguments()
                node = try make(.filter(node, name, args), offset: offset)
            } else if isName("is") {
                let offset = advance().offset
                var negated = false
                if isName("not") {
                    _ = advance()
                    negated = true
                }
                let nameOffset = current.offset
                let name = try expectName("a test name after 'is'")
                guard Tests.names.contains(name) else { throw fail("no test named '\(name)'", at: nameOffset) }
                var args: [Expr] = []
                if isOp("(") {
                    let parsed = try parseArguments()
                    args = parsed.positional + parsed.keyword.map(\.value)
                } else if startsTestArgument {
                    args = [try parsePostfix(try parsePrimary())]
                }
                node = try make(.test(node, name, args), offset: offset)
                if negated { node = try make(.unary(.not, node), offset: offset) }
            } else if isOp("(") {
                let offset = current.offset
                node = try make(.call(node, try parseArguments()), offset: offset)
            } else {
                return node
            }
        }
    }

    /// jinja2 takes one bare argument after a test name (`x is divisibleby 3`) when a primary expression follows.
    private var startsTestArgument: Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and", "is", "if", "in", "not"].contains(n)
        case .string, .integer, .float, .op("["), .op("{"): return true
        default: return false
        }
    }
}

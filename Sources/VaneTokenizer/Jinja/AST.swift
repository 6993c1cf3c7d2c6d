// The parsed form of a template. Every expression and statement keeps the byte offset where it starts, so that
// runtime errors can say where they happened.

struct Expr: Sendable {
    indirect enum Kind: Sendable {
        case literal(JinjaValue)
        case name(String)
        case list([Expr])
        case dict([(key: Expr, value: Expr)])
        case attribute(Expr, String)                        // a.b
        case item(Expr, Expr)                               // a[b]
        case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)  // a[start:stop:step]
        case call(Expr, Arguments)                          // f(x, k=v)
        case filter(Expr, String, Arguments)                // a | f(x)
        case test(Expr, String, [Expr])                     // a is t(x)
        case unary(UnaryOp, Expr)
        case binary(BinaryOp, Expr, Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case concat([Expr])                                 // a ~ b ~ c
        case conditional(test: Expr, then: Expr, otherwise: Expr?)  // then if test else otherwise
    }
    let kind: Kind
    let offset: Int
    /// Levels of nesting, this node included: the renderer recurses this deep, so the parser bounds it.
    let depth: Int

    init(kind: Kind, offset: Int) {
        self.kind = kind
        self.offset = offset
        let children: [Expr?] = switch kind {
        case .literal, .name: []
        case .list(let items), .concat(let items): items
        case .dict(let pairs): pairs.flatMap { [$0.key, $0.value] }
        case .attribute(let e, _), .unary(_, let e): [e]
        case .item(let a, let b), .binary(_, let a, let b), .and(let a, let b), .or(let a, let b): [a, b]
        case .slice(let e, let start, let stop, let step): [e, start, stop, step]
        case .call(let e, let args), .filter(let e, _, let args): [e] + args.positional + args.keyword.map(\.value)
        case .test(let e, _, let args): [e] + args
        case .conditional(let test, let then, let otherwise): [test, then, otherwise]
        }
        depth = 1 + children.reduce(0) { max($0, $1?.depth ?? 0) }
    }
}

struct Arguments: Sendable {
    var positional: [Expr] = []
    var keyword: [(name: String, value: Expr)] = []
}

enum UnaryOp: String, Sendable { case negate = "-", plus = "+", not }

enum BinaryOp: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case `in` = "in", notIn = "not in"
}

indirect enum Node: Sendable {
    case text(String)
    case output(Expr)
    case conditional(branches: [(test: Expr, body: [Node])], otherwise: [Node])
    case forLoop(ForLoop)
    case set(SetTarget, Expr, offset: Int)
    case setBlock(name: String, body: [Node])
    case macro(MacroDefinition)
    case breakLoop
    case continueLoop
    /// `{% generation %}…{% endgeneration %}`: HF marks assistant text for its token masks; renders its body.
    case generation([Node])
}

struct ForLoop: Sendable {
    let targets: [String]          // one name, or several for `for k, v in …`
    let iterable: Expr
    let filter: Expr?              // `for x in xs if cond`
    let body: [Node]
    let otherwise: [Node]          // `{% else %}`: rendered when nothing was iterated
    let offset: Int
}

enum SetTarget: Sendable {
    case name(String)
    case names([String])                 // {% set a, b = pair %}
    case attribute(String, String)       // {% set ns.x = … %}
}

struct MacroDefinition: Sendable {
    let name: String
    let parameters: [(name: String, defaultValue: Expr?)]
    let body: [Node]
}

import Foundation

/// A parsed Jinja template (the subset chat templates use), rendered the way HF transformers renders chat
/// templates: jinja2 with trim_blocks and lstrip_blocks, `raise_exception`, `strftime_now`, loop controls,
/// `{% generation %}`, and Python's `json.dumps` as `tojson`.
public struct JinjaTemplate: Sendable {
    let source: SourceText
    let nodes: [Node]

    /// Parses `text`; `origin` names it in errors (a file path, or a description).
    /// Throws `JinjaError` with kind `.syntax`, line and column when the text is malformed.
    public init(_ text: String, origin: String = "template") throws {
        source = Lexer.normalize(text, origin: origin)
        var lexer = Lexer(source: source)
        var parser = Parser(tokens: try lexer.tokenize(), source: source)
        nodes = try parser.parseTemplate()
    }

    /// Renders with `variables` as globals. `now` and `timeZone` are what `strftime_now` formats.
    /// Throws `JinjaError` (kind `.runtime` or `.raised`) naming the failed operation and its position.
    public func render(_ variables: [String: JinjaValue], now: Date = Date(), timeZone: TimeZone = .current) throws -> String {
        let renderer = Renderer(source: source, globals: variables, now: now, timeZone: timeZone)
        var out = ""
        _ = try renderer.run(nodes, into: &out)
        return out
    }
}

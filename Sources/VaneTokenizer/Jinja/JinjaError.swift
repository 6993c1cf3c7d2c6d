/// A template that could not be parsed or rendered: what went wrong and where in the template. Not a VaneError for
/// the reason ModelFileError is not: it carries a kind (syntax, runtime, or the template's own `raise_exception`,
/// whose text is meant for the user) and a position (line, column, byte offset) that callers and tests check.
public struct JinjaError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The template text is malformed (found while parsing, before any rendering).
        case syntax
        /// An operation failed while rendering (wrong types, undefined operands, division by zero …).
        case runtime
        /// The template called `raise_exception(message)`; `message` is exactly the template's text.
        case raised
    }

    public let kind: Kind
    public let message: String
    /// Where the template came from (a file path, or a description such as "chat template").
    public let origin: String
    /// 1-based line and column (in characters) of the offending tag or expression.
    public let line: Int
    public let column: Int
    /// Byte offset into the template's UTF-8 text, after "\r\n" and "\r" became "\n".
    public let offset: Int

    public var description: String {
        let where_ = "\(origin):\(line):\(column)"
        switch kind {
        case .syntax: return "\(where_): template syntax error: \(message)"
        case .runtime: return "\(where_): template error: \(message)"
        case .raised: return "\(where_): the template raised an exception: \(message)"
        }
    }
}

/// Thrown by built-in operations that do not know their position; the interpreter adds it.
struct JinjaFailure: Error {
    let message: String
    var raised = false
    init(_ message: String, raised: Bool = false) {
        self.message = message
        self.raised = raised
    }
}

/// The template text as UTF-8 bytes, with the means to turn a byte offset into a line and column.
struct SourceText: Sendable {
    let bytes: [UInt8]
    let origin: String

    func location(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        let end = min(max(offset, 0), bytes.count)
        for i in 0..<end where bytes[i] == 0x0A {
            line += 1
            lineStart = i + 1
        }
        // Count characters, not bytes: skip UTF-8 continuation bytes.
        let column = bytes[lineStart..<end].reduce(1) { ($1 & 0xC0) == 0x80 ? $0 : $0 + 1 }
        return (line, column)
    }

    func error(_ kind: JinjaError.Kind, _ message: String, at offset: Int) -> JinjaError {
        let (line, column) = location(of: offset)
        return JinjaError(kind: kind, message: message, origin: origin, line: line, column: column, offset: offset)
    }
}

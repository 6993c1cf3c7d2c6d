/// A request Vane cannot carry out as given — a model, a vector, an edit, a merge, an activation store, an input
/// line, a tokenizer or template file: what is wrong, where, and what to do about it. The error type of every Vane
/// library; the only others are ModelFileError and JinjaError, whose kind and position callers tell apart.
public struct VaneError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message)\n  hint: \($0)" } ?? message }
}

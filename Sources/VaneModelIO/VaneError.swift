/// A request Vane cannot carry out as given — a model file, a vector, an edit or a merge: what is wrong, where,
/// and what to do about it.
public struct VaneError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message)\n  hint: \($0)" } ?? message }
}

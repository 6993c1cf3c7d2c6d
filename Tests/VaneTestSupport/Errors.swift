import Testing

/// The error `body` throws, as the CLI would print it, or "no error".
public func errorText(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch {
        return "\(error)"
    }
}

/// Records an issue for each of `parts` that `message` does not mention.
public func expect(_ message: String, contains parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    for part in parts where !message.contains(part) {
        Issue.record("error \"\(message)\" does not mention \"\(part)\"", sourceLocation: sourceLocation)
    }
}

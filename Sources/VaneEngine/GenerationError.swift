/// Errors of running the model on tokens.
public enum GenerationError: Error, CustomStringConvertible, Sendable {
    case contextOverflow(tokens: Int, limit: Int)
    case badToken(Int, vocabSize: Int)
    case emptyPrompt

    public var description: String {
        switch self {
        case .contextOverflow(let n, let limit):
            "the sequence needs \(n) positions but the context holds \(limit); shorten the prompt or lower --max-tokens"
        case .badToken(let id, let v):
            "token id \(id) is outside the vocabulary (0..<\(v))"
        case .emptyPrompt:
            "the prompt encodes to no tokens; give some text"
        }
    }
}

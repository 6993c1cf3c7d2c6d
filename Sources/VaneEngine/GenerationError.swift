import VaneCore

/// Errors of running the model on tokens.
extension VaneError {
    static func contextOverflow(tokens n: Int, limit: Int) -> VaneError {
        VaneError("the sequence needs \(n) positions but the context holds \(limit); shorten the prompt or lower --max-tokens")
    }

    static func badToken(_ id: Int, vocabSize v: Int) -> VaneError {
        VaneError("token id \(id) is outside the vocabulary (0..<\(v))")
    }

    static let emptyPrompt = VaneError("the prompt encodes to no tokens; give some text")
}

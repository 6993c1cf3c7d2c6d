/// Why a tokenizer could not be built; each case names the file (or metadata source) and what to do.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

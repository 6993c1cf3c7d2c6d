/// Turns token ids, given one at a time, into text as soon as it is complete. A token may end in the middle of a
/// multi-byte UTF-8 character (byte-level BPE splits rare characters into byte tokens); those bytes are held back
/// until the character completes, so no partial character or U+FFFD is ever emitted for a split character. The
/// concatenation of all outputs plus `flush()` equals `tokenizer.decode(ids)`.
public struct StreamingDecoder: Sendable {
    private let tokenizer: BPETokenizer
    private let skipSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: BPETokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// The text that this token completes; "" while a character is still incomplete.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skipSpecial: skipSpecial, to: &pending)
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is held back, decoded as is (an unfinished character becomes U+FFFD).
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a character that later bytes could still complete.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        // Find the last lead byte among the final 3 (a character is at most 4 bytes).
        var i = bytes.count - 1
        while i >= 0 && i >= bytes.count - 4 && bytes[i] & 0xC0 == 0x80 { i -= 1 }
        guard i >= 0 && i >= bytes.count - 4 else { return bytes.count }
        let lead = bytes[i]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return bytes.count          // ASCII, or a byte that can never start a character
        }
        return bytes.count - i < needed ? i : bytes.count
    }
}

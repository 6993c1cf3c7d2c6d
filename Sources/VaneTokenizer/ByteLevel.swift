/// GPT-2's byte-level alphabet: every byte 0…255 is shown as one printable Unicode scalar, so that a BPE
/// vocabulary of strings can hold arbitrary bytes. Printable Latin-1 bytes map to themselves; the other 68 bytes
/// map to U+0100 onwards in byte order (openai/gpt-2 `bytes_to_unicode`).
public enum ByteLevel {
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        assert(next == 256 + 68)
        return table
    }()

    public static let scalarToByte: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { map[s] = UInt8(b) }
        return map
    }()

    /// Bytes → byte-level string.
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }

    /// Byte-level string → bytes; nil if a scalar is outside the alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            guard let b = scalarToByte[s] else { return nil }
            out.append(b)
        }
        return out
    }
}

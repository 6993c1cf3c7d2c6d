import Foundation
import Testing
import VaneModelIO
import VaneTestSupport
import VaneTokenizer

/// SentencePiece BPE (Tests/Fixtures/arch/tiny-spm/): a model trained with the sentencepiece library (byte
/// fallback, dummy prefix, extra whitespace removed), its ids for 8 strings, and two forms made from it by
/// make_forms.py: the GGUF vocabulary as llama.cpp's converter writes it, and tokenizer.json as transformers'
/// converter writes it (Metaspace, and the legacy Prepend/Replace normalizer). Exact agreement.
@Suite struct SentencePieceTests {
    struct Reference: Decodable {
        struct Entry: Decodable { var text: String; var sentencepiece_ids: [Int] }
        var strings: [Entry]
    }
    struct Forms: Decodable {
        struct Entry: Decodable {
            var text: String
            var sentencepiece_decoded: String
            var tokenizerJSON: [Int]
            var tokenizerLegacyJSON: [Int]
            enum CodingKeys: String, CodingKey {
                case text, sentencepiece_decoded
                case tokenizerJSON = "tokenizer.json", tokenizerLegacyJSON = "tokenizer.legacy.json"
            }
        }
        var strings: [Entry]
    }

    static let dir = Fixtures.url("arch/tiny-spm")
    let reference = try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
    let forms = try! JSONDecoder().decode(Forms.self, from: Data(contentsOf: dir.appendingPathComponent("forms-reference.json")))

    /// The GGUF form gives sentencepiece's ids for every string (special tokens as text, as sentencepiece reads
    /// them), and decodes them to sentencepiece's text.
    @Test func ggufMatchesSentencePiece() throws {
        let tokenizer = try BPETokenizer(gguf: GGUFFile(url: Self.dir.appendingPathComponent("tokenizer.gguf")))
        #expect(tokenizer.addsBOS)
        for (s, f) in zip(reference.strings, forms.strings) {
            #expect(tokenizer.encode(s.text, addSpecial: false, parseSpecial: false) == s.sentencepiece_ids, "\(s.text.debugDescription)")
            #expect(tokenizer.decode(s.sentencepiece_ids) == f.sentencepiece_decoded, "decode of \(s.text.debugDescription)")
            #expect(tokenizer.encode(s.text, addSpecial: true, parseSpecial: false) == [1] + s.sentencepiece_ids)
        }
    }

    /// Both tokenizer.json forms give the `tokenizers` library's ids for every string, which are sentencepiece's
    /// except where transformers' converter differs from the model: it keeps extra spaces (the model's normaliser
    /// removes them) and splits `<s>` out of text as an added token.
    @Test(arguments: ["tokenizer.json", "tokenizer.legacy.json"])
    func tokenizerJSONMatchesTokenizers(_ name: String) throws {
        let tokenizer = try BPETokenizer(tokenizerJSON: Self.dir.appendingPathComponent(name), tokenizerConfig: nil)
        var sameAsSentencePiece = 0
        for (s, f) in zip(reference.strings, forms.strings) {
            let expected = name == "tokenizer.json" ? f.tokenizerJSON : f.tokenizerLegacyJSON
            #expect(tokenizer.encode(s.text, addSpecial: false) == expected, "\(name): \(s.text.debugDescription)")
            #expect(tokenizer.decode(s.sentencepiece_ids) == f.sentencepiece_decoded, "\(name): decode of \(s.text.debugDescription)")
            if expected == s.sentencepiece_ids { sameAsSentencePiece += 1 }
        }
        #expect(sameAsSentencePiece == 6)
    }
}

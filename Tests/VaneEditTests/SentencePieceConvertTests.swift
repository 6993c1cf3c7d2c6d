import Foundation
import Testing
import VaneEdit
import VaneModelIO
import VaneTestSupport
import VaneTokenizer

/// SentencePiece tokenizers through `vane convert`, against the forms Tests/Fixtures/arch/tiny-spm/ holds, which the
/// usual converters wrote from one tokenizer.model (make_forms.py): tokenizer.gguf by llama.cpp's
/// convert_hf_to_gguf.py, tokenizer.json (Metaspace) and tokenizer.legacy.json (Prepend/Replace) by transformers'
/// LlamaConverter, with the `tokenizers` library's ids for 8 strings. Exact agreement.
@Suite struct SentencePieceConvertTests {
    static let dir = Fixtures.url("arch/tiny-spm")

    struct Forms: Decodable {
        struct Entry: Decodable {
            var text: String
            var tokenizerJSON: [Int]
            enum CodingKeys: String, CodingKey { case text, tokenizerJSON = "tokenizer.json" }
        }
        var strings: [Entry]
    }
    let forms = try! JSONDecoder().decode(Forms.self, from: Data(contentsOf: dir.appendingPathComponent("forms-reference.json")))

    static func json(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    static func same(_ a: Any?, _ b: Any?) -> Bool {
        func canonical(_ x: Any?) -> Data? {
            x.flatMap { try? JSONSerialization.data(withJSONObject: ["v": $0], options: [.sortedKeys]) }
        }
        return canonical(a) == canonical(b)
    }

    /// GGUF → tokenizer.json writes what transformers' converter wrote from the tokenizer.model: the same vocabulary,
    /// the same merges in the same order, pre-tokenizer, decoder and added tokens; it tokenizes the 8 strings as the
    /// `tokenizers` library tokenized transformers' file.
    @Test func ggufToTokenizerJSONIsTransformersForm() throws {
        let (tokenizer, config) = try TokenizerConvert.hfTokenizer(gguf: GGUFFile(url: Self.dir.appendingPathComponent("tokenizer.gguf")))
        let expected = try Self.json(Self.dir.appendingPathComponent("tokenizer.json"))
        let model = try #require(tokenizer["model"] as? [String: Any]), theirs = try #require(expected["model"] as? [String: Any])
        for key in ["type", "vocab", "unk_token", "byte_fallback", "fuse_unk", "ignore_merges"] {
            #expect(Self.same(model[key], theirs[key]), "model.\(key)")
        }
        let merges = try #require(model["merges"] as? [[String]]), theirMerges = try #require(theirs["merges"] as? [[String]])
        #expect(merges == theirMerges, "merges: first difference at \(zip(merges, theirMerges).enumerated().first { $1.0 != $1.1 }.map { "\($0): \($1.0) vs \($1.1)" } ?? "the end (\(merges.count) vs \(theirMerges.count))")")
        for key in ["normalizer", "pre_tokenizer", "decoder", "added_tokens"] {
            #expect(Self.same(tokenizer[key], expected[key]), "\(key)")
        }
        #expect(config["add_bos_token"] as? Bool == true)

        let out = try scratch("spm-json")
        defer { try? FileManager.default.removeItem(at: out) }
        let url = out.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: url)
        let converted = try BPETokenizer(tokenizerJSON: url, tokenizerConfig: nil)
        for f in forms.strings {
            #expect(converted.encode(f.text, addSpecial: false) == f.tokenizerJSON, "\(f.text.debugDescription)")
        }
    }

    /// tokenizer.json → GGUF (both spellings) gives llama.cpp's converter's pieces, token types, space prefix and
    /// special ids, and scores that make llama.cpp's rule take the merges in rank order: the GGUF tokenizes every
    /// string as llama.cpp's own GGUF of the tokenizer.model does, apart from SentencePiece's whitespace
    /// normalisation, which that file states (remove_extra_whitespaces) and tokenizer.json cannot.
    @Test(arguments: ["tokenizer.json", "tokenizer.legacy.json"])
    func tokenizerJSONToGGUFIsLlamaCppForm(_ name: String) throws {
        let folder = try scratch("spm-gguf")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: Self.dir.appendingPathComponent(name), to: folder.appendingPathComponent("tokenizer.json"))
        try JSONSerialization.data(withJSONObject: ["bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true])
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let metadata = try TokenizerConvert.ggufTokenizer(hfFolder: folder, model: "gpt2", vocabSize: 421)
        let gguf = folder.appendingPathComponent("tokenizer.gguf")
        try GGUFWriter.write(to: gguf, metadata: [("general.architecture", .string("llama"))] + metadata, entries: []) { _, _ in }
        let ours = try GGUFFile(url: gguf), theirs = try GGUFFile(url: Self.dir.appendingPathComponent("tokenizer.gguf"))
        for key in ["model", "tokens", "token_type", "add_space_prefix", "bos_token_id", "eos_token_id", "unknown_token_id", "add_bos_token"] {
            #expect(ours.metadata["tokenizer.ggml.\(key)"] == theirs.metadata["tokenizer.ggml.\(key)"], "\(name): tokenizer.ggml.\(key)")
        }
        let converted = try BPETokenizer(gguf: ours), reference = try BPETokenizer(gguf: theirs)
        var compared = 0
        for f in forms.strings where !f.text.contains("  ") && !f.text.hasPrefix(" ") && !f.text.hasSuffix(" ") {
            #expect(converted.encode(f.text, addSpecial: true, parseSpecial: false) == reference.encode(f.text, addSpecial: true, parseSpecial: false),
                    "\(name): \(f.text.debugDescription)")
            compared += 1
        }
        #expect(compared >= 5)
    }
}

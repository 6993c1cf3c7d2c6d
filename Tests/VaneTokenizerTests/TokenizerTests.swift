import Foundation
import Testing
import VaneTestSupport
@testable import VaneTokenizer

/// Exact token ids are expected everywhere (tolerance: none). Failures print the first differing position.
func idMismatch(_ actual: [Int], _ expected: [Int], _ label: String) -> String? {
    guard actual != expected else { return nil }
    let i = zip(actual, expected).prefix { $0 == $1 }.count
    let a = actual[i...].prefix(6), e = expected[i...].prefix(6)
    return "\(label): ids differ at \(i) (count \(actual.count) vs expected \(expected.count)): \(Array(a)) vs \(Array(e))"
}

struct ReferencePrompts: Decodable {
    struct Prompt: Decodable { var text: String; var ids: [Int] }
    var prompts: [Prompt]
}

/// Tests/Fixtures/tokenizer/hf-reference.json (see make_reference.py there).
struct HFReference: Decodable {
    struct Encoded: Decodable { var ids: [[Int]]; var ids_special_as_text: [[Int]] }
    var texts: [String]
    var encode: [String: Encoded]
    var pretokenize: [String: [[String]]]
    var split_on_space: [String: [[String]]]

    static func load() throws -> HFReference {
        try JSONDecoder().decode(HFReference.self, from: Data(contentsOf: Fixtures.url("tokenizer/hf-reference.json")))
    }
}

/// `tokenizer.ggml.*` values, as gguf-py dumps them (Tests/Fixtures/tokenizer/*.gguf-vocab.json).
struct GGUFVocab: Decodable {
    var tokens: [String]
    var tokenTypes: [Int]
    var merges: [String]
    var pre: String
    var bosID: Int?
    var eosID: Int?
    var addBOS: Bool?

    enum CodingKeys: String, CodingKey {
        case tokens = "tokenizer.ggml.tokens", tokenTypes = "tokenizer.ggml.token_type"
        case merges = "tokenizer.ggml.merges", pre = "tokenizer.ggml.pre", bosID = "tokenizer.ggml.bos_token_id"
        case eosID = "tokenizer.ggml.eos_token_id", addBOS = "tokenizer.ggml.add_bos_token"
    }

    func tokenizer() throws -> BPETokenizer {
        try BPETokenizer(ggufTokens: tokens, tokenTypes: tokenTypes, merges: merges, pre: pre, bosID: bosID,
                         eosID: eosID, addBOS: addBOS)
    }
}

func hfTokenizer(_ model: String) throws -> BPETokenizer {
    try BPETokenizer(tokenizerJSON: Fixtures.url("\(model)/tokenizer.json"),
                     tokenizerConfig: Fixtures.url("\(model)/tokenizer_config.json"))
}

func ggufTokenizer(_ model: String) throws -> BPETokenizer {
    let url = Fixtures.url("tokenizer/\(model).gguf-vocab.json")
    return try JSONDecoder().decode(GGUFVocab.self, from: Data(contentsOf: url)).tokenizer()
}

@Suite struct TokenizerTests {
    static let models = ["tiny-llama", "tiny-qwen2"]

    /// reference.json ids come from HF transformers; llama-tokenize on the converted GGUFs gives the same ids.
    @Test(arguments: models) func referencePrompts(model: String) throws {
        let reference = try JSONDecoder().decode(ReferencePrompts.self,
                                                 from: Data(contentsOf: Fixtures.url("\(model)/reference.json")))
        for (source, tokenizer) in [("tokenizer.json", try hfTokenizer(model)), ("GGUF", try ggufTokenizer(model))] {
            for (i, p) in reference.prompts.enumerated() {
                let ids = tokenizer.encode(p.text)
                #expect(idMismatch(ids, p.ids, "\(model) \(source) prompt \(i)") == nil)
                #expect(tokenizer.decode(ids) == p.text)
            }
        }
    }

    @Test(arguments: models) func hfTokenizersReference(model: String) throws {
        let reference = try HFReference.load()
        let expected = try #require(reference.encode[model])
        let tokenizer = try hfTokenizer(model)
        for (i, text) in reference.texts.enumerated() {
            let ids = tokenizer.encode(text)
            #expect(idMismatch(ids, expected.ids[i], "\(model) text \(i) \(text.debugDescription)") == nil)
            let literal = tokenizer.encode(text, parseSpecial: false)
            #expect(idMismatch(literal, expected.ids_special_as_text[i], "\(model) text \(i), special as text") == nil)
            #expect(tokenizer.decode(ids) == text)
            #expect(tokenizer.decode(literal) == text)
        }
    }

    /// Pieces of each pre-tokenizer against HF's pre_tokenize_str. The GGUF variants (llama.cpp's regex lists)
    /// must cut these texts exactly as HF does.
    @Test func preTokenizers() throws {
        let reference = try HFReference.load()
        let isolated = { (patterns: [PreTokenizer.Pattern]) in
            PreTokenizer(steps: patterns.map { .split($0, .isolated, invert: false) })
        }
        let cases: [(String, String, PreTokenizer)] = [
            ("gpt2", "tokenizer.json ByteLevel", isolated([.gpt2(finalWhitespace: true)])),
            ("gpt2", "GGUF gpt-2", isolated(try #require(BPETokenizer.ggufPreTokenizers["gpt-2"]).steps)),
            ("gpt2-prefix-space", "ByteLevel add_prefix_space",
             PreTokenizer(steps: [.prefixSpace, .split(.gpt2(finalWhitespace: true), .isolated, invert: false)])),
            ("smollm", "tokenizer.json Digits+ByteLevel", isolated([.digits(individual: true), .gpt2(finalWhitespace: true)])),
            ("smollm", "GGUF smollm", isolated(try #require(BPETokenizer.ggufPreTokenizers["smollm"]).steps)),
            ("qwen2", "tokenizer.json Split", isolated([.llama3(maxDigits: 1)])),
            ("qwen2", "GGUF qwen2", isolated(try #require(BPETokenizer.ggufPreTokenizers["qwen2"]).steps)),
            ("llama3", "GGUF llama-bpe", isolated(try #require(BPETokenizer.ggufPreTokenizers["llama-bpe"]).steps)),
        ]
        for (name, label, pre) in cases {
            let expected = try #require(reference.pretokenize[name])
            for (i, text) in reference.texts.enumerated() {
                let pieces = pre.split(Array(text.unicodeScalars)[...]).map { ByteLevel.encode(String(String.UnicodeScalarView($0)).utf8) }
                #expect(pieces == expected[i], "\(label), text \(i) \(text.debugDescription)")
            }
        }
    }

    /// HF Split on a literal " " with each delimiter behaviour, plain and inverted.
    @Test func splitBehaviors() throws {
        let reference = try HFReference.load()
        let names: [(String, PreTokenizer.Behavior)] = [
            ("isolated", .isolated), ("removed", .removed), ("merged_with_previous", .mergedWithPrevious),
            ("merged_with_next", .mergedWithNext), ("contiguous", .contiguous),
        ]
        for (name, behavior) in names {
            for invert in [false, true] {
                let key = name + (invert ? "-inverted" : "")
                let expected = try #require(reference.split_on_space[key])
                let pre = PreTokenizer(steps: [.split(.literal([" "]), behavior, invert: invert)])
                for (i, text) in reference.texts.enumerated() {
                    let pieces = pre.split(Array(text.unicodeScalars)[...]).map { String(String.UnicodeScalarView($0)) }
                    #expect(pieces == expected[i], "\(key), text \(i) \(text.debugDescription)")
                }
            }
        }
    }

    @Test func regexesFromTokenizerJSONAreRecognised() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("tiny-qwen2/tokenizer.json"))) as? [String: Any]
        let pre = try #require(json?["pre_tokenizer"] as? [String: Any])
        let split = try #require((pre["pretokenizers"] as? [[String: Any]])?.first)
        let regex = try #require((split["pattern"] as? [String: Any])?["Regex"] as? String)
        #expect(PreTokenizer.knownRegexes[regex] == .llama3(maxDigits: 1))
    }

    @Test func mergesAsStringsEqualMergesAsPairs() throws {
        let url = Fixtures.url("tiny-llama/tokenizer.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var model = try #require(json["model"] as? [String: Any])
        let pairs = try #require(model["merges"] as? [[String]])
        model["merges"] = pairs.map { $0.joined(separator: " ") }
        json["model"] = model
        let copy = try writeTemporary(json, name: "tokenizer.json")
        let fromStrings = try BPETokenizer(tokenizerJSON: copy, tokenizerConfig: nil)
        let fromPairs = try hfTokenizer("tiny-llama")
        for text in try HFReference.load().texts {
            #expect(fromStrings.encode(text) == fromPairs.encode(text), "\(text.debugDescription)")
        }
    }

    @Test func specialTokensAndBOS() throws {
        let tokenizer = try hfTokenizer("tiny-qwen2")
        #expect(tokenizer.bosID == 0)                  // tokenizer_config: bos_token <|endoftext|>
        #expect(tokenizer.eosID == 2)                  // eos_token <|im_end|>
        #expect(tokenizer.endOfTurnIDs == [0, 2])
        #expect(tokenizer.id(of: "<|im_start|>") == 1)
        #expect(tokenizer.piece(1) == "<|im_start|>")
        #expect(tokenizer.vocabSize == 384)
        #expect(tokenizer.decode([1, 87, 2], skipSpecial: true) == tokenizer.decode([87]))
        #expect(tokenizer.encode("Hi").first != 0)     // the post-processor adds no BOS

        let config = try writeTemporary(["bos_token": "<|endoftext|>", "add_bos_token": true], name: "tokenizer_config.json")
        let withBOS = try BPETokenizer(tokenizerJSON: Fixtures.url("tiny-qwen2/tokenizer.json"), tokenizerConfig: config)
        #expect(withBOS.encode("Hi") == [0] + tokenizer.encode("Hi"))
        #expect(withBOS.encode("Hi", addSpecial: false) == tokenizer.encode("Hi"))

        // A Llama 3 style post-processor: BOS from the template, no tokenizer_config.
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("tiny-qwen2/tokenizer.json"))) as? [String: Any])
        json["post_processor"] = ["type": "Sequence", "processors": [
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true],
            ["type": "TemplateProcessing",
             "single": [["SpecialToken": ["id": "<|im_start|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
             "pair": [], "special_tokens": ["<|im_start|>": ["id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]]]],
        ]]
        let templated = try BPETokenizer(tokenizerJSON: try writeTemporary(json, name: "tokenizer.json"), tokenizerConfig: nil)
        #expect(templated.bosID == 1)
        #expect(templated.encode("Hi") == [1] + tokenizer.encode("Hi"))

        let gguf = try ggufTokenizer("tiny-qwen2")
        #expect(gguf.bosID == 0 && gguf.eosID == 2)
        #expect(gguf.encode("Hi") == tokenizer.encode("Hi"))   // qwen2 pre: no BOS by default
    }

    @Test func streamingDecoderHoldsBackPartialCharacters() throws {
        let tokenizer = try hfTokenizer("tiny-llama")
        let text = "é 中文 emoji 🎉🙂 naïve ≤ done"
        let ids = tokenizer.encode(text)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var chunks: [String] = []
        for id in ids { chunks.append(decoder.append(id)) }
        chunks.append(decoder.flush())
        #expect(chunks.joined() == tokenizer.decode(ids))
        #expect(chunks.joined() == text)
        for chunk in chunks { #expect(!chunk.unicodeScalars.contains("\u{FFFD}"), "partial character emitted: \(chunks)") }
        // The tiny vocabulary splits these characters into single-byte tokens, so holding back was exercised.
        #expect(chunks.contains(""))
    }

    @Test func streamingDecoderCutPoints() {
        let cases: [([UInt8], Int)] = [
            ([0x41], 1), ([0xC3], 0), ([0xC3, 0xA9], 2), ([0x41, 0xE4, 0xB8], 1), ([0xE4, 0xB8, 0xAD], 3),
            ([0xF0, 0x9F, 0x8E], 0), ([0xF0, 0x9F, 0x8E, 0x89], 4), ([0x80, 0x80], 2), ([0xFF], 1),
        ]
        for (bytes, cut) in cases { #expect(StreamingDecoder.completePrefixLength(bytes) == cut, "\(bytes)") }
    }

    @Test func unsupportedInputsThrowWithTheirName() throws {
        let url = Fixtures.url("tiny-llama/tokenizer.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])

        var wordPiece = json
        wordPiece["model"] = ["type": "WordPiece", "vocab": [:]]
        let wpURL = try writeTemporary(wordPiece, name: "tokenizer.json")
        expectError(containing: ["WordPiece", wpURL.path]) { _ = try BPETokenizer(tokenizerJSON: wpURL, tokenizerConfig: nil) }

        var metaspace = json
        // SentencePiece's Metaspace is read (SentencePieceTests), but not one that splits words apart.
        metaspace["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁", "split": true]
        let msURL = try writeTemporary(metaspace, name: "tokenizer.json")
        expectError(containing: ["Metaspace", "split"]) { _ = try BPETokenizer(tokenizerJSON: msURL, tokenizerConfig: nil) }

        var regex = json
        regex["pre_tokenizer"] = ["type": "Split", "pattern": ["Regex": "\\w+"], "behavior": "Isolated"]
        let reURL = try writeTemporary(regex, name: "tokenizer.json")
        expectError(containing: ["\\\\w+"]) { _ = try BPETokenizer(tokenizerJSON: reURL, tokenizerConfig: nil) }

        let vocab = try JSONDecoder().decode(GGUFVocab.self, from: Data(contentsOf: Fixtures.url("tokenizer/tiny-llama.gguf-vocab.json")))
        expectError(containing: ["tekken", "smollm", "qwen2", "llama-bpe", "gpt-2", "default"]) {
            _ = try BPETokenizer(ggufTokens: vocab.tokens, tokenTypes: vocab.tokenTypes, merges: vocab.merges,
                                 pre: "tekken", bosID: 0, eosID: 2, addBOS: nil)
        }
        expectError(containing: ["merge #0", "Ġ"]) {
            _ = try BPETokenizer(ggufTokens: Array(vocab.tokens.prefix(200)), tokenTypes: Array(vocab.tokenTypes.prefix(200)),
                                 merges: vocab.merges, pre: "smollm", bosID: 0, eosID: 2, addBOS: nil)
        }
    }

    /// Ids size the token table, so a huge, negative or far-off id is refused with the file, key and value
    /// before anything is allocated (these crashed or aborted before).
    @Test func outOfRangeTokenIDsThrow() throws {
        let url = Fixtures.url("tiny-llama/tokenizer.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let model = try #require(json["model"] as? [String: Any])
        let added = json["added_tokens"] as? [[String: Any]] ?? []

        var hugeVocab = json, m = model
        m["vocab"] = (m["vocab"] as! [String: Int]).merging(["huge": 1 << 62]) { $1 }
        hugeVocab["model"] = m
        let hugeURL = try writeTemporary(hugeVocab, name: "tokenizer.json")
        expectError(containing: [hugeURL.path, "model.vocab[\"huge\"]", "\(1 << 62)"]) {
            _ = try BPETokenizer(tokenizerJSON: hugeURL, tokenizerConfig: nil)
        }
        for id in [1 << 40, -1] {
            var bad = json
            bad["added_tokens"] = added + [["id": id, "content": "<bad>", "special": true]]
            let badURL = try writeTemporary(bad, name: "tokenizer.json")
            expectError(containing: [badURL.path, "added_tokens[\(added.count)]", "<bad>", "\(id)"]) {
                _ = try BPETokenizer(tokenizerJSON: badURL, tokenizerConfig: nil)
            }
        }

        let vocab = try JSONDecoder().decode(GGUFVocab.self, from: Data(contentsOf: Fixtures.url("tokenizer/tiny-llama.gguf-vocab.json")))
        expectError(containing: ["m.gguf", "tokenizer.ggml.eot_token_id", "\(vocab.tokens.count)"]) {
            _ = try BPETokenizer(ggufTokens: vocab.tokens, tokenTypes: vocab.tokenTypes, merges: vocab.merges,
                                 pre: vocab.pre, bosID: vocab.bosID, eosID: vocab.eosID, addBOS: vocab.addBOS,
                                 eotID: vocab.tokens.count, file: "m.gguf")
        }
    }

    /// A long text encodes quickly and decodes back; the bound is loose for debug builds.
    @Test func longText() throws {
        let tokenizer = try hfTokenizer("tiny-qwen2")
        let text = String(repeating: try HFReference.load().texts.joined(separator: " "), count: 15)
        let start = Date()
        let ids = tokenizer.encode(text, parseSpecial: false)
        let seconds = Date().timeIntervalSince(start)
        #expect(tokenizer.decode(ids) == text)
        #expect(seconds < 2, "\(text.utf8.count) bytes took \(seconds) s")
    }
}

func writeTemporary(_ json: Any, name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vane-tokenizer-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try JSONSerialization.data(withJSONObject: json).write(to: url)
    return url
}

func expectError(containing parts: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error mentioning \(parts)", sourceLocation: sourceLocation)
    } catch {
        let message = "\(error)"
        for part in parts where !message.contains(part) {
            Issue.record("error does not mention \(part.debugDescription): \(message)", sourceLocation: sourceLocation)
        }
    }
}

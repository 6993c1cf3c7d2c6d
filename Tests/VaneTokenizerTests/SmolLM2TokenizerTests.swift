import Foundation
import Testing
import VaneModelIO
import VaneTestSupport
import VaneTokenizer

/// llama.cpp's ids for SmolLM2-135M-Instruct (Tests/Fixtures/smollm2/tokenize_ref.json: special tokens parsed, no
/// BOS since the GGUF says add_bos_token = false) against the tokenizer read from the model's tokenizer.ggml.*.
@Suite(.enabled(if: Fixtures.smollm2 != nil, "SmolLM2 not in the cache: run `vane fetch smollm2`"))
struct SmolLM2TokenizerTests {
    struct Reference: Decodable {
        struct Case: Decodable { var text: String; var ids: [Int] }
        var cases: [Case]
    }

    @Test func matchesLlamaCpp() throws {
        let tokenizer = try BPETokenizer(files: ModelFiles(url: try #require(Fixtures.smollm2)))
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("smollm2/tokenize_ref.json")))
        #expect(tokenizer.vocabSize == 49152)
        #expect(tokenizer.bosID == 1 && tokenizer.eosID == 2 && !tokenizer.addsBOS)
        for c in reference.cases {
            let ids = tokenizer.encode(c.text)
            #expect(ids == c.ids, "ids of \(c.text.debugDescription)")
            #expect(tokenizer.decode(ids) == c.text, "decode of \(c.text.debugDescription)")
        }
    }
}

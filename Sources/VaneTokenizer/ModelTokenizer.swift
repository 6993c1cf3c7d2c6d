import Foundation
import VaneModelIO

extension BPETokenizer {
    /// The tokenizer a model ships: GGUF `tokenizer.ggml.*` metadata, or an HF folder's tokenizer.json (with
    /// tokenizer_config.json when present).
    public convenience init(files: ModelFiles) throws {
        switch files.source {
        case .gguf(let file):
            try self.init(gguf: file)
        case .hfFolder(let dir, _):
            let config = dir.appendingPathComponent("tokenizer_config.json")
            try self.init(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"),
                          tokenizerConfig: FileManager.default.fileExists(atPath: config.path) ? config : nil)
        }
    }
}

extension BPETokenizer {
    /// The tokenizer of a GGUF file's `tokenizer.ggml.*` metadata: byte-level BPE ("gpt2") or SentencePiece
    /// BPE ("llama").
    public convenience init(gguf file: GGUFFile) throws {
        let m = file.metadata
        let path = file.url.path
        guard let model = m["tokenizer.ggml.model"]?.string else {
            throw VaneError("\(path): metadata key tokenizer.ggml.model is missing (no tokenizer in this GGUF)")
        }
        guard model == "gpt2" || model == "llama" else {
            throw VaneError("\(path): tokenizer.ggml.model \"\(model)\" is not supported (Vane reads byte-level BPE, \"gpt2\", and SentencePiece BPE, \"llama\")")
        }
        guard let tokens = m["tokenizer.ggml.tokens"]?.stringArray else {
            throw VaneError("\(path): metadata key tokenizer.ggml.tokens is missing")
        }
        if model == "llama" {
            guard let scores = m["tokenizer.ggml.scores"]?.floatArray else {
                throw VaneError("\(path): metadata key tokenizer.ggml.scores is missing (a SentencePiece vocabulary needs it)")
            }
            try self.init(ggufSentencePiece: tokens, scores: scores,
                          tokenTypes: m["tokenizer.ggml.token_type"]?.intArray ?? [],
                          addSpacePrefix: m["tokenizer.ggml.add_space_prefix"]?.bool,
                          removeExtraWhitespaces: m["tokenizer.ggml.remove_extra_whitespaces"]?.bool,
                          bosID: m["tokenizer.ggml.bos_token_id"]?.int,
                          eosID: m["tokenizer.ggml.eos_token_id"]?.int,
                          unkID: m["tokenizer.ggml.unknown_token_id"]?.int,
                          addBOS: m["tokenizer.ggml.add_bos_token"]?.bool,
                          eotID: m["tokenizer.ggml.eot_token_id"]?.int, file: path)
            return
        }
        try self.init(ggufTokens: tokens,
                      tokenTypes: m["tokenizer.ggml.token_type"]?.intArray ?? [Int](repeating: 1, count: tokens.count),
                      merges: m["tokenizer.ggml.merges"]?.stringArray ?? [],
                      pre: m["tokenizer.ggml.pre"]?.string ?? "default",
                      bosID: m["tokenizer.ggml.bos_token_id"]?.int,
                      eosID: m["tokenizer.ggml.eos_token_id"]?.int,
                      addBOS: m["tokenizer.ggml.add_bos_token"]?.bool,
                      eotID: m["tokenizer.ggml.eot_token_id"]?.int, file: path)
    }
}

extension ChatTemplate {
    /// The chat template a model ships, nil when it has none: GGUF `tokenizer.chat_template`, or an HF folder's
    /// chat_template.jinja / tokenizer_config.json `chat_template`.
    public static func load(files: ModelFiles) throws -> ChatTemplate? {
        switch files.source {
        case .gguf(let file):
            return try file.metadata["tokenizer.chat_template"]?.string.map {
                try ChatTemplate(source: $0, origin: "\(file.url.path) tokenizer.chat_template")
            }
        case .hfFolder(let dir, _):
            return try ChatTemplate.load(modelFolder: dir)
        }
    }
}

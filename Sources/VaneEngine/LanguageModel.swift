import Foundation
import VaneModelIO
import VaneTokenizer

/// A model ready to use: the transformer, its tokenizer and its chat template, all from one file or folder.
public final class LanguageModel {
    public let transformer: Transformer
    public let tokenizer: BPETokenizer
    public let chatTemplate: ChatTemplate?
    /// How sampling (Generator) multiplies: `.fast` quantizes single-token activations to 8 bits as llama.cpp
    /// does. Traces, extraction and attribution always run `.exact`, whatever this says.
    public let decoding: Precision

    public var files: ModelFiles { transformer.files }
    public var config: ModelConfig { transformer.config }

    /// Opens MODEL as the CLI names it: a .gguf path, an HF folder, or a fetched model's name (`smollm2`, …).
    public convenience init(_ spec: String, decoding: Precision = .exact) throws {
        try self.init(url: DefaultModel.resolve(spec), decoding: decoding)
    }

    public init(url: URL, decoding: Precision = .exact) throws {
        self.decoding = decoding
        let files = try ModelFiles(url: url)
        transformer = try Transformer(files: files)
        tokenizer = try BPETokenizer(files: files)
        chatTemplate = try ChatTemplate.load(files: files)
        guard tokenizer.vocabSize <= files.config.vocabSize else {
            throw VaneError("\(url.path): the tokenizer has \(tokenizer.vocabSize) tokens but the embedding only \(files.config.vocabSize) rows")
        }
    }

    /// Token ids of plain text, as the model's tokenizer encodes it without a chat template (BOS per the file).
    public func encode(_ text: String) -> [Int] { tokenizer.encode(text) }

    /// The model's chat template applied to a conversation, with the assistant turn opened. `enableThinking`,
    /// when given, is the template's `enable_thinking` (Qwen3: false closes an empty <think> block, so the model
    /// answers without reasoning); nil leaves it undefined, the template's default.
    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool = true,
                           enableThinking: Bool? = nil) throws -> String {
        guard let chatTemplate else {
            throw VaneError("\(files.url.path) has no chat template", hint: "use --prompt for plain text")
        }
        return try chatTemplate.render(messages: messages, addGenerationPrompt: addGenerationPrompt,
                                       bosToken: tokenizer.bosID.map { tokenizer.piece($0) } ?? "",
                                       eosToken: tokenizer.eosID.map { tokenizer.piece($0) } ?? "",
                                       extra: enableThinking.map { ["enable_thinking": .bool($0)] } ?? [:])
    }

    /// Ids of a rendered chat. The template already wrote any BOS, so none is added again.
    public func encodeChat(_ messages: [ChatMessage], addGenerationPrompt: Bool = true,
                           enableThinking: Bool? = nil) throws -> [Int] {
        tokenizer.encode(try renderChat(messages, addGenerationPrompt: addGenerationPrompt, enableThinking: enableThinking),
                         addSpecial: false)
    }
}

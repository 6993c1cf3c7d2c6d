import Foundation
import VaneEngine
import VaneSteer
import VaneTokenizer

/// A request of POST /v1/chat/completions or /v1/completions, read and checked: its prompt as token ids, its
/// sampling and steering. The fields and their defaults are OpenAI's (temperature 1, top_p 1), plus llama.cpp's
/// top_k and min_p (0: off) and Vane's `steering`; anything else is refused rather than ignored.
struct CompletionRequest {
    enum Kind { case chat, text }

    let kind: Kind
    let model: String
    let promptTokens: [Int]
    let options: GenerationOptions
    let steering: Steering?
    let stream: Bool
    let includeUsage: Bool

    static let sampling: Set<String> = ["model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k",
                                        "min_p", "seed", "stop", "stream", "stream_options", "n", "user", "steering",
                                        "frequency_penalty", "presence_penalty", "logprobs"]

    init(kind: Kind, body fields: Fields, server: ServerContext) throws(APIError) {
        self.kind = kind
        let model = server.model
        switch kind {
        case .chat:
            try fields.refuseUnknown(Self.sampling.union(["messages", "chat_template_kwargs"]))
            promptTokens = try Self.chatTokens(fields, model: model)
        case .text:
            try fields.refuseUnknown(Self.sampling.union(["prompt"]))
            promptTokens = try Self.textTokens(fields, model: model)
        }
        self.model = try server.checkModel(fields)
        let context = model.config.maxPositionEmbeddings
        guard promptTokens.count < context else {
            throw APIError.invalid("the prompt has \(promptTokens.count) tokens; this model's context is \(context)",
                                   param: kind == .chat ? "messages" : "prompt")
        }
        let limit = server.maxTokensLimit
        let maxTokens: Int
        let older = try fields.integer("max_tokens", in: 1...Int(Int32.max))
        if let asked = try fields.integer("max_completion_tokens", in: 1...Int(Int32.max)) ?? older {
            guard asked <= limit else {
                throw APIError.invalid("max_tokens is \(asked); this server generates at most \(limit) (--max-tokens-limit)",
                                       param: "max_tokens")
            }
            guard promptTokens.count + asked <= context else {
                throw APIError.invalid("this model's context is \(context) tokens, but \(promptTokens.count + asked) were "
                    + "asked for (\(promptTokens.count) in the prompt, \(asked) to generate)", param: "max_tokens")
            }
            maxTokens = asked
        } else {
            maxTokens = min(limit, context - promptTokens.count)
        }
        guard try fields.integer("n", in: 1...Int(Int32.max)) ?? 1 == 1 else {
            throw APIError.invalid("n must be 1: send one request per completion (they share the batch)", param: "n")
        }
        for key in ["frequency_penalty", "presence_penalty"] where try fields.number(key, in: -2...2) ?? 0 != 0 {
            throw APIError.invalid("\(key) is not supported; leave it out or 0", param: key)
        }
        if try fields.bool("logprobs") == true { throw APIError.invalid("logprobs are not supported", param: "logprobs") }
        let sampling = SamplingOptions(temperature: Float(try fields.number("temperature", in: 0...2) ?? 1),
                                       topK: try fields.integer("top_k", in: 0...Int(Int32.max)) ?? 0,
                                       topP: Float(try fields.number("top_p", in: 0...1) ?? 1),
                                       minP: Float(try fields.number("min_p", in: 0...1) ?? 0),
                                       seed: UInt64(try fields.integer("seed", in: 0...(1 << 53)) ?? Int.random(in: 0...(1 << 53))))
        guard sampling.topP > 0 else { throw APIError.invalid("top_p must be greater than 0", param: "top_p") }
        guard sampling.minP < 1 else { throw APIError.invalid("min_p must be less than 1", param: "min_p") }
        let stop = try fields.strings("stop") ?? []
        guard stop.count <= 16, !stop.contains("") else {
            throw APIError.invalid("stop takes at most 16 non-empty strings", param: "stop")
        }
        options = GenerationOptions(maxTokens: maxTokens, sampling: sampling, stopStrings: stop)
        stream = try fields.bool("stream") ?? false
        if let s = try fields.object("stream_options") {
            try s.refuseUnknown(["include_usage"])
            guard stream else { throw APIError.invalid("stream_options needs stream: true", param: "stream_options") }
            includeUsage = try s.bool("include_usage") ?? false
        } else {
            includeUsage = false
        }
        _ = try fields.string("user")
        steering = try server.vectors.steering(fields.objects("steering") ?? [], modelLayers: model.config.numHiddenLayers)
    }

    /// `messages` through the model's chat template, as `vane generate --chat` renders its one user turn.
    private static func chatTokens(_ fields: Fields, model: LanguageModel) throws(APIError) -> [Int] {
        guard let entries = try fields.objects("messages"), !entries.isEmpty else {
            throw APIError.invalid("messages is missing or empty", param: "messages")
        }
        let messages = try entries.map { m throws(APIError) -> ChatMessage in
            try m.refuseUnknown(["role", "content", "name"])
            guard let role = try m.string("role"), ["system", "user", "assistant", "developer"].contains(role) else {
                throw APIError.invalid("\(m.param("role")) must be system, developer, user or assistant", param: m.param("role"))
            }
            _ = try m.string("name")
            return ChatMessage(role: role == "developer" ? "system" : role, content: try content(m))
        }
        var thinking: Bool?
        if let kwargs = try fields.object("chat_template_kwargs") {
            try kwargs.refuseUnknown(["enable_thinking"])
            thinking = try kwargs.bool("enable_thinking")
        }
        do {
            return try model.encodeChat(messages, enableThinking: thinking)
        } catch {
            throw APIError.invalid("the chat template cannot render these messages: \(error)", param: "messages")
        }
    }

    /// A message's text: a string, or OpenAI's list of parts of which only text parts are accepted.
    private static func content(_ m: Fields) throws(APIError) -> String {
        switch m.values["content"] {
        case .string(let s)?: return s
        case nil, .null?: return ""
        case .array?:
            return try (m.objects("content") ?? []).map { part throws(APIError) -> String in
                guard try part.string("type") == "text", let text = try part.string("text") else {
                    throw APIError.invalid("\(part.path): only text parts ({\"type\": \"text\", \"text\": …}) are supported",
                                           param: part.path)
                }
                return text
            }.joined()
        case let v?:
            throw APIError.invalid("\(m.param("content")) must be a string or a list of text parts, not \(v.kind)",
                                   param: m.param("content"))
        }
    }

    /// `prompt`: text encoded as `vane generate --prompt` encodes it, or a list of token ids.
    private static func textTokens(_ fields: Fields, model: LanguageModel) throws(APIError) -> [Int] {
        let tokens: [Int]
        switch fields.values["prompt"] {
        case .string(let s)?: tokens = model.encode(s)
        case .array(let a)? where a.count == 1:
            guard case .string(let s) = a[0] else { fallthrough }
            tokens = model.encode(s)
        case .array(let a)?:
            let vocab = model.config.vocabSize
            tokens = try a.enumerated().map { (i, v) throws(APIError) -> Int in
                guard case .number(let x) = v, x == x.rounded(), x >= 0, x < Double(vocab) else {
                    throw APIError.invalid("prompt must be a string or a list of token ids 0…\(vocab - 1); prompt[\(i)] "
                        + "is not", param: "prompt")
                }
                return Int(x)
            }
        case nil, .null?: throw APIError.invalid("prompt is missing", param: "prompt")
        case let v?: throw APIError.invalid("prompt must be a string or a list of token ids, not \(v.kind)", param: "prompt")
        }
        guard !tokens.isEmpty else { throw APIError.invalid("the prompt encodes to no tokens", param: "prompt") }
        return tokens
    }
}

/// The JSON of completions and their streamed chunks, as OpenAI writes them.
enum CompletionJSON {
    static func finishReason(_ r: GenerationResult.StopReason) -> String {
        r == .maxTokens ? "length" : "stop"
    }

    static func usage(prompt: Int, completion: Int) -> [String: Any] {
        ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion]
    }

    static func object(_ kind: CompletionRequest.Kind, chunk: Bool) -> String {
        switch kind {
        case .chat: chunk ? "chat.completion.chunk" : "chat.completion"
        case .text: "text_completion"
        }
    }

    /// A whole answer.
    static func completion(_ r: CompletionRequest, id: String, created: Int, result: GenerationResult) -> [String: Any] {
        let choice: [String: Any] = switch r.kind {
        case .chat: ["index": 0, "message": ["role": "assistant", "content": result.text],
                     "logprobs": NSNull(), "finish_reason": finishReason(result.stopReason)]
        case .text: ["index": 0, "text": result.text, "logprobs": NSNull(), "finish_reason": finishReason(result.stopReason)]
        }
        return ["id": id, "object": object(r.kind, chunk: false), "created": created, "model": r.model,
                "choices": [choice], "usage": usage(prompt: result.promptTokens.count, completion: result.tokens.count)]
    }

    /// One streamed chunk: a piece of text, the opening role (chat), or the finish reason.
    static func chunk(_ r: CompletionRequest, id: String, created: Int, text: String?, role: Bool = false,
                      finish: GenerationResult.StopReason? = nil) -> [String: Any] {
        var choice: [String: Any] = ["index": 0, "logprobs": NSNull(), "finish_reason": finish.map(finishReason) ?? NSNull()]
        switch r.kind {
        case .chat:
            var delta: [String: Any] = [:]
            if role { delta["role"] = "assistant" }
            if let text { delta["content"] = text }
            choice["delta"] = delta
        case .text:
            choice["text"] = text ?? ""
        }
        return ["id": id, "object": object(r.kind, chunk: true), "created": created, "model": r.model, "choices": [choice]]
    }

    /// The last chunk when `stream_options.include_usage` is set: no choices, the usage.
    static func usageChunk(_ r: CompletionRequest, id: String, created: Int, result: GenerationResult) -> [String: Any] {
        ["id": id, "object": object(r.kind, chunk: true), "created": created, "model": r.model, "choices": [Any](),
         "usage": usage(prompt: result.promptTokens.count, completion: result.tokens.count)]
    }
}

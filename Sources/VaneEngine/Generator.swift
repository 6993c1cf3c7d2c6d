import Foundation
import VaneCore
import VaneTensor
import VaneTokenizer

public struct GenerationOptions: Sendable {
    public var maxTokens: Int = 256
    public var sampling = SamplingOptions()
    /// Generation stops before the first occurrence of any of these strings.
    public var stopStrings: [String] = []
    /// Stop at EOS and end-of-turn tokens (`<|im_end|>`, `<|eot_id|>`, …).
    public var stopAtEndOfTurn = true

    public init(maxTokens: Int = 256, sampling: SamplingOptions = SamplingOptions(), stopStrings: [String] = [],
                stopAtEndOfTurn: Bool = true) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.stopAtEndOfTurn = stopAtEndOfTurn
    }
}

public struct GenerationResult: Sendable {
    public enum StopReason: String, Sendable { case endOfTurn, stopString, maxTokens }
    public var promptTokens: [Int]
    /// Generated ids, the stopping end-of-turn token excluded.
    public var tokens: [Int]
    public var text: String
    public var stopReason: StopReason
    public var promptSeconds: Double
    public var generationSeconds: Double
}

/// Samples a continuation of a prompt, streaming text as complete UTF-8 that can no longer turn into a stop string.
public struct Generator {
    public let model: LanguageModel

    public init(_ model: LanguageModel) { self.model = model }

    public func generate(promptTokens: [Int], options: GenerationOptions, hooks: Hooks? = nil,
                         onToken: (Int) -> Void = { _ in }, onText: (String) -> Void = { _ in }) throws -> GenerationResult {
        guard !promptTokens.isEmpty else { throw VaneError.emptyPrompt }
        let transformer = model.transformer
        let limit = transformer.config.maxPositionEmbeddings
        guard promptTokens.count < limit else {
            throw VaneError.contextOverflow(tokens: promptTokens.count, limit: limit)
        }
        // min first: maxTokens may be as large as Int allows.
        let cache = transformer.makeCache(capacity: promptTokens.count + min(limit - promptTokens.count, max(options.maxTokens, 0)))
        var sampler = Sampler(options.sampling)
        let stops = model.tokenizer.endOfTurnIDs
        var decoder = StreamingDecoder(tokenizer: model.tokenizer)
        var text = "", emitted = 0
        var tokens: [Int] = []
        var reason = GenerationResult.StopReason.maxTokens
        let holdBack = max(0, (options.stopStrings.map(\.count).max() ?? 0) - 1)

        let start = Date()
        var logits = try transformer.forward(promptTokens, cache: cache, hooks: hooks, logits: .last,
                                             precision: model.decoding).data
        let promptSeconds = Date().timeIntervalSince(start)

        while tokens.count < options.maxTokens {
            let next = sampler.sample(logits)
            if options.stopAtEndOfTurn && stops.contains(next) {
                reason = .endOfTurn
                break
            }
            tokens.append(next)
            onToken(next)
            text += decoder.append(next)
            if let cut = options.stopStrings.compactMap({ text.range(of: $0)?.lowerBound }).min() {
                text = String(text[..<cut])
                reason = .stopString
                break
            }
            let safe = text.count - holdBack
            if safe > emitted {
                onText(String(text.dropFirst(emitted).prefix(safe - emitted)))
                emitted = safe
            }
            if tokens.count == options.maxTokens || cache.length >= cache.capacity { break }
            logits = try transformer.forward([next], cache: cache, hooks: hooks, logits: .last,
                                             precision: model.decoding).data
        }
        if reason != .stopString { text += decoder.flush() }
        if text.count > emitted { onText(String(text.dropFirst(emitted))) }
        return GenerationResult(promptTokens: promptTokens, tokens: tokens, text: text, stopReason: reason,
                                promptSeconds: promptSeconds,
                                generationSeconds: Date().timeIntervalSince(start) - promptSeconds)
    }
}

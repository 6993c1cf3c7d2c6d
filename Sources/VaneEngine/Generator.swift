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
    /// Budget forcing for models that think between markers.
    public var thinking: ThinkingControl?

    public init(maxTokens: Int = 256, sampling: SamplingOptions = SamplingOptions(), stopStrings: [String] = [],
                stopAtEndOfTurn: Bool = true) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.stopAtEndOfTurn = stopAtEndOfTurn
    }
}

/// Budget forcing (s1's baseline for reasoning length): a model thinks between `start` and `end`; after `budget`
/// thinking tokens the end marker is written for it, and an end marker it writes itself is replaced by
/// `extendText` (e.g. "Wait"), at most `extendTimes` times. The thinking span is open at the start when the prompt
/// ends inside one (a chat template that opens `<think>`). Forced tokens are fed like sampled ones and stay in the
/// output; the token counts include them.
public struct ThinkingControl: Sendable, Equatable {
    public var start: String
    public var end: String
    public var budget: Int?
    public var extendTimes: Int
    public var extendText: String

    public init(start: String = "<think>", end: String = "</think>", budget: Int? = nil, extendTimes: Int = 0,
                extendText: String = "Wait") {
        (self.start, self.end, self.budget, self.extendTimes, self.extendText) = (start, end, budget, extendTimes, extendText)
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
        try withoutActuallyEscaping(onToken) { onToken in
            try withoutActuallyEscaping(onText) { onText in
                let batch = BatchGenerator(model)
                let id = try batch.add(promptTokens: promptTokens, options: options, hooks: hooks, onToken: onToken,
                                       onText: onText)
                var result: GenerationResult?
                while result == nil { result = try batch.step()[id] }
                return result!
            }
        }
    }

    /// One continuation per request, generated `batchSize` sequences at a time: a finished sequence's place goes
    /// to the next request at the following step. Results come in request order; each is what `generate` gives
    /// that request alone (bit for bit with `.exact` decoding). `onFinish` hears (request index, result) as each ends.
    public func generate(_ requests: [BatchGenerator.Request], batchSize: Int,
                         onFinish: (Int, GenerationResult) throws -> Void = { _, _ in }) throws -> [GenerationResult] {
        precondition(batchSize >= 1, "batch size must be at least 1")
        let batch = BatchGenerator(model)
        var results = [GenerationResult?](repeating: nil, count: requests.count)
        var request: [BatchGenerator.ID: Int] = [:]
        var next = 0
        while next < requests.count || !batch.isEmpty {
            while next < requests.count, batch.count < batchSize {
                let r = requests[next]
                let id = try batch.add(promptTokens: r.promptTokens, options: r.options, hooks: r.hooks)
                request[id] = next
                next += 1
            }
            for (id, result) in try batch.step().sorted(by: { $0.key < $1.key }) {
                let i = request.removeValue(forKey: id)!
                results[i] = result
                try onFinish(i, result)
            }
        }
        return results.map { $0! }
    }
}

/// Generates many sequences together: each `step()` runs one batched forward call that advances every active
/// sequence by one token (or, for one just added, through its prompt), with its own cache, hooks, sampler and stop
/// rules. Sequences may be added between steps and leave the batch when they finish, so a server can drive it
/// step by step (continuous batching).
public final class BatchGenerator {
    public typealias ID = Int

    /// A prompt to continue, with its options and hooks.
    public struct Request {
        public var promptTokens: [Int]
        public var options: GenerationOptions
        public var hooks: Hooks?

        public init(promptTokens: [Int], options: GenerationOptions, hooks: Hooks? = nil) {
            self.promptTokens = promptTokens
            self.options = options
            self.hooks = hooks
        }
    }

    public let model: LanguageModel
    private var active: [Sequence] = []
    private var nextID = 0

    public init(_ model: LanguageModel) { self.model = model }

    /// Sequences not yet finished.
    public var count: Int { active.count }
    public var isEmpty: Bool { active.isEmpty }

    /// Queues a prompt; it joins the batch at the next `step()`. Its cache holds the prompt and at most
    /// `options.maxTokens` more positions (less where the model's context ends). `onToken` hears each sampled id,
    /// `onText` the text as it becomes final.
    public func add(promptTokens: [Int], options: GenerationOptions, hooks: Hooks? = nil,
                    onToken: @escaping (Int) -> Void = { _ in },
                    onText: @escaping (String) -> Void = { _ in }) throws -> ID {
        guard !promptTokens.isEmpty else { throw VaneError.emptyPrompt }
        if let thinking = options.thinking, thinking.extendTimes > 0,
           model.tokenizer.encode(thinking.end, addSpecial: false).count != 1 {
            throw VaneError("extending the thinking needs an end marker that is one token; \"\(thinking.end)\" is "
                + "\(model.tokenizer.encode(thinking.end, addSpecial: false).count) tokens for this tokenizer",
                hint: "name the model's own marker (--think-markers START,END)")
        }
        let limit = model.config.maxPositionEmbeddings
        guard promptTokens.count < limit else {
            throw VaneError.contextOverflow(tokens: promptTokens.count, limit: limit)
        }
        if let bad = promptTokens.first(where: { $0 < 0 || $0 >= model.config.vocabSize }) {
            throw VaneError.badToken(bad, vocabSize: model.config.vocabSize)
        }
        // min first: maxTokens may be as large as Int allows.
        let cache = model.transformer.makeCache(capacity: promptTokens.count + min(limit - promptTokens.count, max(options.maxTokens, 0)))
        let id = nextID
        nextID += 1
        active.append(Sequence(id: id, prompt: promptTokens, options: options, hooks: hooks, cache: cache,
                               tokenizer: model.tokenizer, onToken: onToken, onText: onText))
        return id
    }

    /// Drops a sequence before it finishes (its client went away); it frees its cache and produces no result.
    public func cancel(_ id: ID) {
        active.removeAll { $0.id == id }
    }

    /// Runs one forward call over all active sequences, samples each one's next token, and returns the sequences
    /// that finished in this step (they have left the batch).
    public func step() throws -> [ID: GenerationResult] {
        guard !active.isEmpty else { return [:] }
        let start = Date()
        let logits = try model.transformer.forward(active.map { Transformer.BatchInput($0.pending, cache: $0.cache, hooks: $0.hooks) },
                                                   logits: .last, precision: model.decoding)
        let seconds = Date().timeIntervalSince(start)
        var finished: [ID: GenerationResult] = [:]
        for (s, l) in zip(active, logits) {
            if s.started == nil {
                s.started = start
                s.promptSeconds = seconds
            }
            if s.consume(l.data, stops: model.tokenizer.endOfTurnIDs) { finished[s.id] = s.result() }
        }
        active.removeAll { finished[$0.id] != nil }
        return finished
    }

    /// One sequence's state between steps.
    private final class Sequence {
        let id: ID
        let prompt: [Int]
        let options: GenerationOptions
        let hooks: Hooks?
        let cache: KVCache
        let onToken: (Int) -> Void
        let onText: (String) -> Void
        let holdBack: Int
        var sampler: Sampler
        var decoder: StreamingDecoder
        /// Tokens the next forward call runs: the prompt, then each sampled token.
        var pending: [Int]
        var tokens: [Int] = []
        var text = ""
        var emitted = 0
        var reason = GenerationResult.StopReason.maxTokens
        var started: Date?
        var promptSeconds = 0.0
        // Budget forcing (options.thinking): whether the text is inside a thinking span, its tokens so far, the
        // extensions made, and tokens to feed instead of sampling.
        var thinking = false
        var thoughts = 0
        var extensions = 0
        var forced: [Int] = []
        let endIDs: [Int]
        let extendIDs: [Int]

        init(id: ID, prompt: [Int], options: GenerationOptions, hooks: Hooks?, cache: KVCache, tokenizer: BPETokenizer,
             onToken: @escaping (Int) -> Void, onText: @escaping (String) -> Void) {
            self.id = id
            self.prompt = prompt
            self.options = options
            self.hooks = hooks
            self.cache = cache
            self.onToken = onToken
            self.onText = onText
            holdBack = max(0, (options.stopStrings.map(\.count).max() ?? 0) - 1)
            sampler = Sampler(options.sampling)
            decoder = StreamingDecoder(tokenizer: tokenizer)
            pending = prompt
            if let control = options.thinking {
                let text = tokenizer.decode(prompt)
                let opened = text.range(of: control.start, options: .backwards)
                let closed = text.range(of: control.end, options: .backwards)
                thinking = opened != nil && (closed == nil || closed!.lowerBound < opened!.lowerBound)
                endIDs = tokenizer.encode(control.end, addSpecial: false)
                extendIDs = tokenizer.encode(control.extendText, addSpecial: false)
            } else {
                (endIDs, extendIDs) = ([], [])
            }
        }

        /// The next token: a forced one, else a sample, which budget forcing may turn into forced tokens.
        func choose(_ logits: [Float]) -> Int {
            if !forced.isEmpty { return forced.removeFirst() }
            let sampled = sampler.sample(logits)
            guard let control = options.thinking, thinking else { return sampled }
            if endIDs == [sampled], extensions < control.extendTimes, !extendIDs.isEmpty {
                extensions += 1
                forced = extendIDs
            } else if let budget = control.budget, thoughts >= budget, !endIDs.isEmpty {
                forced = endIDs
            } else {
                return sampled
            }
            return forced.removeFirst()
        }

        /// Samples from the logits of the last step; true when the sequence is done.
        func consume(_ logits: [Float], stops: Set<Int>) -> Bool {
            guard tokens.count < options.maxTokens else { return true }
            let next = choose(logits)
            if options.stopAtEndOfTurn && stops.contains(next) {
                reason = .endOfTurn
                return true
            }
            tokens.append(next)
            onToken(next)
            text += decoder.append(next)
            if let control = options.thinking {
                if thinking {
                    if text.hasSuffix(control.end) { thinking = false } else if forced.isEmpty || !endIDs.contains(next) { thoughts += 1 }
                } else if text.hasSuffix(control.start) {
                    thinking = true
                    thoughts = 0
                }
            }
            if let cut = options.stopStrings.compactMap({ text.range(of: $0)?.lowerBound }).min() {
                text = String(text[..<cut])
                reason = .stopString
                return true
            }
            let safe = text.count - holdBack
            if safe > emitted {
                onText(String(text.dropFirst(emitted).prefix(safe - emitted)))
                emitted = safe
            }
            if tokens.count == options.maxTokens || cache.length >= cache.capacity { return true }
            pending = [next]
            return false
        }

        func result() -> GenerationResult {
            if reason != .stopString { text += decoder.flush() }
            if text.count > emitted { onText(String(text.dropFirst(emitted))) }
            emitted = text.count
            return GenerationResult(promptTokens: prompt, tokens: tokens, text: text, stopReason: reason,
                                    promptSeconds: promptSeconds,
                                    generationSeconds: Date().timeIntervalSince(started ?? Date()) - promptSeconds)
        }
    }
}

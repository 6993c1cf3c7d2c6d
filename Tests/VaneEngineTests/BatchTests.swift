import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Batched decoding: one forward call over several sequences gives each sequence the logits its own call gives,
/// bit for bit (tolerance 0), in both precisions, through prompts of different lengths, sequences joining and
/// leaving, a multi-token step among single-token ones, and per-sequence hooks (a different steering scale on each
/// row, attn.hook_result on one); and the batched generator's greedy tokens match the independent references.
@Suite struct BatchTests {
    struct TinyReference: Decodable {
        struct Prompt: Decodable {
            var ids: [Int]
            var greedy_next_12: [Int]
        }
        var prompts: [Prompt]
    }

    static let tiny = ["tiny-llama.f32.gguf", "tiny-llama.q8_0.gguf", "tiny-qwen2.f32.gguf", "tiny-qwen2.q8_0.gguf",
                       // Windows, soft-caps, q/k norms, partial rotary and routed experts (HF folders).
                       "arch/tiny-mistral", "arch/tiny-gemma2", "arch/tiny-qwen3", "arch/tiny-phi3",
                       "arch/tiny-qwen2moe", "arch/tiny-qwen3moe", "arch/tiny-olmoe", "arch/tiny-mixtral"]

    static func tinyPrompts(_ path: String) throws -> [TinyReference.Prompt] {
        let folder = path.components(separatedBy: ".").first!
        return try JSONDecoder().decode(TinyReference.self,
                                        from: Data(contentsOf: Fixtures.url("\(folder)/reference.json"))).prompts
    }

    /// Hooks for sequence `i`: adds i·0.05·(a fixed ramp) to blocks.1.hook_resid_post (the steering a sweep puts on
    /// each row), and for sequence 1 also reads and rescales attn.hook_result of block 0 (the per-head path).
    static func hooks(_ i: Int, width d: Int) -> Hooks {
        let hooks = Hooks()
        let scale = Float(i) * 0.05
        hooks.add(.residPost(1)) { a in
            for t in 0..<a.shape[0] {
                let row = a.row(t)
                for j in 0..<d { row[j] += scale * Float(j % 7 - 3) }
            }
        }
        if i == 1 {
            hooks.add(.attnResult(0)) { a in
                for j in 0..<a.values.count where j % 5 == 0 { a.values[j] *= 0.5 }
            }
        }
        return hooks
    }

    static func check(_ batched: Tensor, _ alone: Tensor, _ label: String) {
        #expect(batched.shape == alone.shape, "\(label): shape")
        if let msg = compare(batched.data, alone.data, atol: 0, label: label) { Issue.record(Comment(rawValue: msg)) }
    }

    @Test(arguments: tiny, Precision.allCases)
    func batchedForwardEqualsOneSequenceCalls(path: String, precision: Precision) throws {
        let model = try Transformer(url: Fixtures.url(path))
        let d = model.config.hiddenSize
        // Prompts of 1 … 33 tokens; seven sequences so the single-token rows exceed the 4 of one small product.
        var prompts = try Self.tinyPrompts(path).map(\.ids)
        prompts += [[prompts[0][0]], Array(prompts[1].prefix(5))]
        let joining = Array(prompts[2].prefix(9))
        let capacity = 64
        var batchCaches = prompts.map { _ in model.makeCache(capacity: capacity) }
        var aloneCaches = prompts.map { _ in model.makeCache(capacity: capacity) }
        var hooks = prompts.indices.map { Self.hooks($0, width: d) }
        var aloneHooks = prompts.indices.map { Self.hooks($0, width: d) }
        var pending = prompts
        var ids = Array(prompts.indices)
        for step in 0..<6 {
            let inputs = ids.indices.map { Transformer.BatchInput(pending[$0], cache: batchCaches[$0], hooks: hooks[$0]) }
            let batched = try model.forward(inputs, logits: .last, precision: precision)
            for k in ids.indices {
                let alone = try model.forward(pending[k], cache: aloneCaches[k], hooks: aloneHooks[k], logits: .last,
                                              precision: precision)
                Self.check(batched[k], alone, "\(path) \(precision) step \(step) sequence \(ids[k])")
                let next = Sampler.argmax(batched[k].data)
                // Sequence 3 takes three tokens at step 2, among the others' single tokens.
                pending[k] = step == 2 && ids[k] == 3 ? [next, next, 1] : [next]
            }
            // One sequence leaves after steps 1 and 3; a new one joins (its prompt among decode rows) after step 1.
            if step == 1 || step == 3 {
                let k = step == 1 ? 0 : 2
                batchCaches.remove(at: k); aloneCaches.remove(at: k); hooks.remove(at: k); aloneHooks.remove(at: k)
                pending.remove(at: k); ids.remove(at: k)
            }
            if step == 1 {
                batchCaches.append(model.makeCache(capacity: capacity)); aloneCaches.append(model.makeCache(capacity: capacity))
                hooks.append(Self.hooks(9, width: d)); aloneHooks.append(Self.hooks(9, width: d))
                pending.append(joining); ids.append(9)
            }
        }
    }

    /// Greedy continuations of the tiny models' reference prompts, generated two at a time (sequences joining as
    /// others finish, one stopping early), equal transformers' greedy tokens.
    @Test(arguments: ["tiny-llama.f32.gguf", "tiny-qwen2.f32.gguf", "tiny-llama", "tiny-qwen2"])
    func batchGeneratorMatchesTransformersGreedy(path: String) throws {
        let model = try LanguageModel(url: Fixtures.url(path))
        let prompts = try Self.tinyPrompts(path)
        let requests = prompts.enumerated().map { i, p in
            var options = GenerationOptions(maxTokens: i == 1 ? 5 : 12, sampling: .greedy)
            options.stopAtEndOfTurn = false
            return BatchGenerator.Request(promptTokens: p.ids, options: options)
        }
        let results = try Generator(model).generate(requests, batchSize: 2)
        for (i, (p, r)) in zip(prompts, results).enumerated() {
            #expect(r.tokens == Array(p.greedy_next_12.prefix(i == 1 ? 5 : 12)), "\(path) prompt \(i)")
            #expect(r.stopReason == .maxTokens && r.promptTokens == p.ids)
        }
    }

    /// SmolLM2: 16 generations (the reference prompts, each with several steering scales and lengths) decoded 16 at
    /// a time give each one's tokens and text alone, exactly in both precisions; the unsteered greedy tokens equal
    /// the float64 reference's (exact) .
    @Test(.enabled(if: Fixtures.smollm2 != nil), arguments: Precision.allCases)
    func smolLM2BatchEqualsOneAtATime(precision: Precision) throws {
        struct Exact: Decodable { var ids: [Int]; var greedy: [Int] }
        let model = try LanguageModel(url: Fixtures.smollm2!, decoding: precision)
        let exact = try JSONDecoder().decode([Exact].self, from: Data(contentsOf: Fixtures.url("smollm2/exact.safetensors.json")))
        let d = model.config.hiddenSize
        var requests: [BatchGenerator.Request] = []
        var makeHooks: [() -> Hooks?] = []
        for (p, e) in exact.enumerated() {
            for k in 0..<4 {
                var options = GenerationOptions(maxTokens: 16 - 3 * ((p + k) % 3), sampling: .greedy)
                options.stopAtEndOfTurn = false
                let make: () -> Hooks? = { k == 0 ? nil : Self.hooks(k, width: d) }
                requests.append(BatchGenerator.Request(promptTokens: e.ids, options: options, hooks: make()))
                makeHooks.append(make)
            }
        }
        let batched = try Generator(model).generate(requests, batchSize: 16)
        for (i, r) in requests.enumerated() {
            let alone = try Generator(model).generate(promptTokens: r.promptTokens, options: r.options, hooks: makeHooks[i]())
            #expect(batched[i].tokens == alone.tokens && batched[i].text == alone.text, "\(precision) request \(i)")
            if precision == .exact, r.hooks == nil {
                let reference = exact[i / 4].greedy
                #expect(batched[i].tokens == Array(reference.prefix(batched[i].tokens.count)), "request \(i) vs reference")
            }
        }
    }

    /// Qwen2.5-Coder-0.5B (Q5_0, Q8_0, Q4_K and Q6_K matrices: each a row-reusing kernel of vane_gemm_q_dots):
    /// six sequences (a group of 4 and a remainder of 2) decoded together in the fast mode get each one's own
    /// call's logits bit for bit (tolerance 0) at every step.
    @Test(.enabled(if: Fixtures.qwenCoder05 != nil))
    func qwenCoderBatchedStepsEqualOneSequenceCalls() throws {
        let model = try Transformer(url: Fixtures.qwenCoder05!)
        let prompts = (0..<6).map { b in (0..<(2 + 3 * b)).map { (b * 7919 + $0 * 104_729 + 11) % 150_000 } }
        let batchCaches = prompts.map { _ in model.makeCache(capacity: 32) }
        let aloneCaches = prompts.map { _ in model.makeCache(capacity: 32) }
        var pending = prompts
        for step in 0..<3 {
            let batched = try model.forward(pending.indices.map { Transformer.BatchInput(pending[$0], cache: batchCaches[$0]) },
                                            logits: .last, precision: .fast)
            for b in prompts.indices {
                let alone = try model.forward(pending[b], cache: aloneCaches[b], logits: .last, precision: .fast)
                Self.check(batched[b], alone, "step \(step) sequence \(b)")
                pending[b] = [Sampler.argmax(alone.data)]
            }
        }
    }

    @Test func badBatchesAreRefused() throws {
        let model = try Transformer(url: Fixtures.url("tiny-llama.f32.gguf"))
        let cache = model.makeCache(capacity: 8)
        expect(errorText { _ = try model.forward([.init([1, 2], cache: cache), .init([3], cache: cache)]) },
               contains: ["sequence 1", "shares its cache"])
        expect(errorText { _ = try model.forward([.init([1], cache: cache), .init([], cache: model.makeCache(capacity: 4))]) },
               contains: ["sequence 1", "no new tokens"])
        expect(errorText { _ = try model.forward([.init([1], cache: model.makeCache(capacity: 1)), .init([1, 2], cache: model.makeCache(capacity: 1))]) },
               contains: ["2"])
        #expect(cache.length == 0, "a refused batch must leave the caches untouched")
        let generator = BatchGenerator(try LanguageModel(url: Fixtures.url("tiny-llama.f32.gguf")))
        expect(errorText { _ = try generator.add(promptTokens: [], options: GenerationOptions()) }, contains: ["no tokens"])
        expect(errorText { _ = try generator.add(promptTokens: [1, -4], options: GenerationOptions()) }, contains: ["-4"])
        let finished = try generator.step()
        #expect(generator.isEmpty && finished.isEmpty)
    }
}

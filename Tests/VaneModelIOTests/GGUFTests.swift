import Foundation
import Testing
import VaneModelIO
import VaneTensor
import VaneTestSupport

@Suite struct GGUFTests {
    /// Every value type, as gguf-py wrote it (values from Tests/Fixtures/ggufpy-ref/make.py).
    @Test func metadataValuesFromGGUFPy() throws {
        let file = try GGUFFile(url: Fixtures.url("ggufpy-ref/ggufpy-ref.gguf"))
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        #expect(file.metadataOrder == ["general.architecture", "ref.uint8", "ref.int8", "ref.uint16", "ref.int16",
                                       "ref.uint32", "ref.int32", "ref.float32", "ref.bool", "ref.string", "ref.uint64",
                                       "ref.int64", "ref.float64", "ref.ints", "ref.strings", "ref.nested"])
        #expect(file["general.architecture"] == .string("ggufpyref"))
        #expect(file["ref.uint8"] == .uint8(200))
        #expect(file["ref.int8"] == .int8(-100))
        #expect(file["ref.uint16"] == .uint16(60000))
        #expect(file["ref.int16"] == .int16(-30000))
        #expect(file["ref.uint32"] == .uint32(4_000_000_000))
        #expect(file["ref.int32"] == .int32(-2_000_000_000))
        #expect(file["ref.float32"] == .float32(0.1))
        #expect(file["ref.bool"] == .bool(true))
        #expect(file["ref.string"] == .string("héllo ✓ wörld"))
        #expect(file["ref.uint64"] == .uint64(1 << 63 + 5))
        #expect(file["ref.int64"] == .int64(-(1 << 62)))
        #expect(file["ref.float64"] == .float64(2.718281828459045))
        #expect(file["ref.ints"] == .array([.int32(1), .int32(-2), .int32(3)]))
        #expect(file["ref.strings"]?.stringArray == ["a", "", "Ġthe", "<|im_start|>"])
        #expect(file["ref.nested"] == .array([.array([.int32(1), .int32(2)]), .array([.int32(3)]),
                                              .array([.int32(4), .int32(5), .int32(6)])]))
        // Accessors.
        #expect(file["ref.uint32"]?.int == 4_000_000_000)
        #expect(file["ref.uint64"]?.int == nil)
        #expect(file["ref.int8"]?.float == -100)
        #expect(file["ref.float32"]?.float == Double(Float(0.1)))
        #expect(file["ref.ints"]?.intArray == [1, -2, 3])
        #expect(file["ref.strings"]?.intArray == nil)
        #expect(file["ref.string"]?.int == nil)
        #expect(file.tensors.map(\.name) == ["input", "ref.Q8_0", "ref.Q4_0", "ref.Q4_1"])
        #expect(file.tensors.allSatisfy { $0.shape == [8, 256] })
    }

    @Test func tinyLlamaF32() throws {
        let gguf = try GGUFFile(url: Fixtures.url("tiny-llama.f32.gguf"))
        // Layout numbers as gguf-py's GGUFReader reports them for this file.
        #expect(gguf.version == 3)
        #expect(gguf.dataOffset == 10144)
        #expect(gguf.metadata.count == 27)
        #expect(gguf.tensors.count == 30)
        #expect(gguf.tensors.first?.name == "output.weight")
        #expect(gguf.tensors.allSatisfy { $0.type == .f32 })
        #expect(gguf["general.architecture"]?.string == "llama")
        #expect(gguf["llama.block_count"]?.int == 3)
        #expect(gguf["llama.embedding_length"]?.int == 64)
        #expect(gguf["llama.attention.head_count_kv"]?.int == 2)
        #expect(gguf["llama.rope.freq_base"]?.float == 10000)
        #expect(gguf["tokenizer.ggml.tokens"]?.stringArray?.count == 384)
        #expect(gguf["tokenizer.ggml.merges"]?.stringArray?.count == 125)
        #expect(gguf["tokenizer.ggml.token_type"]?.intArray?.count == 384)
        #expect(gguf["tokenizer.chat_template"]?.string?.contains("<|im_start|>") == true)
        #expect(gguf.tensor(named: "token_embd.weight")?.shape == [384, 64])
        #expect(gguf.tensor(named: "blk.0.ffn_down.weight")?.shape == [64, 160])
        #expect(gguf.tensor(named: "blk.0.attn_norm.weight")?.shape == [64])
        #expect(gguf.tensor(named: "nonexistent") == nil)

        let hf = try SafetensorsFile(url: Fixtures.url("tiny-llama/model.safetensors"))
        try expectSameWeights(gguf, hf, heads: (4, 2))
    }

    @Test func tinyQwen2F32() throws {
        let gguf = try GGUFFile(url: Fixtures.url("tiny-qwen2.f32.gguf"))
        #expect(gguf["general.architecture"]?.string == "qwen2")
        #expect(gguf.tensors.count == 38)
        #expect(gguf.tensor(named: "output.weight") == nil)   // tied embeddings
        let hf = try SafetensorsFile(url: Fixtures.url("tiny-qwen2/model.safetensors"))
        try expectSameWeights(gguf, hf, heads: nil)
    }

    /// Q8_0 weights are within each block's rounding bound of the HF originals (half a step of d = amax/127, plus
    /// d's own F16 rounding); F32 tensors (norms, biases) are exact.
    @Test func tinyQwen2Q8_0() throws {
        let gguf = try GGUFFile(url: Fixtures.url("tiny-qwen2.q8_0.gguf"))
        let hf = try SafetensorsFile(url: Fixtures.url("tiny-qwen2/model.safetensors"))
        #expect(gguf.tensors.count == 38)
        #expect(gguf["general.file_type"]?.int == 7)
        #expect(gguf["qwen2.attention.head_count_kv"]?.int == 1)
        #expect(gguf["tokenizer.ggml.pre"]?.string == "qwen2")
        var quantized = 0
        for t in gguf.tensors {
            let name = try #require(hfName(ofGGUF: t.name), "no HF name for \(t.name)")
            let reference = dequantize(try #require(hf.tensor(named: name), "\(name) missing"))
            let actual = dequantize(t)
            #expect(actual.shape == reference.shape, "\(t.name)")
            guard t.type == .q8_0 else {
                #expect(t.type == .f32)
                if let m = compare(actual.data, reference.data, atol: 0, label: t.name) { Issue.record(Comment(rawValue: m)) }
                continue
            }
            quantized += 1
            for b in 0..<(reference.count / 32) {
                let block = reference.data[(32 * b)..<(32 * b + 32)]
                let d = block.map(abs).max()! / 127
                let bound = d / 2 + 127 * max(d * 0x1p-11, 0x1p-25)
                if let m = compare(Array(actual.data[(32 * b)..<(32 * b + 32)]), Array(block), atol: bound * 1.0001,
                                   label: "\(t.name) block \(b)") {
                    Issue.record(Comment(rawValue: m))
                    break
                }
            }
        }
        #expect(quantized == 22)   // 7 matrices per layer × 3 + token_embd
    }

    @Test(.enabled(if: Fixtures.smollm2 != nil, "needs the default model (vane fetch smollm2)"))
    func smolLM2() throws {
        let url = try #require(Fixtures.smollm2)
        let start = ContinuousClock.now
        let gguf = try GGUFFile(url: url)
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        print("SmolLM2 GGUF parsed in \(seconds) s")
        #expect(seconds < 2, "parsing 49k tokens and merges should take milliseconds (debug: well under 2 s)")

        #expect(gguf.tensors.count == 272)
        let counts = Dictionary(grouping: gguf.tensors, by: \.type).mapValues(\.count)
        #expect(counts == [.q4_1: 210, .f32: 61, .q8_0: 1])
        #expect(gguf["general.architecture"]?.string == "llama")
        #expect(gguf["llama.block_count"]?.int == 30)
        #expect(gguf["llama.embedding_length"]?.int == 576)
        let tokens = try #require(gguf["tokenizer.ggml.tokens"]?.stringArray)
        #expect(tokens.count == 49152)
        #expect(Array(tokens.prefix(3)) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        let merges = try #require(gguf["tokenizer.ggml.merges"]?.stringArray)
        #expect(merges.count == 48900)
        #expect(Array(merges.prefix(3)) == ["Ġ t", "Ġ a", "i n"])
        #expect(gguf["tokenizer.ggml.add_bos_token"]?.bool != nil)
        #expect(gguf.alignment == 32 && gguf.dataOffset == 1785664)   // as gguf-py reports
        #expect(gguf.tensor(named: "token_embd.weight")?.type == .q8_0)
        #expect(gguf.tensor(named: "token_embd.weight")?.shape == [49152, 576])

        // Rows dequantized by gguf-py (Tests/Fixtures/ggufpy-ref/smollm2-rows.gguf).
        let reference = try GGUFFile(url: Fixtures.url("ggufpy-ref/smollm2-rows.gguf"))
        for expected in reference.tensors {
            let stored = try #require(gguf.tensor(named: expected.name))
            let full = dequantize(stored)
            let rows = reference["rows.\(expected.name)"]?.intArray ?? Array(0..<full.rows)
            let actual = rows.flatMap { full.row($0) }
            if let m = compare(actual, dequantize(expected).data, atol: 1e-30, rtol: 1e-6, label: "\(expected.name) rows \(rows)") {
                Issue.record(Comment(rawValue: m))
            }
        }
    }

    /// Each GGUF tensor equals its HF counterpart. llama's converter permutes attn_q / attn_k rows so that RoPE pairs
    /// are adjacent: within each head of hd rows, HF row t·hd/2 + j becomes GGUF row 2j + t; `heads` (q, kv) undoes it.
    private func expectSameWeights(_ gguf: GGUFFile, _ hf: SafetensorsFile, heads: (q: Int, kv: Int)?) throws {
        #expect(gguf.tensors.count == hf.tensors.count)
        for t in gguf.tensors {
            let name = try #require(hfName(ofGGUF: t.name), "no HF name for \(t.name)")
            let reference = try #require(hf.tensor(named: name), "\(name) missing from the HF file")
            var actual = dequantize(t)
            #expect(actual.shape == reference.shape, "\(t.name) \(actual.shape) vs \(name) \(reference.shape)")
            if let heads, t.name.hasSuffix("attn_q.weight") || t.name.hasSuffix("attn_k.weight") {
                actual = unpermute(actual, heads: t.name.hasSuffix("attn_q.weight") ? heads.q : heads.kv)
            }
            if let m = compare(actual.data, dequantize(reference).data, atol: 0, label: "\(t.name) ↔ \(name)") {
                Issue.record(Comment(rawValue: m))
            }
        }
    }

    private func unpermute(_ w: Tensor, heads: Int) -> Tensor {
        let hd = w.rows / heads
        var out = w
        for h in 0..<heads {
            for t in 0..<2 {
                for j in 0..<(hd / 2) {
                    let src = h * hd + 2 * j + t, dst = h * hd + t * hd / 2 + j
                    out.data.replaceSubrange((dst * w.cols)..<((dst + 1) * w.cols), with: w.row(src))
                }
            }
        }
        return out
    }
}

import Foundation
import Testing
@testable import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Tensor bindings against tensors whose values say where they came from: a fused HF tensor splits into row
/// views holding exactly its row blocks, stacked experts become one tensor holding expert 0, 1, … in order, and the
/// writer's plan (hfTensors) rebuilds every HF tensor byte for byte from the GGUF tensors.
@Suite struct TensorBindingTests {
    /// F32 tensor `name` of `shape` whose element i is base + i.
    static func tensor(_ name: String, _ shape: [Int], base: Float) -> StoredTensor {
        let values = (0..<shape.reduce(1, *)).map { base + Float($0) }
        let memory = try! values.withUnsafeBytes { try MappedFile(copying: [$0], url: URL(fileURLWithPath: name)) }
        return StoredTensor(name: name, type: .f32, shape: shape, bytes: memory.bytes, owner: memory)
    }

    static func floats(_ t: StoredTensor) -> [Float] { Array(t.bytes.bindMemory(to: Float.self)) }

    // 4 query heads and 2 key/value heads of size 2 over d = 8; 3 experts.
    static let config = ModelConfig(architecture: "fused-test", hiddenSize: 8, intermediateSize: 6, numHiddenLayers: 1,
                                    numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 2, vocabSize: 10,
                                    maxPositionEmbeddings: 16, rmsNormEps: 1e-5, ropeTheta: 10000,
                                    tieWordEmbeddings: true, attentionBias: false, ropeStyle: .neox)

    static let spec = ArchitectureSpec(
        name: "fused-test", modelTypes: ["fused-test"], hfClass: "FusedTest", ggufRope: .neox, qkvBias: .fromConfig,
        tokenizer: "gpt2",
        tensors: [
            .rename("model.embed_tokens.weight", "token_embd.weight", perLayer: false),
            .fused("self_attn.qkv_proj.weight", ["attn_q.weight", "attn_k.weight", "attn_v.weight"]) { c in
                [c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim, c.numKeyValueHeads * c.headDim]
            },
            .stacked("mlp.experts.{E}.down_proj.weight", "ffn_down_exps.weight"),
        ],
        hfConfigExtras: { _ in [:] }, ggufExtras: { _ in [] }, checkHF: { _, _ in })

    let hf = [
        tensor("model.embed_tokens.weight", [10, 8], base: 0),
        tensor("model.layers.0.mlp.experts.1.down_proj.weight", [8, 6], base: 2000),   // out of order on purpose
        tensor("model.layers.0.self_attn.qkv_proj.weight", [16, 8], base: 1000),
        tensor("model.layers.0.mlp.experts.0.down_proj.weight", [8, 6], base: 3000),
        tensor("model.layers.0.mlp.experts.2.down_proj.weight", [8, 6], base: 4000),
    ]

    @Test func readsFusedAndStacked() throws {
        let gguf = try Self.spec.ggufTensors(fromHF: hf, config: Self.config, path: "test")
        #expect(gguf.map(\.name) == ["token_embd.weight", "blk.0.ffn_down_exps.weight", "blk.0.attn_q.weight",
                                     "blk.0.attn_k.weight", "blk.0.attn_v.weight"])
        let byName = Dictionary(uniqueKeysWithValues: gguf.map { ($0.name, $0) })
        let qkv = Self.floats(hf[2])
        for (name, rows) in [("blk.0.attn_q.weight", 0..<8), ("blk.0.attn_k.weight", 8..<12), ("blk.0.attn_v.weight", 12..<16)] {
            let t = byName[name]!
            #expect(t.shape == [rows.count, 8], "\(name)")
            #expect(Self.floats(t) == Array(qkv[(rows.lowerBound * 8)..<(rows.upperBound * 8)]), "\(name)")
        }
        let experts = byName["blk.0.ffn_down_exps.weight"]!
        #expect(experts.shape == [3, 8, 6])
        #expect(Self.floats(experts) == Self.floats(hf[3]) + Self.floats(hf[1]) + Self.floats(hf[4]))
    }

    @Test func writerPlanRebuildsEveryHFTensor() throws {
        let gguf = try Self.spec.ggufTensors(fromHF: hf, config: Self.config, path: "test")
        let plan = try Self.spec.hfTensors(fromGGUF: gguf.map { ($0.name, $0.shape) })
        #expect(plan.map(\.name).sorted() == hf.map(\.name).sorted())
        for h in plan {
            var bytes: [Float] = []
            for part in h.parts {
                let t = gguf[part.index], all = Self.floats(t)
                let per = all.count / t.shape[0]
                bytes += part.rows.map { Array(all[($0.lowerBound * per)..<($0.upperBound * per)]) } ?? all
            }
            let original = hf.first { $0.name == h.name }!
            #expect(h.shape == original.shape, "\(h.name)")
            #expect(bytes == Self.floats(original), "\(h.name)")
        }
    }

    @Test func badLayoutsNameTheTensor() {
        var wrongRows = hf
        wrongRows[2] = Self.tensor("model.layers.0.self_attn.qkv_proj.weight", [15, 8], base: 0)
        let m1 = errorText { _ = try Self.spec.ggufTensors(fromHF: wrongRows, config: Self.config, path: "m") }
        #expect(m1.contains("qkv_proj") && m1.contains("8 + 4 + 4"), "\(m1)")

        let gap = hf.filter { !$0.name.contains("experts.1.") }
        let m2 = errorText { _ = try Self.spec.ggufTensors(fromHF: gap, config: Self.config, path: "m") }
        #expect(m2.contains("ffn_down_exps") && m2.contains("0, 2"), "\(m2)")

        let unknown = hf + [Self.tensor("model.layers.0.mlp.router.weight", [3, 8], base: 0)]
        let m3 = errorText { _ = try Self.spec.ggufTensors(fromHF: unknown, config: Self.config, path: "m") }
        #expect(m3.contains("mlp.router.weight"), "\(m3)")

        let m4 = errorText {
            _ = try Self.spec.hfTensors(fromGGUF: [("blk.0.attn_k.weight", [4, 8]), ("blk.0.attn_q.weight", [8, 8]),
                                                    ("blk.0.attn_v.weight", [4, 8])])
        }
        #expect(m4.contains("qkv_proj") && m4.contains("in this order"), "\(m4)")
    }

    /// Every tensor of the tiny HF fixtures maps to a GGUF name and back.
    @Test(arguments: ["tiny-llama", "tiny-qwen2"])
    func registryNamesRoundTrip(_ fixture: String) throws {
        let files = try ModelFiles(url: Fixtures.url(fixture))
        let hfNames = try SafetensorsFile(url: Fixtures.url("\(fixture)/model.safetensors")).tensors.map(\.name)
        for name in hfNames {
            let gguf = try #require(files.spec.gguf(fromHF: name), "\(name)")
            #expect(files.spec.hf(fromGGUF: gguf) == name)
            #expect(files.tensors[gguf] != nil, "\(gguf)")
        }
    }
}

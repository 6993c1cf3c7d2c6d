import Foundation
import Testing
import VaneEdit
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// GGUF → HF → GGUF on the tiny fixtures. The HF intermediate must equal the HF checkpoint the GGUF was converted
/// from by llama.cpp (tensors, after renaming — which shows the llama Q/K permutation is undone — and the
/// tokenizer), and the round trip must give back the GGUF's tensors and tokenizer metadata exactly.
@Suite struct ConvertTests {
    @Test(arguments: ["tiny-llama", "tiny-qwen2"])
    func roundTrip(_ name: String) throws {
        let dir = try scratch("convert-\(name)")
        let gguf = Fixtures.url("\(name).f32.gguf")
        let hf = dir.appendingPathComponent("hf")
        try Convert.run(ModelInput(url: gguf), to: OutputOptions(url: hf))

        let problem = compareTensors(try folderTensors(hf), try folderTensors(Fixtures.url("\(name)/model.safetensors")), atol: 0)
        #expect(problem == nil, "\(problem ?? "")")
        var expectedConfig = try ModelConfig(configJSON: Fixtures.url("\(name)/config.json"))
        let config = try ModelConfig(configJSON: hf.appendingPathComponent("config.json"))
        expectedConfig.maxPositionEmbeddings = config.maxPositionEmbeddings
        #expect(config == expectedConfig)
        try expectSameTokenizer(hf.appendingPathComponent("tokenizer.json"), Fixtures.url("\(name)/tokenizer.json"))
        let tc = try JSONSerialization.jsonObject(with: Data(contentsOf: hf.appendingPathComponent("tokenizer_config.json"))) as? [String: Any]
        #expect(tc?["chat_template"] as? String == (try String(contentsOf: Fixtures.url("\(name)/chat_template.jinja"), encoding: .utf8)))
        #expect(tc?["eos_token"] as? String == "<|im_end|>")

        let back = dir.appendingPathComponent("back.gguf")
        try Convert.run(ModelInput(url: hf), to: OutputOptions(url: back))
        let a = try GGUFFile(url: gguf), b = try GGUFFile(url: back)
        #expect(a.tensors.map(\.name).sorted() == b.tensors.map(\.name).sorted())
        for t in a.tensors {
            let u = b.tensor(named: t.name)
            #expect(u?.type == t.type && u?.shape == t.shape && u.map { $0.bytes.elementsEqual(t.bytes) } == true, "\(t.name) differs")
        }
        let arch = a.metadata["general.architecture"]!.string!
        let keys = a.metadataOrder.filter { $0.hasPrefix("tokenizer.") || ($0.hasPrefix(arch + ".") && $0 != "\(arch).context_length") }
        for key in keys { #expect(b.metadata[key] == a.metadata[key], "\(key): \(String(describing: b.metadata[key]).prefix(80))") }
        #expect(try ModelConfig(gguf: b) == ModelConfig(gguf: a))
    }

    func expectSameTokenizer(_ actual: URL, _ expected: URL) throws {
        func load(_ u: URL) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: u)) as? [String: Any] ?? [:]
        }
        func canonical(_ x: Any?) -> String {
            guard let x else { return "nil" }
            return (try? JSONSerialization.data(withJSONObject: x, options: [.sortedKeys, .fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        }
        let a = try load(actual), e = try load(expected)
        for key in ["added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"] {
            #expect(canonical(a[key]) == canonical(e[key]), "tokenizer.json \(key) differs: \(canonical(a[key]).prefix(200)) vs \(canonical(e[key]).prefix(200))")
        }
    }

    /// HF → GGUF Q8_0 gives the bytes llama.cpp's converter wrote to tiny-llama.q8_0.gguf.
    @Test func q8_0MatchesLlamaCpp() throws {
        let out = try scratch("q8").appendingPathComponent("tiny.q8_0.gguf")
        try Convert.run(ModelInput(url: Fixtures.url("tiny-llama")), to: OutputOptions(url: out, dtype: .q8_0))
        let a = try GGUFFile(url: Fixtures.url("tiny-llama.q8_0.gguf")), b = try GGUFFile(url: out)
        for t in a.tensors {
            let u = b.tensor(named: t.name)
            #expect(u?.type == t.type, "\(t.name): \(String(describing: u?.type)) vs \(t.type)")
            if u?.type == t.type {
                #expect(compare(dequantize(u!).data, dequantize(t).data, atol: 0, label: t.name) == nil)
            }
        }
    }

    /// An HF output is sharded at --shard-size with an index whose weight_map the reader accepts.
    @Test func shardedFolder() throws {
        let out = try scratch("shard").appendingPathComponent("out")
        try Convert.run(ModelInput(url: Fixtures.url("tiny-llama.f32.gguf")), to: OutputOptions(url: out, dtype: .bf16, shardSize: 100_000))
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".safetensors") }
        #expect(files.count > 2)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors.index.json").path))
        let loaded = try ModelInput(url: out)
        #expect(loaded.names.count == 30 && loaded.stored("blk.0.attn_q.weight")?.type == .bf16)
        let expected = try folderTensors(Fixtures.url("tiny-llama/model.safetensors"))
        for name in loaded.names {
            let hf = ArchitectureSpec.llama.hf(fromGGUF: name)!
            let e = expected[hf]!.data.map { bf16ToFloat(floatToBF16($0)) }
            #expect(compare(try loaded.values(name).data, e, atol: 0, label: name) == nil)
        }
    }
}

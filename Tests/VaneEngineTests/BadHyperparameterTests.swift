import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTestSupport

/// Hyperparameters that parse but are absurd (negative, zero, 2^40 layers, 2^62 heads) are refused with the file,
/// the key and the value, before any loop or allocation uses them — in GGUF metadata and in config.json alike.
@Suite struct BadHyperparameterTests {
    /// The tiny llama GGUF with metadata `key` set to `value` (added if absent), tensors unchanged.
    func gguf(_ key: String, _ value: GGUFValue) throws -> URL {
        let source = try GGUFFile(url: Fixtures.url("tiny-llama.f32.gguf"))
        var metadata = source.metadataOrder.map { (key: $0, value: source.metadata[$0]!) }
        if let i = metadata.firstIndex(where: { $0.key == key }) { metadata[i].value = value } else { metadata.append((key, value)) }
        let url = try scratch("hyper").appendingPathComponent("model.gguf")
        let entries = source.tensors.map { TensorEntry(name: $0.name, type: $0.type, shape: $0.shape) }
        try GGUFWriter.write(to: url, metadata: metadata, entries: entries) { i, emit in try emit(source.tensors[i].bytes) }
        return url
    }

    /// The tiny llama HF folder with config.json key `key` set to `json` (a JSON literal).
    func folder(_ key: String, _ json: String) throws -> URL {
        let dir = try scratch("hyper-hf")
        let src = Fixtures.url("tiny-llama")
        for f in try FileManager.default.contentsOfDirectory(atPath: src.path) where f != "config.json" {
            try FileManager.default.copyItem(at: src.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json"))) as! [String: Any]
        config[key] = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }


    @Test(arguments: [
        ("llama.block_count", GGUFValue.int32(-1), "-1"),
        ("llama.block_count", .uint64(1 << 40), "1099511627776"),
        ("llama.block_count", .uint32(UInt32.max), "4294967295"),
        ("llama.attention.head_count", .uint32(0), "is 0"),
        ("llama.attention.head_count", .uint64(1 << 62), "4611686018427387904"),
        ("llama.context_length", .int32(-1), "-1"),
        ("llama.embedding_length", .int64(-576), "-576"),
        ("llama.attention.layer_norm_rms_epsilon", .float32(-1), "-1"),
        ("llama.rope.freq_base", .float32(.nan), "nan"),
    ])
    func ggufValueRefused(_ key: String, _ value: GGUFValue, _ shown: String) throws {
        let url = try gguf(key, value)
        let m = errorText { _ = try LanguageModel(url: url) }
        #expect(m.contains(key) && m.contains(shown) && m.contains(url.path), "\(m)")
    }

    @Test(arguments: [
        ("num_hidden_layers", "-1", "-1"),
        ("num_hidden_layers", "1099511627776", "1099511627776"),
        ("num_attention_heads", "0", "is 0"),
        ("num_attention_heads", "4611686018427387904", "4611686018427387904"),
        ("max_position_embeddings", "-1", "-1"),
        ("num_key_value_heads", "-4", "-4"),
        ("rms_norm_eps", "0.0", "is 0"),
    ])
    func configValueRefused(_ key: String, _ json: String, _ shown: String) throws {
        let dir = try folder(key, json)
        let m = errorText { _ = try LanguageModel(url: dir) }
        #expect(m.contains(key) && m.contains(shown) && m.contains("config.json"), "\(m)")
    }

    /// --max-tokens as large as Int allows decodes until the context is full, without overflowing.
    @Test func hugeMaxTokens() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        var options = GenerationOptions(maxTokens: Int.max, sampling: .greedy)
        options.stopAtEndOfTurn = false
        let r = try Generator(model).generate(promptTokens: [1, 2, 3], options: options)
        // The cache fills at the context length; the last token is sampled from its logits and never enters it.
        #expect(r.tokens.count == model.config.maxPositionEmbeddings - 3 + 1)
    }
}

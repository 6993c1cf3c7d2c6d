import Foundation
import Testing
import VaneEngine
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Models that cannot run fail with an error that names the problem.
@Suite struct BadModelTests {
    /// A copy of the tiny llama folder in a temporary directory, with `edit` applied to its config.json and
    /// `tensors` (name → tensor) written as its model.safetensors.
    func folder(editConfig: (inout [String: Any]) -> Void = { _ in },
                editTensors: (inout [(name: String, tensor: Tensor)]) -> Void = { _ in }) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vane-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = Fixtures.url("tiny-llama")
        for f in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"] {
            try FileManager.default.copyItem(at: src.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json"))) as! [String: Any]
        editConfig(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        let file = try SafetensorsFile(url: src.appendingPathComponent("model.safetensors"))
        var tensors = file.tensors.map { (name: $0.name, tensor: dequantize($0)) }
        editTensors(&tensors)
        try SafetensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }


    @Test func unknownArchitectureListsSupported() throws {
        let dir = try folder(editConfig: { $0["model_type"] = "gpt_neox" })
        let m = errorText { _ = try LanguageModel(url: dir) }
        #expect(m.contains("gpt_neox") && m.contains("llama, qwen2"), "\(m)")
    }

    @Test func configMissingFieldNamesIt() throws {
        let dir = try folder(editConfig: { $0.removeValue(forKey: "hidden_size") })
        let m = errorText { _ = try LanguageModel(url: dir) }
        #expect(m.contains("hidden_size") && m.contains("config.json"), "\(m)")
    }

    @Test func missingTensorNamesIt() throws {
        let dir = try folder(editTensors: { $0.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" } })
        let m = errorText { _ = try LanguageModel(url: dir) }
        #expect(m.contains("blk.1.ffn_up.weight") && m.contains("missing"), "\(m)")
    }

    @Test func unexpectedTensorNamesIt() throws {
        let dir = try folder(editTensors: { $0.append((name: "model.layers.0.extra.weight", tensor: Tensor(zeros: [2]))) })
        let m = errorText { _ = try LanguageModel(url: dir) }
        #expect(m.contains("model.layers.0.extra.weight") && m.contains("unexpected"), "\(m)")
    }

    @Test func wrongShapeNamesIt() throws {
        let dir = try folder(editTensors: { ts in
            let i = ts.firstIndex { $0.name == "model.layers.2.self_attn.o_proj.weight" }!
            ts[i].tensor = Tensor(zeros: [64, 32])
        })
        let m = errorText { _ = try LanguageModel(url: dir) }
        #expect(m.contains("blk.2.attn_output.weight") && m.contains("[64, 32]"), "\(m)")
    }

    @Test func promptOverContextLength() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let limit = model.config.maxPositionEmbeddings
        let m = errorText {
            _ = try Generator(model).generate(promptTokens: [Int](repeating: 5, count: limit + 1), options: GenerationOptions())
        }
        #expect(m.contains("\(limit)") && m.contains("context"), "\(m)")
        let forward = errorText {
            _ = try model.transformer.forward([1, 2, 3], cache: model.transformer.makeCache(capacity: 2))
        }
        #expect(forward.contains("context"), "\(forward)")
    }

    @Test func tokenOutsideVocabulary() throws {
        let model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        let m = errorText { _ = try model.transformer.forward([1, 384], cache: model.transformer.makeCache(capacity: 4)) }
        #expect(m.contains("384") && m.contains("vocabulary"), "\(m)")
    }

    @Test func missingModelPathSaysWhatToGive() {
        let m = errorText { _ = try LanguageModel(url: URL(fileURLWithPath: "/nonexistent/model.gguf")) }
        #expect(m.contains("/nonexistent/model.gguf"), "\(m)")
    }
}

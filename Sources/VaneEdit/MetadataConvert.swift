import Foundation
import VaneModelIO
import VaneTensor

/// Model metadata between the two formats: GGUF keys (`{arch}.embedding_length`, `tokenizer.ggml.*`, …, named as
/// llama.cpp's convert_hf_to_gguf.py writes them) and an HF folder's config.json, tokenizer.json and
/// tokenizer_config.json (TokenizerConvert).
public enum MetadataConvert {
    /// Files of an HF folder that describe the tokenizer and chat template.
    static let tokenizerFileNames: Set<String> = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
        "vocab.json", "merges.txt", "added_tokens.json",
    ]
    /// Other files carried over from a source HF folder.
    static let configFileNames = ["config.json", "generation_config.json"]

    // MARK: HF files of a model

    /// config.json (and generation_config.json) of the output: copied from an HF source, written from the
    /// metadata of a GGUF source, with Llama 3's `ropeScaling` recovered from its rope_freqs.weight.
    static func hfConfigFiles(of input: ModelInput, dtype: GGMLType, ropeScaling: Llama3RopeScaling? = nil) throws -> [(name: String, data: Data)] {
        switch input.files.source {
        case .hfFolder(let dir, _):
            return configFileNames.compactMap { name in
                (try? Data(contentsOf: dir.appendingPathComponent(name))).map { (name, $0) }
            }
        case .gguf(let file):
            var config = input.config
            config.ropeScaling = ropeScaling ?? config.ropeScaling
            return [("config.json", try configJSON(file, spec: input.files.spec, config: config, dtype: dtype))]
        }
    }

    static func hfTokenizerFiles(of input: ModelInput) throws -> [(name: String, data: Data)] {
        switch input.files.source {
        case .hfFolder(let dir, _):
            return tokenizerFileNames.sorted().compactMap { name in
                (try? Data(contentsOf: dir.appendingPathComponent(name))).map { (name, $0) }
            }
        case .gguf(let file):
            let (tokenizer, tokenizerConfig) = try tokenizerJSON(file)
            return [("tokenizer.json", tokenizer), ("tokenizer_config.json", tokenizerConfig)]
        }
    }

    static func json(_ object: Any) throws -> Data {
        var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(0x0A)
        return data
    }

    static func configJSON(_ file: GGUFFile, spec: ArchitectureSpec, config c: ModelConfig, dtype: GGMLType) throws -> Data {
        let m = file.metadata
        let k = ConfigKeys.self
        var j: [String: Any] = [
            "architectures": [spec.hfClass],
            "model_type": spec.modelTypes[0],
            k.hiddenSize.hf: c.hiddenSize,
            k.intermediateSize.hf: c.intermediateSize,
            k.numHiddenLayers.hf: c.numHiddenLayers,
            k.numAttentionHeads.hf: c.numAttentionHeads,
            k.numKeyValueHeads.hf: c.numKeyValueHeads,
            k.headDim.hf: c.headDim,
            k.vocabSize.hf: c.vocabSize,
            k.maxPositionEmbeddings.hf: c.maxPositionEmbeddings,
            k.rmsNormEps.hf: c.rmsNormEps.shortestDecimal,
            k.ropeTheta.hf: c.ropeTheta.shortestDecimal,
            "rope_parameters": [k.ropeTheta.hf: c.ropeTheta.shortestDecimal, "rope_type": "default"],
            "tie_word_embeddings": c.tieWordEmbeddings,
            "hidden_act": "silu",
            "dtype": dtype == .bf16 ? "bfloat16" : dtype == .f16 ? "float16" : "float32",
        ]
        if let r = c.ropeScaling {
            j["rope_parameters"] = [k.ropeTheta.hf: c.ropeTheta.shortestDecimal, "rope_type": "llama3", "factor": r.factor,
                                    "low_freq_factor": r.lowFreqFactor, "high_freq_factor": r.highFreqFactor,
                                    "original_max_position_embeddings": r.originalMaxPositionEmbeddings]
        }
        for (key, value) in spec.hfConfigExtras(c) { j[key] = value.any }
        if let bos = m["tokenizer.ggml.bos_token_id"]?.int { j["bos_token_id"] = bos }
        if let eos = m["tokenizer.ggml.eos_token_id"]?.int { j["eos_token_id"] = eos }
        return try json(j)
    }

    // MARK: GGUF metadata of a model

    /// The GGUF metadata of the output: a GGUF source's own, in file order; for an HF source, what llama.cpp's
    /// converter writes from config.json and the tokenizer files.
    static func ggufMetadata(of input: ModelInput) throws -> [(key: String, value: GGUFValue)] {
        switch input.files.source {
        case .gguf(let file):
            return file.metadataOrder.compactMap { key in file.metadata[key].map { (key, $0) } }
        case .hfFolder(let dir, _):
            let c = input.config
            let spec = input.files.spec
            let k = ConfigKeys.self
            let hyper: [(key: String, value: GGUFValue)] = [
                (k.numHiddenLayers.gguf, .uint32(UInt32(c.numHiddenLayers))),
                (k.maxPositionEmbeddings.gguf, .uint32(UInt32(c.maxPositionEmbeddings))),
                (k.hiddenSize.gguf, .uint32(UInt32(c.hiddenSize))),
                (k.intermediateSize.gguf, .uint32(UInt32(c.intermediateSize))),
                (k.numAttentionHeads.gguf, .uint32(UInt32(c.numAttentionHeads))),
                (k.numKeyValueHeads.gguf, .uint32(UInt32(c.numKeyValueHeads))),
                (k.ropeTheta.gguf, .float32(c.ropeTheta)),
                (k.rmsNormEps.gguf, .float32(c.rmsNormEps)),
            ] + spec.ggufExtras(c)
            var kv: [(key: String, value: GGUFValue)] = [
                ("general.architecture", .string(spec.ggufArchitecture)),
                ("general.type", .string("model")),
                ("general.name", .string(dir.lastPathComponent)),
            ] + hyper.map { ("\(spec.ggufArchitecture).\($0.key)", $0.value) }
            kv.append(("general.quantization_version", .uint32(2)))
            kv += try TokenizerConvert.ggufTokenizer(hfFolder: dir, model: spec.tokenizer, vocabSize: c.vocabSize)
            return kv
        }
    }

    /// llama.cpp's `general.file_type` (enum llama_ftype) for the most common type among the matrices.
    static func fileType(_ types: [GGMLType]) -> UInt32? {
        var counts: [GGMLType: Int] = [:]
        for t in types { counts[t, default: 0] += 1 }
        guard let top = counts.max(by: { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) })?.key else { return nil }
        let ftypes: [GGMLType: UInt32] = [.f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9,
                                          .q2_K: 10, .q4_K: 15, .q5_K: 17, .q6_K: 18, .bf16: 32]
        return ftypes[top]
    }

    static func tokenizerJSON(_ file: GGUFFile) throws -> (Data, Data) {
        let t = try TokenizerConvert.hfTokenizer(gguf: file)
        return (try json(t.tokenizer), try json(t.config))
    }
}

import Foundation
import VaneTensor

/// A model as read from disk: its hyperparameters and its tensors under GGUF names (still in their stored types,
/// inside the mmap); the tokenizer and chat template are read from `source` (VaneTokenizer). Opening is a pipeline of pure steps:
/// read the file(s) → rename HF names to GGUF names → (the engine) check every expected tensor is present and
/// every file tensor used → bind.
public final class ModelFiles: Sendable {
    public enum Source: Sendable {
        case gguf(GGUFFile)
        /// An HF folder and its safetensors shards.
        case hfFolder(URL, [SafetensorsFile])
    }

    public let url: URL
    public let source: Source
    public let config: ModelConfig
    /// Tensors by GGUF name.
    public let tensors: [String: StoredTensor]
    /// Tensor names in file order.
    public let tensorOrder: [String]

    public var isGGUF: Bool { if case .gguf = source { true } else { false } }

    /// Bytes on disk of every file the model reads.
    public var fileBytes: Int {
        switch source {
        case .gguf(let f): (try? f.url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
        case .hfFolder(_, let shards):
            shards.reduce(0) { $0 + ((try? $1.url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) }
        }
    }

    /// Vane's provenance keys (`vane.*` GGUF metadata written by its editors and mergers), in file order; for an
    /// HF folder, the `vane.*` keys of the first shard's safetensors `__metadata__`, sorted.
    public var provenance: [(key: String, value: String)] {
        switch source {
        case .gguf(let f):
            return f.metadataOrder.filter { $0.hasPrefix("vane.") }.map { ($0, f.metadata[$0].map { $0.string ?? "\($0)" } ?? "") }
        case .hfFolder(_, let shards):
            let metadata = shards.min { $0.url.lastPathComponent < $1.url.lastPathComponent }?.metadata ?? [:]
            return metadata.filter { $0.key.hasPrefix("vane.") }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
    }

    /// Opens a `.gguf` file or an HF model folder.
    public init(url: URL) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw VaneError("\(url.path): no such file or folder",
                                 hint: "give a .gguf file, an HF model folder, or `smollm2` for the default model")
        }
        self.url = url
        if isDir.boolValue {
            let (tensors, shards) = try loadSafetensorsFolder(url)
            config = try ModelConfig(configJSON: url.appendingPathComponent("config.json"))
            var renamed: [String: StoredTensor] = [:]
            var order: [String] = []
            for var t in tensors where !TensorNames.isIgnoredHF(t.name) {
                guard let name = TensorNames.gguf(fromHF: t.name) else {
                    throw VaneError("\(url.path): unexpected tensor \"\(t.name)\" (no \(config.architecture) weight has this name)")
                }
                t.name = name
                renamed[name] = t
                order.append(name)
            }
            self.tensors = renamed
            tensorOrder = order
            source = .hfFolder(url, shards)
        } else {
            let file = try GGUFFile(url: url)
            source = .gguf(file)
            config = try ModelConfig(gguf: file)
            var byName: [String: StoredTensor] = [:]
            for t in file.tensors { byName[t.name] = t }
            tensors = byName
            tensorOrder = file.tensors.map(\.name)
        }
    }
}

extension ModelConfig {
    /// Hyperparameters from GGUF metadata (`{arch}.embedding_length`, …). RoPE pairing follows the file:
    /// llama.cpp's converter permutes llama Q/K rows for adjacent pairs; qwen2 keeps NeoX pairing.
    public init(gguf file: GGUFFile) throws {
        let m = file.metadata
        let path = file.url.path
        guard let arch = m["general.architecture"]?.string else {
            throw VaneError("\(path): metadata key general.architecture is missing")
        }
        func int(_ key: String) throws -> Int {
            guard let v = m["\(arch).\(key)"]?.int else {
                throw VaneError("\(path): metadata key \(arch).\(key) is missing")
            }
            return v
        }
        if let scaling = m["\(arch).rope.scaling.type"]?.string, scaling != "none" {
            throw VaneError("\(path): RoPE scaling \"\(scaling)\" is not supported (only unscaled RoPE)")
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let names = Set(file.tensors.map(\.name))
        let vocab = m["\(arch).vocab_size"]?.int ?? m["tokenizer.ggml.tokens"]?.array?.count
            ?? file.tensors.first { $0.name == "token_embd.weight" }?.shape.first ?? 0
        self.init(
            architecture: arch,
            hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"),
            numHiddenLayers: try int("block_count"),
            numAttentionHeads: heads,
            numKeyValueHeads: m["\(arch).attention.head_count_kv"]?.int ?? heads,
            headDim: m["\(arch).attention.key_length"]?.int ?? hidden / heads,
            vocabSize: vocab,
            maxPositionEmbeddings: try int("context_length"),
            rmsNormEps: m["\(arch).attention.layer_norm_rms_epsilon"]?.float.map(Float.init) ?? 1e-5,
            ropeTheta: m["\(arch).rope.freq_base"]?.float.map(Float.init) ?? 10000,
            tieWordEmbeddings: !names.contains("output.weight"),
            attentionBias: names.contains("blk.0.attn_q.bias"),
            ropeStyle: arch == "llama" ? .adjacent : .neox)
    }
}

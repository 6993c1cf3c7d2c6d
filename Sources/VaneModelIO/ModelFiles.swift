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
    /// The architecture family (ArchitectureSpec.registry).
    public let spec: ArchitectureSpec
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
                                 hint: "give a .gguf file, an HF model folder, or a name `vane fetch` knows (\(DefaultModel.names))")
        }
        self.url = url
        if isDir.boolValue {
            let (tensors, shards) = try loadSafetensorsFolder(url)
            config = try ModelConfig(configJSON: url.appendingPathComponent("config.json"))
            spec = try config.spec()
            let renamed = try spec.ggufTensors(fromHF: tensors, config: config, path: url.path)
            var byName: [String: StoredTensor] = [:]
            for t in renamed { byName[t.name] = t }
            self.tensors = byName
            tensorOrder = renamed.map(\.name)
            source = .hfFolder(url, shards)
        } else {
            let file = try GGUFFile(url: url)
            source = .gguf(file)
            config = try ModelConfig(gguf: file)
            spec = try config.spec()
            var byName: [String: StoredTensor] = [:]
            for t in file.tensors { byName[t.name] = t }
            tensors = byName
            tensorOrder = file.tensors.map(\.name)
        }
    }
}

extension ModelConfig {
    /// Hyperparameters from GGUF metadata (`{arch}.embedding_length`, …, named in ConfigKeys). RoPE pairing
    /// follows the family's GGUF convention (ArchitectureSpec.ggufRope).
    public init(gguf file: GGUFFile) throws {
        let m = file.metadata
        let path = file.url.path
        guard let arch = m["general.architecture"]?.string else {
            throw VaneError("\(path): metadata key general.architecture is missing")
        }
        let spec = try ArchitectureSpec.forGGUF(arch, hasExperts: m["\(arch).\(ConfigKeys.expertCount.gguf)"] != nil)
        func optional(_ key: ConfigKeys.Key) throws -> Int? {
            let name = "\(arch).\(key.gguf)"
            guard let value = m[name] else { return nil }
            guard let v = value.int else { throw VaneError("\(path): metadata key \(name) is \(value), not an integer") }
            return try ConfigKeys.check(v, key, name: name, path: path)
        }
        func int(_ key: ConfigKeys.Key) throws -> Int {
            guard let v = try optional(key) else { throw VaneError("\(path): metadata key \(arch).\(key.gguf) is missing") }
            return v
        }
        func float(_ key: ConfigKeys.FloatKey, default value: Float) throws -> Float {
            let name = "\(arch).\(key.gguf)"
            guard let v = m[name] else { return value }
            guard let f = v.float else { throw VaneError("\(path): metadata key \(name) is \(v), not a number") }
            return try ConfigKeys.check(f, name: name, path: path)
        }
        if let scaling = m["\(arch).\(ConfigKeys.ropeScalingType)"]?.string, scaling != "none" {
            throw VaneError("\(path): RoPE scaling \"\(scaling)\" is not supported (only unscaled RoPE)")
        }
        let hidden = try int(ConfigKeys.hiddenSize)
        let heads = try int(ConfigKeys.numAttentionHeads)
        let names = Set(file.tensors.map(\.name))
        let vocab = try ConfigKeys.check(
            try optional(ConfigKeys.vocabSize) ?? m["tokenizer.ggml.tokens"]?.array?.count
                ?? file.tensors.first { $0.name == "token_embd.weight" }?.shape.first ?? 0,
            ConfigKeys.vocabSize, name: "the vocabulary size (\(arch).vocab_size, else tokenizer.ggml.tokens)", path: path)
        // Experts from `{arch}.expert_*`; dense layers are those without a router tensor.
        func moe() throws -> MoE? {
            guard spec.hasExperts, let experts = try optional(ConfigKeys.expertCount) else { return nil }
            let k = try int(ConfigKeys.expertUsedCount)
            guard k <= experts else {
                throw VaneError("\(path): \(arch).\(ConfigKeys.expertUsedCount.gguf) is \(k), more than the \(experts) experts")
            }
            let norm = m["\(arch).\(ConfigKeys.expertWeightsNorm)"]
            return MoE(experts: experts, expertsPerToken: k,
                       expertIntermediateSize: try optional(ConfigKeys.expertFeedForwardLength) ?? int(ConfigKeys.intermediateSize),
                       sharedExpertIntermediateSize: try optional(ConfigKeys.expertSharedFeedForwardLength) ?? 0,
                       normTopKProb: norm.map { $0.bool ?? ($0.int != 0) } ?? spec.normTopKDefault,
                       denseLayers: (0..<(try int(ConfigKeys.numHiddenLayers))).filter { !names.contains("blk.\($0).ffn_gate_inp.weight") })
        }
        self.init(
            architecture: spec.name,
            hiddenSize: hidden,
            intermediateSize: try int(ConfigKeys.intermediateSize),
            numHiddenLayers: try int(ConfigKeys.numHiddenLayers),
            numAttentionHeads: heads,
            numKeyValueHeads: try optional(ConfigKeys.numKeyValueHeads) ?? heads,
            headDim: try optional(ConfigKeys.headDim) ?? hidden / heads,
            vocabSize: vocab,
            maxPositionEmbeddings: try int(ConfigKeys.maxPositionEmbeddings),
            rmsNormEps: try float(ConfigKeys.rmsNormEps, default: 1e-5),
            ropeTheta: try float(ConfigKeys.ropeTheta, default: 10000),
            tieWordEmbeddings: !names.contains("output.weight"),
            attentionBias: spec.qkvBias == .always || names.contains("blk.0.attn_q.bias"),
            ropeStyle: spec.ggufRope,
            // 0: no window (llama.cpp writes 0 for a Phi-3 config whose sliding_window is null).
            slidingWindow: m["\(arch).\(ConfigKeys.slidingWindow.gguf)"]?.int == 0 ? nil : try optional(ConfigKeys.slidingWindow),
            moe: try moe())
        try spec.readGGUF(file, &self)
    }
}

import Foundation

/// What Vane knows about one decoder family, as data. The registry below is the only place an architecture is
/// recognised by name: the readers, the engine, the converters and the editors look a family up here and act on
/// its fields. docs/adding-an-architecture.md says how to add one.
///
/// A family is keyed by its GGUF `general.architecture`, which is also `ModelConfig.architecture` whatever the
/// source; config.json names it by `model_type` (several may read as one family) and writes its class name.
public struct ArchitectureSpec: Sendable {
    /// Whether q/k/v projections carry biases.
    public enum Bias: Sendable {
        case always
        /// As config.json's `attention_bias` says (GGUF: as the file's tensors say).
        case fromConfig
    }

    /// GGUF `general.architecture`, the prefix of its hyperparameter keys (`{name}.embedding_length`).
    public let name: String
    /// config.json `model_type` values read as this family; the first is the one written.
    public let modelTypes: [String]
    /// config.json `architectures` class written for this family.
    public let hfClass: String
    /// RoPE pairing in GGUF files of this family. HF checkpoints always rotate (i, i + hd/2); llama.cpp's
    /// converter permutes the Q/K rows of some families so that adjacent dims rotate together.
    public let ggufRope: ModelConfig.RopeStyle
    public let qkvBias: Bias
    /// GGUF `tokenizer.ggml.model` of the family's tokenizer ("gpt2": byte-level BPE).
    public let tokenizer: String
    /// HF ⇄ GGUF tensor names (TensorBinding.swift).
    public let tensors: [TensorBinding]
    /// config.json keys this family writes besides the shared ones (ConfigKeys).
    public let hfConfigExtras: @Sendable (ModelConfig) -> [String: JSONScalar]
    /// GGUF hyperparameter keys (after `{name}.`) this family writes besides the shared ones, as llama.cpp's
    /// converter writes them.
    public let ggufExtras: @Sendable (ModelConfig) -> [(key: String, value: GGUFValue)]
    /// Refuses what this family's config.json may say that Vane does not run.
    let checkHF: @Sendable (HFConfig, String) throws -> Void

    // What a family reads and runs beyond the shared settings (Gemma 2/3, Phi-3); the defaults add nothing.
    /// Reads this family's own config.json settings into the config (file path for errors).
    var readHF: @Sendable (HFConfig, inout ModelConfig, String) throws -> Void = { _, _, _ in }
    /// Reads this family's own GGUF metadata keys into the config.
    var readGGUF: @Sendable (GGUFFile, inout ModelConfig) throws -> Void = { _, _ in }
    /// config.json RoPE types this family runs besides "default".
    var ropeTypes: Set<String> = []
    /// Whether o_proj's and down_proj's outputs pass a norm before they join the residual stream (OLMo 2, Gemma):
    /// then hook_attn_out / hook_mlp_out sit after that norm, and an edit of those weights is not the edit hooked
    /// there (edits refuse it).
    public var postNorms = false

    /// How q and k are RMS-normalized before RoPE, for blocks shared by families with and without such norms
    /// (MoEBlock); nil: no q/k norm. Qwen3Block and Olmo2Block carry theirs in their code.
    public var qkNorm: QKNorm? = nil

    public enum QKNorm: Sendable {
        /// Each head of q and k apart, weights [head_dim] shared by the heads (Qwen3).
        case perHead
        /// Each row over all heads, weights [H·hd] and [KV·hd] (OLMo 2).
        case wholeProjection
    }

    // Mixture-of-experts families.
    /// GGUF `general.architecture` and key prefix when it differs from `name` (llama.cpp writes Mixtral as
    /// `llama` with `llama.expert_count`).
    public var ggufName: String? = nil
    /// The family routes tokens to experts (ModelConfig.moe); its GGUF files have `{arch}.expert_count`.
    public var hasExperts = false
    /// Whether the top-k routing weights are renormalised when config.json has no `norm_topk_prob` (and GGUF no
    /// `expert_weights_norm`).
    public var normTopKDefault = false

    /// GGUF `general.architecture` of the family.
    public var ggufArchitecture: String { ggufName ?? name }

    /// Whether a GGUF file of this family holds Q/K rows permuted for adjacent-pair RoPE.
    public var permutesQK: Bool { ggufRope == .adjacent }
}

extension Float {
    /// The shortest decimal that reads back as this Float (1e-05, not 9.99999974e-06): how config.json states a
    /// value a GGUF file holds as float32.
    public var shortestDecimal: Double { Double("\(self)") ?? Double(self) }
}

/// A JSON value a config.json key may hold, so that specs stay Sendable.
public enum JSONScalar: Sendable, Equatable {
    case bool(Bool)
    case int(Int)
    case string(String)
    case double(Double)
    case null
    case list([JSONScalar])
    case object([String: JSONScalar])

    public var any: Any {
        switch self {
        case .bool(let b): b
        case .int(let i): i
        case .string(let s): s
        case .double(let d): d
        case .null: NSNull()
        case .list(let l): l.map(\.any)
        case .object(let o): o.mapValues(\.any)
        }
    }
}

extension ArchitectureSpec {
    /// Every family Vane runs, converts and edits.
    public static let registry: [ArchitectureSpec] = [
        .llama, .qwen2,
        .qwen3, .olmo2,
        .gemma2, .gemma3, .phi3,
        .qwen2moe, .qwen3moe, .olmoe, .mixtral,  // mixture of experts
    ]

    public static var supported: String { registry.map(\.name).joined(separator: ", ") }

    /// The family of a GGUF `general.architecture` (= `ModelConfig.architecture`).
    public static func named(_ name: String) throws -> ArchitectureSpec {
        guard let spec = registry.first(where: { $0.name == name }) else {
            throw VaneError("architecture \"\(name)\" is not supported", hint: "Vane runs: \(supported)")
        }
        return spec
    }

    /// The family of a GGUF file's `general.architecture`: one name may hold a dense family and a
    /// mixture-of-experts one (`llama`, and Mixtral as llama.cpp writes it), told apart by `{arch}.expert_count`.
    public static func forGGUF(_ architecture: String, hasExperts: Bool) throws -> ArchitectureSpec {
        let candidates = registry.filter { $0.ggufArchitecture == architecture }
        guard let spec = candidates.first(where: { $0.hasExperts == hasExperts }) ?? candidates.first else {
            throw VaneError("architecture \"\(architecture)\" is not supported", hint: "Vane runs: \(supported)")
        }
        return spec
    }

    /// The family of a config.json `model_type`.
    static func forModelType(_ modelType: String, path: String) throws -> ArchitectureSpec {
        guard let spec = registry.first(where: { $0.modelTypes.contains(modelType) }) else {
            throw VaneError("\(path): model_type \"\(modelType)\" is not supported",
                            hint: "Vane runs: \(supported) (config.json model_type \(registry.flatMap(\.modelTypes).joined(separator: ", ")))")
        }
        return spec
    }
}

extension ModelConfig {
    /// The family this config belongs to.
    public func spec() throws -> ArchitectureSpec { try ArchitectureSpec.named(architecture) }
}

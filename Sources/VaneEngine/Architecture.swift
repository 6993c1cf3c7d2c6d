import VaneModelIO

/// The decoder families Vane runs. llama (SmolLM2, Llama-2/3, Mistral without sliding window) and qwen2
/// (Qwen2/2.5, DeepSeek-R1-Distill-Qwen) share one forward pass (Transformer.swift); what differs between them is
/// data, listed here: which tensors each expects. RoPE pairing follows the source file (see ModelConfig.RopeStyle).
public enum Architecture: String, CaseIterable, Sendable {
    case llama
    case qwen2

    public static var supported: String { allCases.map(\.rawValue).joined(separator: ", ") }

    public init(config: ModelConfig) throws {
        guard let a = Architecture(rawValue: config.architecture) else {
            throw VaneError("architecture \"\(config.architecture)\" is not supported",
                                 hint: "Vane runs: \(Architecture.supported)")
        }
        self = a
    }

    /// Tensors one block must have; `biases` are required when the config says attention has biases.
    static let blockTensors = ["attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                               "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
                               "ffn_down.weight"]
    static let attentionBiases = ["attn_q.bias", "attn_k.bias", "attn_v.bias"]
    /// Biases a model may carry without the config saying so (Vane's baked additive edits write them).
    static let optionalBiases = ["attn_output.bias", "ffn_down.bias"]
}

/// Hands out a model's tensors by name, each exactly once, then reports any that nobody took.
struct TensorBinder {
    private var remaining: [String: StoredTensor]
    let source: String

    init(_ files: ModelFiles) {
        remaining = files.tensors
        source = files.url.path
    }

    mutating func take(_ name: String) throws -> StoredTensor {
        guard let t = remaining.removeValue(forKey: name) else {
            throw VaneError("\(source): tensor \(name) is missing")
        }
        return t
    }

    mutating func takeIfPresent(_ name: String) -> StoredTensor? { remaining.removeValue(forKey: name) }

    func finish() throws {
        guard remaining.isEmpty else {
            let names = remaining.keys.sorted()
            throw VaneError("\(source): \(names.count) unexpected tensor(s): "
                                 + names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", …" : ""),
                                 hint: "the file holds weights this architecture does not use")
        }
    }
}

import Foundation

/// The settings Gemma 2/3 and Phi-3 add to the shared ones: their GGUF keys (after `{arch}.`, as llama.cpp's
/// convert_hf_to_gguf.py writes them) and the readers both sources share.
public enum FamilyKeys {
    static let attnLogitSoftcapping = "attn_logit_softcapping"
    static let finalLogitSoftcapping = "final_logit_softcapping"
    static let slidingWindow = "attention.sliding_window"
    /// One bool per layer (gguf-py `add_sliding_window_pattern`). llama.cpp's converter does not write it for
    /// Gemma 3, whose loader assumes every sixth layer full; Vane writes it so that its files keep `layer_types`.
    static let slidingWindowPattern = "attention.sliding_window_pattern"
    static let ropeFreqBaseSWA = "rope.freq_base_swa"
    /// The attention score scale, 1/√query_pre_attn_scalar; llama.cpp's Gemma loaders derive it from the size.
    static let attentionScale = "attention.scale"
    /// Phi-3 LongRoPE (gguf-py `add_rope_scaling_orig_ctx_len`, `add_rope_scaling_attn_factors`).
    public static let ropeScalingOriginalContext = "rope.scaling.original_context_length"
    public static let ropeScalingAttnFactor = "rope.scaling.attn_factor"
}

extension GGUFFile {
    /// The positive finite number at `{arch}.{key}`, nil when absent.
    func positive(_ key: String, arch: String) throws -> Float? {
        let name = "\(arch).\(key)"
        guard let v = metadata[name] else { return nil }
        guard let f = v.float else { throw VaneError("\(url.path): metadata key \(name) is \(v), not a number") }
        return try ConfigKeys.check(f, name: name, path: url.path)
    }

    /// The count at `{arch}.{key}` within `range`, nil when absent.
    func count(_ key: String, arch: String, range: ClosedRange<Int>) throws -> Int? {
        let name = "\(arch).\(key)"
        guard let v = metadata[name] else { return nil }
        guard let n = v.int else { throw VaneError("\(url.path): metadata key \(name) is \(v), not an integer") }
        return try ConfigKeys.check(n, ConfigKeys.Key(hf: name, gguf: name, range: range), name: name, path: url.path)
    }

    /// One bool per layer at `{arch}.{key}`, nil when absent.
    func layerFlags(_ key: String, arch: String, layers: Int) throws -> [Bool]? {
        let name = "\(arch).\(key)"
        guard let v = metadata[name] else { return nil }
        guard let flags = v.array?.compactMap(\.bool), flags.count == layers, v.array?.count == layers else {
            throw VaneError("\(url.path): metadata key \(name) is not \(layers) bools (one per layer)")
        }
        return flags
    }
}

/// Sliding windows up to 16M positions (beyond any context).
let slidingWindowRange = 0...(1 << 24)

/// Sliding-layer flags: every `pattern`-th layer full, the others sliding (transformers' and llama.cpp's default
/// for Gemma 2, pattern 2, and Gemma 3, pattern 6).
func slidingPattern(_ pattern: Int, layers: Int) -> [Bool] {
    (0..<layers).map { ($0 + 1) % pattern != 0 }
}

extension HFConfig {
    /// config.json `layer_types` as flags, else every `pattern`-th layer full.
    func slidingLayers(_ layers: Int, pattern: Int, path: String) throws -> [Bool] {
        guard let types = layer_types else { return slidingPattern(sliding_window_pattern ?? pattern, layers: layers) }
        guard types.count == layers else {
            throw VaneError("\(path): layer_types lists \(types.count) layers; num_hidden_layers is \(layers)")
        }
        return try types.map {
            switch $0 {
            case "sliding_attention": true
            case "full_attention": false
            default: throw VaneError("\(path): layer type \"\($0)\" is not supported (sliding_attention, full_attention)")
            }
        }
    }

    /// A positive finite optional float of config.json.
    func positive(_ v: Double?, _ key: String, path: String) throws -> Float? {
        try v.map { try ConfigKeys.check($0, name: key, path: path) }
    }
}

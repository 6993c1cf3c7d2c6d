import Foundation
import VaneTensor

/// HF checkpoint names ⇄ GGUF names (llama.cpp's `LLM_TENSOR_NAMES`). Vane's internal names are GGUF's, so a GGUF
/// file needs no renaming and an HF folder is renamed once at load, and back when one is written.
///
/// Per-layer names are suffixes after `model.layers.{L}.` (HF) and `blk.{L}.` (GGUF); global names are whole.
/// A binding is one of:
///
///     rename    one HF tensor is one GGUF tensor
///     fused     one HF tensor holds several GGUF tensors stacked along its rows, in order (a fused `qkv_proj`
///               holding attn_q, attn_k, attn_v); the parts' row counts come from the config
///     stacked   one GGUF tensor [E, …] stacks one HF tensor per expert (`mlp.experts.{E}.gate_proj.weight`)
///     fusedExperts  one HF tensor [E, Σ rows, cols] holds, for each expert, several GGUF tensors' rows in order
///               (transformers 5's `mlp.experts.gate_up_proj` [E, 2·F, d]: gate rows, then up rows); each part
///               becomes a stacked GGUF tensor [E, rows, cols]
///
/// Fused and stacked tensors are concatenations along the outermost axis, so either direction moves whole rows:
/// a fused tensor's parts are views into the file, a stacked one is copied once at load, and so is each part of a
/// fusedExperts tensor (its rows interleave by expert). HF folders are written with one tensor per expert (the
/// first binding of a GGUF name is the one written), which transformers 4 and 5 both load.
public struct TensorBinding: Sendable {
    public enum Kind: Sendable {
        case rename
        case fused(rows: @Sendable (ModelConfig) -> [Int])
        case stacked
        case fusedExperts(rows: @Sendable (ModelConfig) -> [Int])
    }

    /// HF name (or suffix); a stacked binding's holds `{E}` where the expert index goes.
    public let hf: String
    /// GGUF names (or suffixes): one, or a fused tensor's parts in row order.
    public let gguf: [String]
    public let kind: Kind
    public let perLayer: Bool
    /// GGUF value = HF value + offset (a rename only): Gemma's norms multiply by (1 + w), and llama.cpp's
    /// converter stores w + 1.
    public var offset: Float = 0

    public static func rename(_ hf: String, _ gguf: String, perLayer: Bool = true) -> TensorBinding {
        TensorBinding(hf: hf, gguf: [gguf], kind: .rename, perLayer: perLayer)
    }

    public static func rename(_ hf: String, _ gguf: String, perLayer: Bool = true, offset: Float) -> TensorBinding {
        TensorBinding(hf: hf, gguf: [gguf], kind: .rename, perLayer: perLayer, offset: offset)
    }

    public static func fused(_ hf: String, _ gguf: [String], rows: @escaping @Sendable (ModelConfig) -> [Int]) -> TensorBinding {
        TensorBinding(hf: hf, gguf: gguf, kind: .fused(rows: rows), perLayer: true)
    }

    public static func stacked(_ hf: String, _ gguf: String) -> TensorBinding {
        TensorBinding(hf: hf, gguf: [gguf], kind: .stacked, perLayer: true)
    }

    public static func fusedExperts(_ hf: String, _ gguf: [String], rows: @escaping @Sendable (ModelConfig) -> [Int]) -> TensorBinding {
        TensorBinding(hf: hf, gguf: gguf, kind: .fusedExperts(rows: rows), perLayer: true)
    }

    /// transformers 5's fused expert tensors (`MergeModulelist` + `Concatenate(dim=1)` in its
    /// conversion_mapping.py): `{prefix}.gate_up_proj` [E, 2·F, d], gate rows first, and `{prefix}.down_proj`
    /// [E, d, F], which is the GGUF stack itself. Listed after a family's per-expert bindings, so those are written.
    public static func fusedExperts(prefix: String) -> [TensorBinding] {
        [.fusedExperts("\(prefix).gate_up_proj", ["ffn_gate_exps.weight", "ffn_up_exps.weight"]) { c in
            let f = c.moe?.expertIntermediateSize ?? 0
            return [f, f]
         },
         .rename("\(prefix).down_proj", "ffn_down_exps.weight")]
    }

    /// The tensors of a llama-style decoder (llama, qwen2): separate projections, optional biases.
    public static let decoder: [TensorBinding] = [
        .rename("model.embed_tokens.weight", "token_embd.weight", perLayer: false),
        .rename("model.norm.weight", "output_norm.weight", perLayer: false),
        .rename("lm_head.weight", "output.weight", perLayer: false),
        .rename("input_layernorm.weight", "attn_norm.weight"),
        .rename("self_attn.q_proj.weight", "attn_q.weight"),
        .rename("self_attn.q_proj.bias", "attn_q.bias"),
        .rename("self_attn.k_proj.weight", "attn_k.weight"),
        .rename("self_attn.k_proj.bias", "attn_k.bias"),
        .rename("self_attn.v_proj.weight", "attn_v.weight"),
        .rename("self_attn.v_proj.bias", "attn_v.bias"),
        .rename("self_attn.o_proj.weight", "attn_output.weight"),
        .rename("self_attn.o_proj.bias", "attn_output.bias"),
        .rename("post_attention_layernorm.weight", "ffn_norm.weight"),
        .rename("mlp.gate_proj.weight", "ffn_gate.weight"),
        .rename("mlp.up_proj.weight", "ffn_up.weight"),
        .rename("mlp.down_proj.weight", "ffn_down.weight"),
        .rename("mlp.down_proj.bias", "ffn_down.bias"),
    ]

    /// HF tensors that carry no weights (buffers older checkpoints saved); dropped at load.
    static let ignoredHF = ["rotary_emb.inv_freq"]
}

/// A name split into its layer (and expert) index and the suffix a binding names.
struct TensorName {
    static let hfLayer = "model.layers.", ggufLayer = "blk."

    /// (layer, suffix) of `prefix{L}.suffix`.
    static func split(_ name: String, prefix: String) -> (layer: Int, suffix: String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        return (layer, String(rest[rest.index(after: dot)...]))
    }

    /// The expert index of `suffix` against a pattern holding `{E}`, nil when it does not match.
    static func expert(_ suffix: String, pattern: String) -> Int? {
        let parts = pattern.components(separatedBy: "{E}")
        guard parts.count == 2, suffix.hasPrefix(parts[0]), suffix.hasSuffix(parts[1]),
              suffix.count > parts[0].count + parts[1].count else { return nil }
        let digits = suffix.dropFirst(parts[0].count).dropLast(parts[1].count)
        guard digits.allSatisfy(\.isASCII), let e = Int(digits), e >= 0, String(e) == digits else { return nil }
        return e
    }
}

extension ArchitectureSpec {
    /// The GGUF name of an HF tensor bound by `rename`, nil when none is (fused and stacked tensors have no one
    /// GGUF name).
    public func gguf(fromHF name: String) -> String? {
        if let b = tensors.first(where: { !$0.perLayer && $0.hf == name }) { return b.gguf[0] }
        guard let (layer, suffix) = TensorName.split(name, prefix: TensorName.hfLayer),
              let b = tensors.first(where: { $0.perLayer && $0.hf == suffix }), case .rename = b.kind else { return nil }
        return "blk.\(layer).\(b.gguf[0])"
    }

    /// The HF name of a GGUF tensor bound by `rename`, nil otherwise.
    public func hf(fromGGUF name: String) -> String? {
        if let b = tensors.first(where: { !$0.perLayer && $0.gguf == [name] }) { return b.hf }
        guard let (layer, suffix) = TensorName.split(name, prefix: TensorName.ggufLayer),
              let b = tensors.first(where: { $0.perLayer && $0.gguf.contains(suffix) }), case .rename = b.kind else { return nil }
        return "model.layers.\(layer).\(b.hf)"
    }

    /// Whether some binding names this GGUF tensor (as a whole tensor or a fused tensor's part).
    public func binds(gguf name: String) -> Bool {
        if tensors.contains(where: { !$0.perLayer && $0.gguf == [name] }) { return true }
        guard let (_, suffix) = TensorName.split(name, prefix: TensorName.ggufLayer) else { return false }
        return tensors.contains { $0.perLayer && $0.gguf.contains(suffix) }
    }

    /// An HF folder's tensors under GGUF names, in file order: renamed, fused ones split into row views, stacked
    /// ones copied into one tensor per layer (at the place of expert 0). A tensor no binding names is an error.
    public func ggufTensors(fromHF hfTensors: [StoredTensor], config: ModelConfig, path: String) throws -> [StoredTensor] {
        var out: [StoredTensor] = []
        var experts: [String: [Int: StoredTensor]] = [:]    // GGUF name → expert index → HF tensor
        var stackAt: [String: Int] = [:]                     // GGUF name → its place in `out`
        for t in hfTensors where !TensorBinding.ignoredHF.contains(where: { t.name.hasSuffix($0) }) {
            if let b = tensors.first(where: { !$0.perLayer && $0.hf == t.name }) {
                out.append(try shifted(renamed(t, b.gguf[0]), by: b.offset))
                continue
            }
            guard let (layer, suffix) = TensorName.split(t.name, prefix: TensorName.hfLayer) else {
                throw VaneError("\(path): unexpected tensor \"\(t.name)\" (no \(name) weight has this name)")
            }
            let prefix = "blk.\(layer)."
            if let b = tensors.first(where: { $0.perLayer && $0.hf == suffix }) {
                switch b.kind {
                case .rename:
                    out.append(try shifted(renamed(t, prefix + b.gguf[0]), by: b.offset))
                case .fused(let rows):
                    out += try split(t, into: b.gguf.map { prefix + $0 }, rows: rows(config), path: path)
                case .stacked:
                    break
                case .fusedExperts(let rows):
                    out += try splitExperts(t, into: b.gguf.map { prefix + $0 }, rows: rows(config), path: path)
                }
            } else if let (b, e) = tensors.lazy.compactMap({ b -> (TensorBinding, Int)? in
                guard case .stacked = b.kind, b.perLayer else { return nil }
                return TensorName.expert(suffix, pattern: b.hf).map { (b, $0) }
            }).first {
                let target = prefix + b.gguf[0]
                if stackAt[target] == nil {
                    stackAt[target] = out.count
                    out.append(t)                                // replaced below
                }
                experts[target, default: [:]][e] = t
            } else {
                throw VaneError("\(path): unexpected tensor \"\(t.name)\" (no \(name) weight has this name)")
            }
        }
        for (target, index) in stackAt { out[index] = try stack(experts[target]!, as: target, path: path) }
        var seen: Set<String> = []
        for t in out where !seen.insert(t.name).inserted {
            throw VaneError("\(path): \(t.name) is given twice (the folder holds the experts both one tensor per expert and fused)",
                            hint: "keep one layout of the expert weights")
        }
        return out
    }

    /// For writing an HF folder: each HF tensor, its shape, and the GGUF tensors (indices into `gguf`, each
    /// whole or a range of its outermost axis) whose bytes it holds in order.
    public func hfTensors(fromGGUF gguf: [(name: String, shape: [Int])]) throws -> [HFTensor] {
        var out: [HFTensor] = []
        var fusedAt: [String: Int] = [:]
        for (i, t) in gguf.enumerated() {
            if let b = tensors.first(where: { !$0.perLayer && $0.gguf == [t.name] }) {
                out.append(HFTensor(name: b.hf, shape: t.shape, parts: [.init(index: i, rows: nil)], offset: b.offset))
                continue
            }
            guard let (layer, suffix) = TensorName.split(t.name, prefix: TensorName.ggufLayer),
                  let b = tensors.first(where: { $0.perLayer && $0.gguf.contains(suffix) }) else {
                throw VaneError("tensor \(t.name) has no HF name, so it cannot be written to an HF folder")
            }
            let hfName = "model.layers.\(layer).\(b.hf)"
            switch b.kind {
            case .rename:
                out.append(HFTensor(name: hfName, shape: t.shape, parts: [.init(index: i, rows: nil)], offset: b.offset))
            case .fusedExperts:
                throw VaneError("tensor \(t.name) has no per-expert HF name to be written under")
            case .fused:
                if let k = fusedAt[hfName] {
                    guard out[k].shape.dropFirst() == t.shape.dropFirst() else {
                        throw VaneError("tensor \(t.name) has shape \(t.shape); the other parts of \(hfName) have rows of \(Array(out[k].shape.dropFirst()))")
                    }
                    out[k].shape[0] += t.shape[0]
                    out[k].parts.append(.init(index: i, rows: nil))
                } else {
                    fusedAt[hfName] = out.count
                    out.append(HFTensor(name: hfName, shape: t.shape, parts: [.init(index: i, rows: nil)]))
                }
            case .stacked:
                guard t.shape.count >= 2 else { throw VaneError("tensor \(t.name) has shape \(t.shape); stacked experts need [E, …]") }
                for e in 0..<t.shape[0] {
                    out.append(HFTensor(name: "model.layers.\(layer).\(b.hf.replacingOccurrences(of: "{E}", with: "\(e)"))",
                                        shape: Array(t.shape.dropFirst()), parts: [.init(index: i, rows: e..<(e + 1))]))
                }
            }
        }
        for (name, k) in fusedAt {
            let (layer, suffix) = TensorName.split(name, prefix: TensorName.hfLayer)!
            let b = tensors.first { $0.hf == suffix }!
            let have = out[k].parts.map { gguf[$0.index].name }
            let want = b.gguf.map { "blk.\(layer).\($0)" }
            guard have == want else {
                throw VaneError("\(name) fuses \(want.joined(separator: ", ")) in this order; the model has \(have.joined(separator: ", "))")
            }
        }
        return out
    }

    private func renamed(_ t: StoredTensor, _ name: String) -> StoredTensor {
        var t = t
        t.name = name
        return t
    }

    /// Row views of a fused tensor, one per part.
    private func split(_ t: StoredTensor, into names: [String], rows: [Int], path: String) throws -> [StoredTensor] {
        guard t.shape.count == 2 || t.shape.count == 1, rows.reduce(0, +) == t.shape[0], rows.allSatisfy({ $0 > 0 }) else {
            throw VaneError("\(path): \(t.name) has shape \(t.shape); the config makes it \(rows.map(String.init).joined(separator: " + ")) rows (\(names.joined(separator: ", ")))")
        }
        let rowBytes = t.type.byteCount(t.shape.count == 2 ? t.shape[1] : 1)
        var start = 0
        return zip(names, rows).map { name, n in
            defer { start += n }
            let bytes = UnsafeRawBufferPointer(rebasing: t.bytes[(start * rowBytes)..<((start + n) * rowBytes)])
            return StoredTensor(name: name, type: t.type, shape: [n] + t.shape.dropFirst(), bytes: bytes, owner: t.owner)
        }
    }

    /// The parts of a fused expert tensor [E, Σ rows, cols], each copied into one stacked tensor [E, rows, cols].
    private func splitExperts(_ t: StoredTensor, into names: [String], rows: [Int], path: String) throws -> [StoredTensor] {
        let total = rows.reduce(0, +)
        guard t.shape.count == 3, t.shape[1] == total, rows.allSatisfy({ $0 > 0 }), t.shape[0] > 0 else {
            throw VaneError("\(path): \(t.name) has shape \(t.shape); the config makes it [experts, \(rows.map(String.init).joined(separator: " + ")), hidden] (\(names.joined(separator: ", ")) of each expert)")
        }
        let (E, rowBytes) = (t.shape[0], t.type.byteCount(t.shape[2]))
        var start = 0
        return try zip(names, rows).map { name, n in
            defer { start += n }
            let slices = (0..<E).map { e in
                UnsafeRawBufferPointer(rebasing: t.bytes[((e * total + start) * rowBytes)..<((e * total + start + n) * rowBytes)])
            }
            let copy = try MappedFile(copying: slices, url: URL(fileURLWithPath: path).appendingPathComponent(name))
            return StoredTensor(name: name, type: t.type, shape: [E, n, t.shape[2]],
                                bytes: UnsafeRawBufferPointer(rebasing: copy.bytes[0..<(E * n * rowBytes)]), owner: copy)
        }
    }

    /// `t` as F32 with `offset` added to every value (itself when the offset is 0).
    private func shifted(_ t: StoredTensor, by offset: Float) throws -> StoredTensor {
        guard offset != 0 else { return t }
        let values = dequantize(t).data.map { $0 + offset }
        let copy = try values.withUnsafeBytes { try MappedFile(copying: [$0], url: t.owner.url.appendingPathComponent(t.name)) }
        return StoredTensor(name: t.name, type: .f32, shape: t.shape,
                            bytes: UnsafeRawBufferPointer(rebasing: copy.bytes[0..<(t.count * 4)]), owner: copy)
    }

    /// One tensor [E, …] from experts 0..<E, each of the same type and shape.
    private func stack(_ experts: [Int: StoredTensor], as name: String, path: String) throws -> StoredTensor {
        let n = experts.count
        guard let first = experts[0], (0..<n).allSatisfy({ experts[$0] != nil }) else {
            throw VaneError("\(path): the experts of \(name) are not numbered 0…\(n - 1) (found \(experts.keys.sorted().map(String.init).joined(separator: ", ")))")
        }
        for e in 1..<max(n, 1) where experts[e]!.type != first.type || experts[e]!.shape != first.shape {
            throw VaneError("\(path): expert \(e) of \(name) is \(experts[e]!.type) \(experts[e]!.shape), expert 0 is \(first.type) \(first.shape)")
        }
        let stacked = try MappedFile(copying: (0..<n).map { experts[$0]!.bytes },
                                     url: URL(fileURLWithPath: path).appendingPathComponent(name))
        return StoredTensor(name: name, type: first.type, shape: [n] + first.shape,
                            bytes: UnsafeRawBufferPointer(rebasing: stacked.bytes[0..<(first.bytes.count * n)]), owner: stacked)
    }
}

/// One tensor of an HF folder being written: the GGUF tensors (or slices of their outermost axis) it concatenates.
public struct HFTensor: Sendable {
    public struct Part: Sendable {
        public var index: Int
        public var rows: Range<Int>?
    }

    public var name: String
    public var shape: [Int]
    public var parts: [Part]
    /// Subtracted from the GGUF values when written (TensorBinding.offset).
    public var offset: Float = 0
}

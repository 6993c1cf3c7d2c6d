import Foundation
import VaneModelIO

/// Byte-level BPE tokenizers between GGUF metadata and HF tokenizer.json.
///
/// GGUF (llama.cpp): `tokenizer.ggml.model` = "gpt2", `.pre` names the pre-tokenizer, `.tokens` lists the pieces by
/// id, `.token_type` gives each one's kind (1 normal, 3 control = a special added token, 4 user-defined = a
/// non-special added token, 5 unused padding), `.merges` the merge rules as "left right" in rank order, and
/// `.bos/eos/unknown/padding_token_id`, `.add_bos_token`, `.add_eos_token`; `tokenizer.chat_template` the template.
///
/// tokenizer.json: model {type "BPE", vocab {piece: id}, merges [[left, right]]}, added_tokens [{id, content,
/// special, …}], and the pre-tokenizer, post-processor and decoder as objects. tokenizer_config.json names the
/// special tokens by content and may hold the chat template.
///
/// The pre-tokenizer is the one part GGUF stores by name only; the table below holds, for each name llama.cpp
/// gives, the tokenizer.json object that tokenizes the same way.
public enum TokenizerConvert {
    static var byteLevelNoRegex: [String: Any] { ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false] }

    static func split(_ regex: String) -> [String: Any] {
        ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false]
    }

    /// `tokenizer.ggml.pre` → tokenizer.json `pre_tokenizer`.
    static var preTokenizers: [String: [String: Any]] { [
        "smollm": ["type": "Sequence", "pretokenizers": [
            ["type": "Digits", "individual_digits": true],
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
        ]],
        "gpt-2": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
        "qwen2": ["type": "Sequence", "pretokenizers": [
            split(#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#),
            byteLevelNoRegex,
        ]],
        "llama-bpe": ["type": "Sequence", "pretokenizers": [
            split(#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#),
            byteLevelNoRegex,
        ]],
    ] }

    static var decoder: [String: Any] { ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true] }

    static func canonical(_ object: Any) -> String? {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The llama.cpp name of a tokenizer.json pre-tokenizer, nil when the table has none.
    static func preName(_ preTokenizer: Any) -> String? {
        guard let c = canonical(preTokenizer) else { return nil }
        return preTokenizers.sorted { $0.key < $1.key }.first { canonical($0.value) == c }?.key
    }

    // MARK: GGUF → HF

    /// tokenizer.json and tokenizer_config.json objects from a GGUF file's tokenizer metadata.
    public static func hfTokenizer(gguf file: GGUFFile) throws -> (tokenizer: [String: Any], config: [String: Any]) {
        let m = file.metadata, path = file.url.path
        let model = m["tokenizer.ggml.model"]?.string ?? "(none)"
        guard model == "gpt2" else {
            throw VaneError("\(path): tokenizer.ggml.model is \"\(model)\"; Vane converts byte-level BPE tokenizers (\"gpt2\") only")
        }
        guard let tokens = m["tokenizer.ggml.tokens"]?.stringArray, let merges = m["tokenizer.ggml.merges"]?.stringArray else {
            throw VaneError("\(path): tokenizer.ggml.tokens or tokenizer.ggml.merges is missing or not a list of strings")
        }
        let types = m["tokenizer.ggml.token_type"]?.intArray ?? [Int](repeating: 1, count: tokens.count)
        guard types.count == tokens.count else {
            throw VaneError("\(path): tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        let pre = m["tokenizer.ggml.pre"]?.string ?? "gpt-2"
        guard let preTokenizer = preTokenizers[pre == "default" ? "gpt-2" : pre] else {
            throw VaneError("\(path): pre-tokenizer \"\(pre)\" has no tokenizer.json equivalent in Vane",
                            hint: "known: " + preTokenizers.keys.sorted().joined(separator: ", "))
        }

        var vocab: [String: Int] = [:]
        var added: [[String: Any]] = []
        for (id, token) in tokens.enumerated() {
            guard vocab.updateValue(id, forKey: token) == nil else {
                throw VaneError("\(path): token \(id) \"\(token)\" appears twice in tokenizer.ggml.tokens")
            }
            if types[id] == 3 || types[id] == 4 {
                added.append(["id": id, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
                              "normalized": types[id] == 4, "special": types[id] == 3])
            }
        }
        var mergePairs: [[String]] = []
        for (i, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw VaneError("\(path): merge \(i) \"\(merge)\" is not \"left right\"")
            }
            mergePairs.append(parts.map(String.init))
        }

        func token(_ key: String) -> Any {
            guard let id = m["tokenizer.ggml.\(key)"]?.int, id >= 0, id < tokens.count else { return NSNull() }
            return tokens[id]
        }
        let addBOS = m["tokenizer.ggml.add_bos_token"]?.bool ?? false
        let bosID = m["tokenizer.ggml.bos_token_id"]?.int
        var single: [[String: Any]] = [["Sequence": ["id": "A", "type_id": 0]]]
        var pair: [[String: Any]] = [["Sequence": ["id": "A", "type_id": 0]], ["Sequence": ["id": "B", "type_id": 1]]]
        var specials: [String: Any] = [:]
        if addBOS, let bosID, bosID < tokens.count {
            let bos = tokens[bosID]
            single.insert(["SpecialToken": ["id": bos, "type_id": 0]], at: 0)
            pair.insert(["SpecialToken": ["id": bos, "type_id": 0]], at: 0)
            pair.insert(["SpecialToken": ["id": bos, "type_id": 1]], at: 2)
            specials[bos] = ["id": bos, "ids": [bosID], "tokens": [bos]]
        }

        let tokenizer: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": added,
            "normalizer": NSNull(),
            "pre_tokenizer": preTokenizer,
            "post_processor": ["type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials],
            "decoder": decoder,
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": mergePairs] as [String: Any],
        ]
        var config: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": token("bos_token_id"),
            "eos_token": token("eos_token_id"),
            "pad_token": token("padding_token_id"),
            "unk_token": token("unknown_token_id"),
            "add_bos_token": addBOS,
            "clean_up_tokenization_spaces": false,
        ]
        if let add = m["tokenizer.ggml.add_eos_token"]?.bool { config["add_eos_token"] = add }
        if let context = m["\(m["general.architecture"]?.string ?? "").context_length"]?.int { config["model_max_length"] = context }
        if let template = m["tokenizer.chat_template"]?.string { config["chat_template"] = template }
        return (tokenizer, config)
    }

    // MARK: HF → GGUF

    /// `tokenizer.*` GGUF metadata from an HF folder's tokenizer.json, tokenizer_config.json and chat template;
    /// ids past the tokenizer's last up to `vocabSize` become unused "[PAD{id}]" pieces, as llama.cpp pads them.
    /// `model` is the family's GGUF tokenizer model (ArchitectureSpec.tokenizer).
    public static func ggufTokenizer(hfFolder dir: URL, model tokenizerModel: String, vocabSize: Int) throws -> [(key: String, value: GGUFValue)] {
        guard tokenizerModel == "gpt2" else {
            throw VaneError("\(dir.path): the family's tokenizer is \"\(tokenizerModel)\"; Vane converts byte-level BPE tokenizers (\"gpt2\") only")
        }
        let url = dir.appendingPathComponent("tokenizer.json")
        guard let data = try? Data(contentsOf: url) else {
            throw VaneError("\(dir.path) has no readable tokenizer.json", hint: "GGUF output needs the tokenizer; Vane reads it from tokenizer.json")
        }
        guard let j = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = j["model"] as? [String: Any] else {
            throw VaneError("\(url.path): not a tokenizer.json object with a \"model\"")
        }
        guard model["type"] as? String == "BPE", let vocab = model["vocab"] as? [String: Int] else {
            throw VaneError("\(url.path): model type is \(model["type"] ?? "missing"); Vane converts byte-level BPE tokenizers only")
        }
        guard model["byte_fallback"] as? Bool != true else {
            throw VaneError("\(url.path): a SentencePiece-style tokenizer (byte_fallback); Vane reads it but converts byte-level BPE tokenizers only",
                            hint: "convert the tokenizer with llama.cpp's convert_hf_to_gguf.py, or keep the HF folder")
        }
        guard let pre = j["pre_tokenizer"].flatMap(preName) else {
            throw VaneError("\(url.path): its pre_tokenizer matches none that llama.cpp names",
                            hint: "known: " + preTokenizers.keys.sorted().joined(separator: ", "))
        }
        let added = j["added_tokens"] as? [[String: Any]] ?? []
        var ids = vocab
        for a in added { if let id = a["id"] as? Int, let content = a["content"] as? String { ids[content] = id } }
        let count = max(vocabSize, (ids.values.max() ?? -1) + 1)
        var tokens = [String?](repeating: nil, count: count)
        for (piece, id) in ids where id >= 0 { tokens[id] = piece }
        var types = [Int32](repeating: 1, count: count)
        for a in added {
            if let id = a["id"] as? Int, id >= 0 { types[id] = (a["special"] as? Bool ?? false) ? 3 : 4 }
        }
        var pieces: [GGUFValue] = []
        for (id, t) in tokens.enumerated() {
            if let t { pieces.append(.string(t)) } else { pieces.append(.string("[PAD\(id)]")); types[id] = 5 }
        }
        var merges: [GGUFValue] = []
        for (i, merge) in (model["merges"] as? [Any] ?? []).enumerated() {
            if let s = merge as? String { merges.append(.string(s)) }
            else if let pair = merge as? [String], pair.count == 2 { merges.append(.string(pair.joined(separator: " "))) }
            else { throw VaneError("\(url.path): merge \(i) is neither \"left right\" nor [left, right]") }
        }

        var kv: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string(tokenizerModel)),
            ("tokenizer.ggml.pre", .string(pre)),
            ("tokenizer.ggml.tokens", .array(pieces)),
            ("tokenizer.ggml.token_type", .array(types.map { .int32($0) })),
            ("tokenizer.ggml.merges", .array(merges)),
        ]
        let tc = (try? Data(contentsOf: dir.appendingPathComponent("tokenizer_config.json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        let cfg = (try? Data(contentsOf: dir.appendingPathComponent("config.json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        // Special tokens: tokenizer_config.json names them by content; config.json's ids fill the gaps.
        for (name, key) in [("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id"), ("pad", "padding_token_id")] {
            let entry = tc["\(name)_token"]
            let content = entry as? String ?? (entry as? [String: Any])?["content"] as? String
            if let id = content.flatMap({ ids[$0] }) ?? cfg["\(name)_token_id"] as? Int, id >= 0, id < count {
                kv.append(("tokenizer.ggml.\(key)", .uint32(UInt32(id))))
            }
        }
        if let add = tc["add_bos_token"] as? Bool { kv.append(("tokenizer.ggml.add_bos_token", .bool(add))) }
        if let add = tc["add_eos_token"] as? Bool { kv.append(("tokenizer.ggml.add_eos_token", .bool(add))) }
        let jinja = try? String(contentsOf: dir.appendingPathComponent("chat_template.jinja"), encoding: .utf8)
        if let template = jinja ?? tc["chat_template"] as? String {
            kv.append(("tokenizer.chat_template", .string(template)))
        }
        return kv
    }
}

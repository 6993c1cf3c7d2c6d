import Foundation
import VaneModelIO

/// Tokenizers between GGUF metadata and HF tokenizer.json: byte-level BPE, and SentencePiece BPE with byte fallback
/// (below, "SentencePiece").
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
///
/// SentencePiece in GGUF (`tokenizer.ggml.model` = "llama") keeps each piece's score instead of merges:
/// `.tokens`, `.scores`, `.token_type` (2 unknown, 3 control, 6 byte = `<0xNN>`), `.add_space_prefix`. In
/// tokenizer.json it is a BPE model with `byte_fallback`, a Metaspace pre-tokenizer, merges and a decoder that turns
/// "▁" back into spaces. GGUF → tokenizer.json is what transformers' LlamaConverter writes from a tokenizer.model:
/// every split of a piece into two pieces is a merge, ordered by the joined piece's score (generate_merges).
/// tokenizer.json → GGUF gives each piece the score −(rank of the first merge that makes it), so that llama.cpp's
/// rule (join the adjacent pair whose joined piece scores highest) takes the merges in rank order; pieces no merge
/// makes score below every merged one. This is exact when the merges list every split, as converters write them.
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
        if model == "llama" { return try sentencePieceHF(gguf: file) }
        guard model == "gpt2" else {
            throw VaneError("\(path): tokenizer.ggml.model is \"\(model)\"; Vane converts byte-level BPE (\"gpt2\") and SentencePiece (\"llama\") tokenizers")
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

        let (vocab, added) = try vocabulary(tokens, types: types, path: path)
        var mergePairs: [[String]] = []
        for (i, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw VaneError("\(path): merge \(i) \"\(merge)\" is not \"left right\"")
            }
            mergePairs.append(parts.map(String.init))
        }

        let addBOS = m["tokenizer.ggml.add_bos_token"]?.bool ?? false
        let tokenizer: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": added,
            "normalizer": NSNull(),
            "pre_tokenizer": preTokenizer,
            "post_processor": postProcessor(file, tokens: tokens, addBOS: addBOS),
            "decoder": decoder,
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": mergePairs] as [String: Any],
        ]
        return (tokenizer, tokenizerConfig(file, tokens: tokens, addBOS: addBOS))
    }

    /// tokenizer.json's vocab {piece: id} and added_tokens (control tokens special, user-defined ones not).
    static func vocabulary(_ tokens: [String], types: [Int], path: String) throws -> (vocab: [String: Int], added: [[String: Any]]) {
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
        return (vocab, added)
    }

    /// A TemplateProcessing that puts BOS first when the file says so (`add_bos_token`).
    static func postProcessor(_ file: GGUFFile, tokens: [String], addBOS: Bool) -> [String: Any] {
        var single: [[String: Any]] = [["Sequence": ["id": "A", "type_id": 0]]]
        var pair: [[String: Any]] = [["Sequence": ["id": "A", "type_id": 0]], ["Sequence": ["id": "B", "type_id": 1]]]
        var specials: [String: Any] = [:]
        if addBOS, let bosID = file.metadata["tokenizer.ggml.bos_token_id"]?.int, bosID >= 0, bosID < tokens.count {
            let bos = tokens[bosID]
            single.insert(["SpecialToken": ["id": bos, "type_id": 0]], at: 0)
            pair.insert(["SpecialToken": ["id": bos, "type_id": 0]], at: 0)
            pair.insert(["SpecialToken": ["id": bos, "type_id": 1]], at: 2)
            specials[bos] = ["id": bos, "ids": [bosID], "tokens": [bos]]
        }
        return ["type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials]
    }

    /// tokenizer_config.json: the special tokens by content, add_bos/eos, the context and the chat template.
    static func tokenizerConfig(_ file: GGUFFile, tokens: [String], addBOS: Bool) -> [String: Any] {
        let m = file.metadata
        func token(_ key: String) -> Any {
            guard let id = m["tokenizer.ggml.\(key)"]?.int, id >= 0, id < tokens.count else { return NSNull() }
            return tokens[id]
        }
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
        return config
    }

    /// SentencePiece: tokenizer.json as transformers' LlamaConverter writes it (non-legacy Metaspace form).
    static func sentencePieceHF(gguf file: GGUFFile) throws -> (tokenizer: [String: Any], config: [String: Any]) {
        let m = file.metadata, path = file.url.path
        guard let tokens = m["tokenizer.ggml.tokens"]?.stringArray, let scores = m["tokenizer.ggml.scores"]?.floatArray else {
            throw VaneError("\(path): tokenizer.ggml.tokens or tokenizer.ggml.scores is missing or not a list",
                            hint: "a SentencePiece vocabulary needs its pieces and one score per piece")
        }
        let types = m["tokenizer.ggml.token_type"]?.intArray ?? [Int](repeating: 1, count: tokens.count)
        guard scores.count == tokens.count, types.count == tokens.count else {
            throw VaneError("\(path): \(tokens.count) tokens, \(scores.count) scores and \(types.count) token types; expected one of each per token")
        }
        let (vocab, added) = try vocabulary(tokens, types: types, path: path)
        let prefix = m["tokenizer.ggml.add_space_prefix"]?.bool ?? true
        var decoders: [[String: Any]] = [["type": "Replace", "pattern": ["String": "▁"], "content": " "],
                                         ["type": "ByteFallback"], ["type": "Fuse"]]
        if prefix { decoders.append(["type": "Strip", "content": " ", "start": 1, "stop": 0]) }
        let unk = m["tokenizer.ggml.unknown_token_id"]?.int ?? types.firstIndex(of: 2)
        let addBOS = m["tokenizer.ggml.add_bos_token"]?.bool ?? true
        let tokenizer: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": added,
            "normalizer": NSNull(),
            "pre_tokenizer": ["type": "Metaspace", "replacement": "▁", "prepend_scheme": prefix ? "first" : "never", "split": false],
            "post_processor": postProcessor(file, tokens: tokens, addBOS: addBOS),
            "decoder": ["type": "Sequence", "decoders": decoders],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": unk.flatMap { $0 >= 0 && $0 < tokens.count ? tokens[$0] : nil } ?? NSNull(),
                      "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull(), "fuse_unk": true,
                      "byte_fallback": true, "ignore_merges": false, "vocab": vocab,
                      "merges": sentencePieceMerges(tokens, scores: scores, vocab: vocab).map { [$0.0, $0.1] }] as [String: Any],
        ]
        var config = tokenizerConfig(file, tokens: tokens, addBOS: addBOS)
        config["legacy"] = false
        config["add_prefix_space"] = prefix
        return (tokenizer, config)
    }

    /// transformers' generate_merges: each split of each piece into two pieces of the vocabulary, ordered by the
    /// joined piece's score (highest first), then by the longer left and right part; pieces in id order, the splits
    /// of one piece by the ids of their parts.
    static func sentencePieceMerges(_ tokens: [String], scores: [Double], vocab: [String: Int]) -> [(String, String)] {
        var found: [(score: Double, left: String, right: String, order: Int)] = []
        func text(_ s: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(s)) }
        for (id, piece) in tokens.enumerated() {
            let chars = Array(piece.unicodeScalars)
            var local: [(String, String)] = []
            for cut in chars.indices.dropFirst() {
                let left = text(chars[..<cut]), right = text(chars[cut...])
                if vocab[left] != nil, vocab[right] != nil { local.append((left, right)) }
            }
            local.sort { (vocab[$0.0]!, vocab[$0.1]!) < (vocab[$1.0]!, vocab[$1.1]!) }
            for (l, r) in local { found.append((scores[id], l, r, found.count)) }
        }
        // Python's sorted(reverse=True) is stable: equal keys keep their order.
        found.sort {
            let a = ($0.score, $0.left.unicodeScalars.count, $0.right.unicodeScalars.count)
            let b = ($1.score, $1.left.unicodeScalars.count, $1.right.unicodeScalars.count)
            return a != b ? a > b : $0.order < $1.order
        }
        return found.map { ($0.left, $0.right) }
    }

    // MARK: HF → GGUF

    /// `tokenizer.*` GGUF metadata from an HF folder's tokenizer.json, tokenizer_config.json and chat template;
    /// ids past the tokenizer's last up to `vocabSize` become unused "[PAD{id}]" pieces, as llama.cpp pads them.
    /// `model` is the family's GGUF tokenizer model (ArchitectureSpec.tokenizer) for byte-level BPE; a tokenizer.json
    /// with byte fallback is written as SentencePiece ("llama") whatever the family.
    public static func ggufTokenizer(hfFolder dir: URL, model tokenizerModel: String, vocabSize: Int) throws -> [(key: String, value: GGUFValue)] {
        let url = dir.appendingPathComponent("tokenizer.json")
        guard let data = try? Data(contentsOf: url) else {
            throw VaneError("\(dir.path) has no readable tokenizer.json", hint: "GGUF output needs the tokenizer; Vane reads it from tokenizer.json")
        }
        guard let j = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = j["model"] as? [String: Any] else {
            throw VaneError("\(url.path): not a tokenizer.json object with a \"model\"")
        }
        guard model["type"] as? String == "BPE", let vocab = model["vocab"] as? [String: Int] else {
            throw VaneError("\(url.path): model type is \(model["type"] ?? "missing"); Vane converts BPE tokenizers (byte-level, or SentencePiece with byte fallback)")
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
        var merges: [[String]] = []
        for (i, merge) in (model["merges"] as? [Any] ?? []).enumerated() {
            if let s = merge as? String, let cut = s.dropFirst().firstIndex(of: " ") {
                merges.append([String(s[..<cut]), String(s[s.index(after: cut)...])])
            } else if let pair = merge as? [String], pair.count == 2 { merges.append(pair) }
            else { throw VaneError("\(url.path): merge \(i) is neither \"left right\" nor [left, right]") }
        }

        var kv: [(key: String, value: GGUFValue)]
        if model["byte_fallback"] as? Bool == true {
            kv = try sentencePieceGGUF(j, url: url, tokens: &tokens, types: &types, merges: merges, unk: model["unk_token"] as? String)
        } else {
            guard let pre = j["pre_tokenizer"].flatMap(preName) else {
                throw VaneError("\(url.path): its pre_tokenizer matches none that llama.cpp names",
                                hint: "known: " + preTokenizers.keys.sorted().joined(separator: ", "))
            }
            kv = [("tokenizer.ggml.model", .string(tokenizerModel)), ("tokenizer.ggml.pre", .string(pre)),
                  ("tokenizer.ggml.tokens", .array(padded(&tokens, &types))),
                  ("tokenizer.ggml.token_type", .array(types.map { .int32($0) })),
                  ("tokenizer.ggml.merges", .array(merges.map { .string($0.joined(separator: " ")) }))]
        }
        let tc = (try? Data(contentsOf: dir.appendingPathComponent("tokenizer_config.json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        let cfg = (try? Data(contentsOf: dir.appendingPathComponent("config.json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        // Special tokens: tokenizer_config.json names them by content; config.json's ids fill the gaps.
        for (name, key) in [("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id"), ("pad", "padding_token_id")] {
            let entry = tc["\(name)_token"]
            let content = entry as? String ?? (entry as? [String: Any])?["content"] as? String
            if let id = content.flatMap({ ids[$0] }) ?? cfg["\(name)_token_id"] as? Int, id >= 0, id < count,
               !kv.contains(where: { $0.key == "tokenizer.ggml.\(key)" }) {
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

    /// Pieces by id, ids no piece names padded as unused "[PAD{id}]" (type 5), as llama.cpp pads them.
    static func padded(_ tokens: inout [String?], _ types: inout [Int32]) -> [GGUFValue] {
        tokens.enumerated().map { id, t in
            if let t { return .string(t) }
            types[id] = 5
            return .string("[PAD\(id)]")
        }
    }

    /// SentencePiece: the GGUF vocabulary llama.cpp reads, with scores from the merge ranks (see the top of this
    /// file) and the space prefix from the Metaspace pre-tokenizer or a Prepend("▁") normalizer.
    static func sentencePieceGGUF(_ j: [String: Any], url: URL, tokens: inout [String?], types: inout [Int32],
                                  merges: [[String]], unk: String?) throws -> [(key: String, value: GGUFValue)] {
        let pre = j["pre_tokenizer"] as? [String: Any]
        let normalizers = (j["normalizer"] as? [String: Any]).map { n in
            n["type"] as? String == "Sequence" ? n["normalizers"] as? [[String: Any]] ?? [] : [n]
        } ?? []
        let prefix: Bool
        if let pre, pre["type"] as? String == "Metaspace" {
            let scheme = pre["prepend_scheme"] as? String ?? (pre["add_prefix_space"] as? Bool == false ? "never" : "always")
            prefix = scheme != "never"
        } else {
            prefix = normalizers.contains { $0["type"] as? String == "Prepend" && $0["prepend"] as? String == "▁" }
        }
        let pieces = padded(&tokens, &types)
        var id: [String: Int] = [:]
        for (i, t) in tokens.enumerated() { if let t, id[t] == nil { id[t] = i } }
        // Byte pieces <0xNN> are type 6 and the unknown piece type 2, as llama.cpp's converter marks them.
        for (i, t) in tokens.enumerated() where types[i] == 1 {
            if let t, t.count == 6, t.hasPrefix("<0x"), t.hasSuffix(">"), UInt8(t.dropFirst(3).prefix(2), radix: 16) != nil { types[i] = 6 }
        }
        if let unk, let u = id[unk] { types[u] = 2 }
        var scores = [Float](repeating: -Float(merges.count + 1), count: tokens.count)
        for (rank, pair) in merges.enumerated().reversed() {
            guard let joined = id[pair[0] + pair[1]] else {
                throw VaneError("\(url.path): merge \(rank) joins \"\(pair[0])\" and \"\(pair[1])\" into a piece the vocabulary does not have")
            }
            scores[joined] = -Float(rank)
        }
        for (i, t) in types.enumerated() where t != 1 { scores[i] = 0 }
        var kv: [(key: String, value: GGUFValue)] = [
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array(pieces)),
            ("tokenizer.ggml.scores", .array(scores.map { .float32($0) })),
            ("tokenizer.ggml.token_type", .array(types.map { .int32($0) })),
            ("tokenizer.ggml.add_space_prefix", .bool(prefix)),
        ]
        if let unk, let u = id[unk] { kv.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(u)))) }
        return kv
    }
}

import Foundation
import VaneCore

/// HF tokenizers' `tokenizer.json`, the parts byte-level BPE uses:
///
///     model          {type: "BPE", vocab: {token: id}, merges: ["a b", …] or [["a", "b"], …], ignore_merges,
///                     byte_fallback, continuing_subword_prefix, end_of_word_suffix}
///     added_tokens   [{id, content, special, lstrip, rstrip, …}]  — matched in raw text before pre-tokenization
///     normalizer     null | NFC | Sequence of those
///     pre_tokenizer  Sequence | Split {pattern: {Regex | String}, behavior, invert} | Digits {individual_digits}
///                    | ByteLevel {add_prefix_space, use_regex}
///     post_processor null | TemplateProcessing {single: [{SpecialToken: {id}} | {Sequence: …}], special_tokens}
///                    | ByteLevel | RobertaProcessing / BertProcessing {cls, sep} | Sequence {processors}
///     decoder        ByteLevel (or a Sequence of it)
///
/// `tokenizer_config.json` (optional) names the BOS/EOS tokens (`bos_token`, `eos_token`: a string or
/// {content}) and may force BOS on or off (`add_bos_token`), which transformers applies over the post-processor.
extension BPETokenizer {
    public convenience init(tokenizerJSON: URL, tokenizerConfig: URL?) throws {
        let file = tokenizerJSON.path
        let root = try Self.readJSONObject(tokenizerJSON)
        let config = try tokenizerConfig.map(Self.readJSONObject) ?? [:]
        let configFile = tokenizerConfig?.path ?? ""

        // model
        guard let model = root["model"] as? [String: Any] else {
            throw VaneError("\(file): no \"model\" object; is this an HF tokenizer.json?")
        }
        let modelType = model["type"] as? String ?? "BPE"
        guard modelType == "BPE" else {
            throw VaneError("\(file): model.type \"\(modelType)\" is not supported; Vane reads byte-level BPE tokenizers only")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key] as? String, !v.isEmpty {
                throw VaneError("\(file): model.\(key) \"\(v)\" is not supported by Vane's byte-level BPE")
            }
        }
        guard let vocab = model["vocab"] as? [String: Int] else {
            throw VaneError("\(file): model.vocab is missing or not an object of token → id")
        }

        let addedList = root["added_tokens"] as? [[String: Any]] ?? []
        var added: [AddedToken] = []
        for (i, t) in addedList.enumerated() {
            guard let id = t["id"] as? Int, let content = t["content"] as? String else {
                throw VaneError("\(file): added_tokens[\(i)] lacks an integer id or a string content")
            }
            added.append(AddedToken(content: content, id: id, special: t["special"] as? Bool ?? false,
                                    lstrip: t["lstrip"] as? Bool ?? false, rstrip: t["rstrip"] as? Bool ?? false))
        }

        // The table is sized from the largest id, so every id is checked before it is allocated: within the sane
        // bound, and leaving no more gaps than there are tokens (real files number their tokens densely).
        let entries = vocab.count + added.count
        let bound = min(Self.maxVocabulary, max(2 * entries, 1024))
        func check(_ id: Int, _ key: String) throws {
            guard id >= 0 && id < bound else {
                throw VaneError("\(file): \(key) has id \(id), outside 0..<\(bound) (the file has \(entries) tokens)",
                                hint: "token ids run from 0 up to about the number of tokens; the file is damaged")
            }
        }
        for (token, id) in vocab { try check(id, "model.vocab[\(token.debugDescription)]") }
        for (i, a) in added.enumerated() { try check(a.id, "added_tokens[\(i)] (\(a.content.debugDescription))") }
        let size = max(vocab.values.max() ?? -1, added.map(\.id).max() ?? -1) + 1
        var pieces = [String](repeating: "", count: size)
        for (token, id) in vocab { pieces[id] = token }
        for a in added { pieces[a.id] = a.content }

        let merges = try Self.parseMerges(model["merges"], file: file)
        let sentencePiece = try Self.parseSentencePiece(root, model: model, vocab: vocab, file: file)
        let normalizeNFC = try sentencePiece == nil ? Self.parseNormalizer(root["normalizer"], file: file) : false
        let preTokenizer = try sentencePiece == nil ? Self.parsePreTokenizer(root["pre_tokenizer"], file: file) : PreTokenizer(steps: [])
        if sentencePiece == nil { try Self.checkDecoder(root["decoder"], file: file) }

        let idOf: (String) -> Int? = { name in added.first { $0.content == name }?.id ?? vocab[name] }
        var (prefix, suffix) = try Self.parsePostProcessor(root["post_processor"], idOf: idOf, file: file)

        func configToken(_ key: String) throws -> Int? {
            let value = config[key]
            let name = (value as? String) ?? ((value as? [String: Any])?["content"] as? String)
            guard let name else { return nil }
            guard let id = idOf(name) else {
                throw VaneError("\(configFile): \(key) \(name.debugDescription) is not a token of \(file)")
            }
            return id
        }
        let bosID = try configToken("bos_token") ?? prefix.first
        let eosID = try configToken("eos_token")
        if let addBOS = config["add_bos_token"] as? Bool {
            if let bosID {
                prefix.removeAll { $0 == bosID }
                if addBOS { prefix.insert(bosID, at: 0) }
            } else if addBOS {
                throw VaneError("\(configFile): add_bos_token is true but no bos_token is named")
            }
        }
        // Only BOS may precede the text; other leading tokens are refused rather than silently dropped.
        let addBOS = prefix.first == bosID && bosID != nil
        let otherPrefix = Array(prefix.dropFirst(addBOS ? 1 : 0))
        guard otherPrefix.isEmpty else {
            throw VaneError("\(file): post_processor puts \(otherPrefix) before the text besides BOS; Vane adds only BOS there")
        }

        try self.init(pieces: pieces, merges: merges, added: added, preTokenizer: preTokenizer,
                      normalizeNFC: normalizeNFC, ignoreMerges: model["ignore_merges"] as? Bool ?? false,
                      bosID: bosID, eosID: eosID, addBOS: addBOS, suffixIDs: suffix, sentencePiece: sentencePiece,
                      source: file)
    }

    /// SentencePiece-style BPE (model.byte_fallback, a Metaspace pre-tokenizer, or a normalizer writing "▁"),
    /// nil for byte-level BPE. Two spellings exist: a Prepend("▁") + Replace(" " → "▁") normalizer (Llama 2 and
    /// Mistral v0.1 files; Gemma's has the Replace alone), or a Metaspace pre-tokenizer (transformers' newer
    /// converter) whose `prepend_scheme` "first" puts "▁" only at the start of the input, and not before a space.
    static func parseSentencePiece(_ root: [String: Any], model: [String: Any], vocab: [String: Int],
                                   file: String) throws -> SentencePiece? {
        let normalizer = root["normalizer"] as? [String: Any], pre = root["pre_tokenizer"] as? [String: Any]
        let steps = normalizer.map { n in n["type"] as? String == "Sequence" ? n["normalizers"] as? [[String: Any]] ?? [] : [n] } ?? []
        func replacesSpaces(_ n: [String: Any]) -> Bool {
            n["type"] as? String == "Replace" && (n["pattern"] as? [String: Any])?["String"] as? String == " "
                && n["content"] as? String == "▁"
        }
        let metaspace = pre?["type"] as? String == "Metaspace"
        guard model["byte_fallback"] as? Bool == true || metaspace || steps.contains(where: replacesSpaces) else { return nil }
        var prefix = false, every = false, spaces = false
        for (i, n) in steps.enumerated() {
            if replacesSpaces(n) {
                spaces = true
            } else if n["type"] as? String == "Prepend", n["prepend"] as? String == "▁" {
                (prefix, every) = (true, true)
            } else {
                throw VaneError("\(file): normalizer step \(i) (\(n["type"] ?? "?")) is not supported in a SentencePiece tokenizer (supported: Prepend \"▁\", Replace \" \" → \"▁\")")
            }
        }
        if let pre {
            guard metaspace, pre["replacement"] as? String ?? "▁" == "▁" else {
                throw VaneError("\(file): pre_tokenizer \(pre["type"] ?? "?") is not supported in a SentencePiece tokenizer (supported: Metaspace with \"▁\")")
            }
            guard pre["split"] as? Bool != true else {
                throw VaneError("\(file): a Metaspace pre-tokenizer with split = true is not supported (Vane merges across words as SentencePiece does)")
            }
            let scheme = pre["prepend_scheme"] as? String ?? (pre["add_prefix_space"] as? Bool == false ? "never" : "always")
            switch scheme {
            case "always": (prefix, every) = (true, true)
            case "first": (prefix, every) = (true, false)
            case "never": break
            default: throw VaneError("\(file): Metaspace prepend_scheme \"\(scheme)\" is not one of always, first, never")
            }
            spaces = true
        }
        guard spaces else {
            throw VaneError("\(file): a byte-fallback BPE that does not write spaces as \"▁\" is not supported")
        }
        return SentencePiece(addSpacePrefix: prefix, prefixEverySegment: every, prefixUnlessSpace: metaspace, removeExtraWhitespaces: false,
                             unkID: (model["unk_token"] as? String).flatMap { vocab[$0] })
    }

    /// Vocabularies in use reach about 262,000 tokens (Gemma 3); 2^24 leaves room and still bounds the tables.
    static let maxVocabulary = 1 << 24

    private static func readJSONObject(_ url: URL) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw VaneError("\(url.path): cannot read: \(error.localizedDescription)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw VaneError("\(url.path): not valid JSON: \(error.localizedDescription)")
        }
        guard let dict = object as? [String: Any] else {
            throw VaneError("\(url.path): expected a JSON object at the top level")
        }
        return dict
    }

    /// Merges as "a b" strings (split at the first space after the first character) or ["a", "b"] pairs.
    static func parseMerges(_ value: Any?, file: String) throws -> [(String, String)] {
        guard let list = value as? [Any] else {
            throw VaneError("\(file): model.merges is missing or not a list")
        }
        return try list.enumerated().map { i, m in
            if let pair = m as? [String], pair.count == 2 { return (pair[0], pair[1]) }
            if let s = m as? String, let pair = splitMerge(s) { return pair }
            throw VaneError("\(file): model.merges[\(i)] is neither \"a b\" nor [\"a\", \"b\"]: \(m)")
        }
    }

    static func splitMerge(_ s: String) -> (String, String)? {
        guard let first = s.first, let space = s[s.index(after: s.startIndex)...].firstIndex(of: " "), first != " " else {
            return nil
        }
        return (String(s[..<space]), String(s[s.index(after: space)...]))
    }

    /// Returns whether text is NFC-normalized; other normalizers are refused.
    private static func parseNormalizer(_ value: Any?, file: String) throws -> Bool {
        guard let n = value as? [String: Any] else { return false }
        let type = n["type"] as? String ?? "?"
        switch type {
        case "NFC": return true
        case "Sequence":
            let parts = n["normalizers"] as? [Any] ?? []
            return try parts.reduce(false) { try $0 || parseNormalizer($1, file: file) }
        default:
            throw VaneError("\(file): normalizer type \"\(type)\" is not supported (supported: null, NFC)")
        }
    }

    private static func parsePreTokenizer(_ value: Any?, file: String) throws -> PreTokenizer {
        var steps: [PreTokenizer.Step] = []
        var sawByteLevel = false
        func add(_ value: Any?, path: String) throws {
            guard let p = value as? [String: Any] else { return }
            let type = p["type"] as? String ?? "?"
            switch type {
            case "Sequence":
                for (i, inner) in (p["pretokenizers"] as? [Any] ?? []).enumerated() {
                    try add(inner, path: "\(path).pretokenizers[\(i)]")
                }
            case "ByteLevel":
                sawByteLevel = true
                if p["add_prefix_space"] as? Bool == true { steps.append(.prefixSpace) }
                if p["use_regex"] as? Bool ?? true {
                    steps.append(.split(.gpt2(finalWhitespace: true), .isolated, invert: false))
                }
            case "Digits":
                let individual = p["individual_digits"] as? Bool ?? false
                steps.append(.split(.digits(individual: individual), .isolated, invert: false))
            case "Split":
                let pattern = p["pattern"] as? [String: Any] ?? [:]
                let behaviorName = p["behavior"] as? String ?? "?"
                guard let behavior = PreTokenizer.Behavior(rawValue: behaviorName) else {
                    throw VaneError("\(file): \(path).behavior \"\(behaviorName)\" is not one of Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous")
                }
                let invert = p["invert"] as? Bool ?? false
                if let regex = pattern["Regex"] as? String {
                    guard let known = PreTokenizer.knownRegexes[regex] else {
                        throw VaneError("\(file): \(path).pattern.Regex \(regex.debugDescription) is not supported; Vane implements the GPT-2, Llama 3 and Qwen2 pre-tokenizer regexes")
                    }
                    steps.append(.split(known, behavior, invert: invert))
                } else if let literal = pattern["String"] as? String {
                    steps.append(.split(.literal(Array(literal.unicodeScalars)), behavior, invert: invert))
                } else {
                    throw VaneError("\(file): \(path).pattern is neither {\"Regex\": …} nor {\"String\": …}")
                }
            default:
                throw VaneError("\(file): \(path).type \"\(type)\" is not supported (supported: Sequence, Split, Digits, ByteLevel)")
            }
        }
        try add(value, path: "pre_tokenizer")
        guard sawByteLevel else {
            throw VaneError("\(file): pre_tokenizer has no ByteLevel step; Vane reads byte-level BPE tokenizers only")
        }
        return PreTokenizer(steps: steps)
    }

    private static func checkDecoder(_ value: Any?, file: String) throws {
        guard let d = value as? [String: Any] else { return }
        let type = d["type"] as? String ?? "?"
        switch type {
        case "ByteLevel": return
        case "Sequence":
            for inner in d["decoders"] as? [Any] ?? [] { try checkDecoder(inner, file: file) }
        default:
            throw VaneError("\(file): decoder type \"\(type)\" is not supported; Vane decodes byte-level BPE (decoder ByteLevel)")
        }
    }

    /// The special tokens the post-processor puts before and after a single sequence.
    private static func parsePostProcessor(_ value: Any?, idOf: (String) -> Int?, file: String) throws -> (prefix: [Int], suffix: [Int]) {
        guard let p = value as? [String: Any] else { return ([], []) }
        let type = p["type"] as? String ?? "?"
        func lookup(_ name: String, _ what: String) throws -> Int {
            guard let id = idOf(name) else {
                throw VaneError("\(file): post_processor \(what) \(name.debugDescription) is not a token")
            }
            return id
        }
        switch type {
        case "ByteLevel":
            return ([], [])
        case "Sequence":
            var prefix: [Int] = [], suffix: [Int] = []
            for inner in p["processors"] as? [Any] ?? [] {
                let (a, b) = try parsePostProcessor(inner, idOf: idOf, file: file)
                prefix += a
                suffix = b + suffix
            }
            return (prefix, suffix)
        case "TemplateProcessing":
            let specials = p["special_tokens"] as? [String: Any] ?? [:]
            var prefix: [Int] = [], suffix: [Int] = []
            var sawSequence = false
            for item in p["single"] as? [[String: Any]] ?? [] {
                if item["Sequence"] != nil { sawSequence = true; continue }
                guard let special = item["SpecialToken"] as? [String: Any], let name = special["id"] as? String else {
                    throw VaneError("\(file): post_processor.single has an item that is neither SpecialToken nor Sequence")
                }
                let ids: [Int]
                if let entry = specials[name] as? [String: Any], let listed = entry["ids"] as? [Int] {
                    ids = listed
                } else {
                    ids = [try lookup(name, "special token")]
                }
                if sawSequence { suffix += ids } else { prefix += ids }
            }
            return (prefix, suffix)
        case "RobertaProcessing", "BertProcessing":
            guard let cls = p["cls"] as? [Any], let clsName = cls.first as? String,
                  let sep = p["sep"] as? [Any], let sepName = sep.first as? String
            else { throw VaneError("\(file): post_processor \(type) lacks cls/sep") }
            return ([try lookup(clsName, "cls")], [try lookup(sepName, "sep")])
        default:
            throw VaneError("\(file): post_processor type \"\(type)\" is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence)")
        }
    }
}

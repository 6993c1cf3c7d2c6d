import VaneCore

/// Byte-level BPE from GGUF metadata (`tokenizer.ggml.model` = "gpt2"), given as plain values so that this target
/// does not parse GGUF itself:
///
///     tokenizer.ggml.tokens          [string]  id → byte-level token text
///     tokenizer.ggml.token_type      [int32]   1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
///     tokenizer.ggml.merges          [string]  "a b", rank = index
///     tokenizer.ggml.pre             string    pre-tokenizer name (llama.cpp `llama_vocab::impl::load`)
///     tokenizer.ggml.bos_token_id / eos_token_id / eot_token_id    uint32
///     tokenizer.ggml.add_bos_token   bool      absent → the pre-tokenizer's default, as in llama.cpp
///
/// Control (3), user-defined (4) and unknown (2) tokens are matched in raw text like HF added tokens; control and
/// unknown ones only when parsing special tokens (llama.cpp `tokenizer_st_partition`).
extension BPETokenizer {
    /// llama.cpp's pre-tokenizers that Vane implements: name → (regex steps, Llama 3's ignore_merges, default
    /// add_bos). Each step applies to the pieces of the one before.
    static let ggufPreTokenizers: [String: (steps: [PreTokenizer.Pattern], ignoreMerges: Bool, addBOS: Bool)] = {
        let gpt2 = PreTokenizer.Pattern.gpt2(finalWhitespace: false)
        let llama3 = (steps: [PreTokenizer.Pattern.llama3(maxDigits: 3)], ignoreMerges: true, addBOS: true)
        let qwen2 = (steps: [PreTokenizer.Pattern.llama3(maxDigits: 1)], ignoreMerges: false, addBOS: false)
        return [
            "default": ([.punctuationRuns, gpt2, .digits(individual: false), .asciiDigitTriples], false, false),
            "gpt-2": ([gpt2], false, false),
            "gpt2": ([gpt2], false, false),
            "smollm": ([.digits(individual: true), gpt2], false, false),
            "llama3": llama3, "llama-v3": llama3, "llama-bpe": llama3,
            "qwen2": qwen2, "deepseek-r1-qwen": qwen2,
        ]
    }()

    /// - Parameters:
    ///   - pre: `tokenizer.ggml.pre`; pass "default" when the file lacks it (llama.cpp does the same).
    ///   - addBOS: `tokenizer.ggml.add_bos_token`, or nil when absent.
    ///   - eotID: `tokenizer.ggml.eot_token_id` when present; it joins endOfTurnIDs.
    public convenience init(ggufTokens: [String], tokenTypes: [Int], merges: [String], pre: String, bosID: Int?,
                            eosID: Int?, addBOS: Bool?, eotID: Int? = nil, file: String = "GGUF") throws {
        let source = "\(file) tokenizer.ggml.*"
        for (key, id) in [("bos_token_id", bosID), ("eos_token_id", eosID), ("eot_token_id", eotID)] {
            if let id, id < 0 || id >= ggufTokens.count {
                throw VaneError("\(file): tokenizer.ggml.\(key) \(id) is outside the vocabulary of \(ggufTokens.count) tokens")
            }
        }
        guard let preTokenizer = Self.ggufPreTokenizers[pre] else {
            let known = Self.ggufPreTokenizers.keys.sorted().joined(separator: ", ")
            throw VaneError("\(source): tokenizer.ggml.pre \"\(pre)\" is not supported (supported: \(known))")
        }
        guard ggufTokens.count <= Self.maxVocabulary else {
            throw VaneError("\(source): tokenizer.ggml.tokens has \(ggufTokens.count) entries, more than \(Self.maxVocabulary)")
        }
        guard tokenTypes.isEmpty || tokenTypes.count == ggufTokens.count else {
            throw VaneError("\(source): token_type has \(tokenTypes.count) entries for \(ggufTokens.count) tokens")
        }
        var added: [AddedToken] = []
        for (id, type) in tokenTypes.enumerated() where type == 2 || type == 3 || type == 4 {
            added.append(AddedToken(content: ggufTokens[id], id: id, special: type != 4))
        }
        let pairs = try merges.enumerated().map { i, m in
            guard let pair = Self.splitMerge(m) else {
                throw VaneError("\(source): tokenizer.ggml.merges[\(i)] \(m.debugDescription) is not \"a b\"")
            }
            return pair
        }
        try self.init(pieces: ggufTokens, merges: pairs, added: added,
                      preTokenizer: PreTokenizer(steps: preTokenizer.steps.map { .split($0, .isolated, invert: false) }),
                      normalizeNFC: false, ignoreMerges: preTokenizer.ignoreMerges, bosID: bosID, eosID: eosID,
                      addBOS: addBOS ?? preTokenizer.addBOS, extraEndOfTurnIDs: eotID.map { [$0] } ?? [],
                      source: source)
    }
}

/// SentencePiece BPE from GGUF metadata (`tokenizer.ggml.model` = "llama", llama.cpp's SPM vocabulary):
///
///     tokenizer.ggml.tokens          [string]  id → piece ("▁the", "<0x0A>")
///     tokenizer.ggml.scores          [float32] the piece's score: the higher, the earlier it merges
///     tokenizer.ggml.token_type      [int32]   as above; 6 (byte) marks the `<0xNN>` fallback tokens
///     tokenizer.ggml.add_space_prefix          bool  "▁" before the text (default true, as in llama.cpp)
///     tokenizer.ggml.remove_extra_whitespaces  bool  SentencePiece's whitespace normalisation (default false)
///     tokenizer.ggml.unknown_token_id          uint32
///
/// llama.cpp merges the adjacent pair whose joined piece scores highest (leftmost among equals); Vane ranks
/// every split of every normal piece into two pieces by that score, which orders the same merges.
extension BPETokenizer {
    public convenience init(ggufSentencePiece tokens: [String], scores: [Double], tokenTypes: [Int],
                            addSpacePrefix: Bool?, removeExtraWhitespaces: Bool?, bosID: Int?, eosID: Int?,
                            unkID: Int?, addBOS: Bool?, eotID: Int? = nil, file: String = "GGUF") throws {
        let source = "\(file) tokenizer.ggml.*"
        for (key, id) in [("bos_token_id", bosID), ("eos_token_id", eosID), ("eot_token_id", eotID), ("unknown_token_id", unkID)] {
            if let id, id < 0 || id >= tokens.count {
                throw VaneError("\(file): tokenizer.ggml.\(key) \(id) is outside the vocabulary of \(tokens.count) tokens")
            }
        }
        guard tokens.count <= Self.maxVocabulary else {
            throw VaneError("\(source): tokenizer.ggml.tokens has \(tokens.count) entries, more than \(Self.maxVocabulary)")
        }
        guard scores.count == tokens.count else {
            throw VaneError("\(source): tokenizer.ggml.scores has \(scores.count) entries for \(tokens.count) tokens",
                            hint: "a SentencePiece vocabulary needs one score per token")
        }
        guard tokenTypes.isEmpty || tokenTypes.count == tokens.count else {
            throw VaneError("\(source): token_type has \(tokenTypes.count) entries for \(tokens.count) tokens")
        }
        let types = tokenTypes.isEmpty ? [Int](repeating: 1, count: tokens.count) : tokenTypes
        var added: [AddedToken] = []
        for (id, type) in types.enumerated() where type == 2 || type == 3 || type == 4 {
            added.append(AddedToken(content: tokens[id], id: id, special: type != 4))
        }
        try self.init(pieces: tokens, merges: Self.merges(pieces: tokens, scores: scores, types: types), added: added,
                      preTokenizer: PreTokenizer(steps: []), normalizeNFC: false, ignoreMerges: false,
                      bosID: bosID, eosID: eosID, addBOS: addBOS ?? true, extraEndOfTurnIDs: eotID.map { [$0] } ?? [],
                      sentencePiece: SentencePiece(addSpacePrefix: addSpacePrefix ?? true, prefixEverySegment: true, prefixUnlessSpace: false,
                                                   removeExtraWhitespaces: removeExtraWhitespaces ?? false,
                                                   unkID: unkID ?? types.firstIndex(of: 2)),
                      source: source)
    }

    /// Every split of a normal piece into two pieces, highest score of the joined piece first.
    static func merges(pieces: [String], scores: [Double], types: [Int]) -> [(String, String)] {
        var index: [String: Int] = [:]
        for (id, p) in pieces.enumerated() where types[id] == 1 || types[id] == 4 { index[p] = id }
        var found: [(score: Double, id: Int, left: String, right: String)] = []
        for (id, p) in pieces.enumerated() where types[id] == 1 {
            let scalars = Array(p.unicodeScalars)
            for cut in scalars.indices.dropFirst() {
                let left = String(String.UnicodeScalarView(scalars[..<cut])), right = String(String.UnicodeScalarView(scalars[cut...]))
                if index[left] != nil, index[right] != nil { found.append((scores[id], id, left, right)) }
            }
        }
        found.sort { ($0.score, -$0.id) > ($1.score, -$1.id) }
        return found.map { ($0.left, $0.right) }
    }
}

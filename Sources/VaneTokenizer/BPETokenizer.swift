import Foundation
import Synchronization
import VaneCore

/// Byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM2 …), built from an HF tokenizer.json or GGUF `tokenizer.ggml.*`.
///
/// Encoding: (1) added/special tokens are found in the raw text, leftmost first and longest first at a position,
/// and cut out; (2) the text between them is optionally NFC-normalized and pre-tokenized into pieces; (3) each
/// piece's UTF-8 bytes become byte-level symbols (one vocabulary token per byte) which are merged pairwise, the
/// lowest-ranked mergeable pair first and the leftmost among equals, until no pair has a merge (HF
/// `Word::merge_all`, llama.cpp `llm_tokenizer_bpe_session`). Decoding maps tokens back to bytes, then UTF-8.
public final class BPETokenizer: Sendable {
    /// A token found in raw text before pre-tokenization: HF `added_tokens`, GGUF control / user-defined tokens.
    struct AddedToken: Sendable {
        var content: String
        var id: Int
        /// Special tokens are matched only when encoding with parseSpecial, and dropped by skipSpecial.
        var special: Bool
        /// HF AddedToken lstrip/rstrip: the match swallows the whitespace before / after it.
        var lstrip = false
        var rstrip = false
    }

    private struct Merge: Sendable { var rank: Int32; var result: Int32 }

    /// SentencePiece-style BPE (Llama 2, Mistral v0.1, Gemma, Phi-3; GGUF `tokenizer.ggml.model` = "llama"):
    /// spaces become "▁", symbols start as Unicode scalars, and a scalar outside the vocabulary falls back to its
    /// UTF-8 bytes as `<0xNN>` tokens. Merges are ranked pairs as in byte-level BPE (from the file, or from the
    /// pieces' scores for GGUF). Nil for byte-level BPE.
    public struct SentencePiece: Sendable {
        /// Put "▁" before the text (SentencePiece `add_dummy_prefix`, GGUF `add_space_prefix`).
        var addSpacePrefix: Bool
        /// Before every stretch of text between added tokens (llama.cpp, HF's Prepend normalizer), or only at the
        /// start of the input (HF Metaspace `prepend_scheme: first`).
        var prefixEverySegment: Bool
        /// No "▁" before text that starts with a space (HF Metaspace; SentencePiece and HF's Prepend add it anyway).
        var prefixUnlessSpace: Bool
        /// Drop leading and trailing spaces and collapse runs of them (SentencePiece `remove_extra_whitespaces`).
        var removeExtraWhitespaces: Bool
        /// The unknown token, for a scalar with neither a token nor byte tokens.
        var unkID: Int?
    }

    private let pieces: [String]
    private let pieceBytes: [[UInt8]]
    private let tokenToID: [String: Int]
    /// Byte → id of its one-scalar byte-level token; -1 where the vocabulary lacks it.
    private let byteToID: [Int]
    private let merges: [UInt64: Merge]
    /// Added tokens by first scalar, longest first.
    private let addedByFirstScalar: [Unicode.Scalar: [(scalars: [Unicode.Scalar], token: AddedToken)]]
    private let specialIDs: Set<Int>
    private let preTokenizer: PreTokenizer
    private let normalizeNFC: Bool
    /// A piece that is itself a vocabulary token is emitted as is, without merging (HF ignore_merges, Llama 3).
    private let ignoreMerges: Bool
    /// Tokens put around the text when encoding with addSpecial (BOS; a few templates also append one).
    private let prefixIDs: [Int]
    private let suffixIDs: [Int]
    private let sentencePiece: SentencePiece?
    private let cache = WordCache()

    public let bosID: Int?
    public let eosID: Int?
    /// Tokens that end a generated turn: EOS, and whichever of the usual end-of-turn tokens the vocabulary has.
    public let endOfTurnIDs: Set<Int>

    /// Names of end-of-turn tokens across model families (ChatML, Llama 3, DeepSeek, GPT-2, Phi-3, Gemma).
    static let endOfTurnNames = ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end▁of▁sentence|>", "<|endoftext|>",
                                 "<|end|>", "<end_of_turn>"]

    /// - Parameters:
    ///   - pieces: id → token string, byte-level encoded ("Ġthe"); added tokens hold their raw content.
    ///   - merges: ranked pairs, rank = index.
    ///   - source: the file or metadata the vocabulary came from, for error messages.
    init(pieces: [String], merges mergeList: [(String, String)], added: [AddedToken], preTokenizer: PreTokenizer,
         normalizeNFC: Bool, ignoreMerges: Bool, bosID: Int?, eosID: Int?, addBOS: Bool, suffixIDs: [Int] = [],
         extraEndOfTurnIDs: [Int] = [], sentencePiece: SentencePiece? = nil, source: String) throws {
        var tokenToID: [String: Int] = [:]
        tokenToID.reserveCapacity(pieces.count)
        for (id, p) in pieces.enumerated() where !p.isEmpty { tokenToID[p] = id }
        for a in added {
            guard a.id >= 0 && a.id < pieces.count else {
                throw VaneError("\(source): added token \(a.content.debugDescription) has id \(a.id), outside the vocabulary of \(pieces.count) tokens")
            }
            tokenToID[a.content] = a.id
        }
        let named = [("BOS", bosID), ("EOS", eosID)] + suffixIDs.map { ("post-processor suffix", $0) }
            + extraEndOfTurnIDs.map { ("end-of-turn", $0) }
        for (name, id) in named {
            if let id, id < 0 || id >= pieces.count {
                throw VaneError("\(source): \(name) id \(id) is outside the vocabulary of \(pieces.count) tokens")
            }
        }
        if addBOS && bosID == nil {
            throw VaneError("\(source): the tokenizer adds a BOS token but names none; give its id or name")
        }

        var byteToID = [Int](repeating: -1, count: 256)
        for b in 0..<256 {
            let token = sentencePiece == nil ? String(ByteLevel.byteToScalar[b]) : Self.byteToken(UInt8(b))
            byteToID[b] = tokenToID[token] ?? -1
        }

        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, (a, b)) in mergeList.enumerated() {
            guard let l = tokenToID[a], let r = tokenToID[b], let m = tokenToID[a + b] else {
                let missing = [a, b, a + b].first { tokenToID[$0] == nil } ?? a + b
                throw VaneError("\(source): merge #\(rank) \"\(a) \(b)\" uses \(missing.debugDescription), which is not in the vocabulary")
            }
            let key = Self.pairKey(l, r)
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), result: Int32(m)) }
        }

        var byFirst: [Unicode.Scalar: [(scalars: [Unicode.Scalar], token: AddedToken)]] = [:]
        for a in added {
            let scalars = Array(a.content.unicodeScalars)
            guard let first = scalars.first else { continue }
            byFirst[first, default: []].append((scalars, a))
        }
        for k in byFirst.keys { byFirst[k]!.sort { $0.scalars.count > $1.scalars.count } }

        let addedIDs = Set(added.map(\.id))
        var byteOfID: [Int: UInt8] = [:]
        for (b, id) in byteToID.enumerated() where id >= 0 { byteOfID[id] = UInt8(b) }
        self.pieceBytes = pieces.enumerated().map { id, p in
            // Added tokens are raw text; so is a token with a scalar outside the byte-level alphabet (HF's
            // ByteLevel decoder does the same).
            if addedIDs.contains(id) { return Array(p.utf8) }
            if sentencePiece != nil { return byteOfID[id].map { [$0] } ?? Array(p.replacingOccurrences(of: "▁", with: " ").utf8) }
            return ByteLevel.decode(p) ?? Array(p.utf8)
        }
        self.sentencePiece = sentencePiece
        self.pieces = pieces
        self.tokenToID = tokenToID
        self.byteToID = byteToID
        self.merges = merges
        self.addedByFirstScalar = byFirst
        self.specialIDs = Set(added.filter(\.special).map(\.id))
        self.preTokenizer = preTokenizer
        self.normalizeNFC = normalizeNFC
        self.ignoreMerges = ignoreMerges
        self.prefixIDs = addBOS ? bosID.map { [$0] } ?? [] : []
        self.suffixIDs = suffixIDs
        self.bosID = bosID
        self.eosID = eosID
        var eot = Set(extraEndOfTurnIDs)
        if let eosID { eot.insert(eosID) }
        for name in Self.endOfTurnNames { if let id = tokenToID[name] { eot.insert(id) } }
        self.endOfTurnIDs = eot
    }

    public var vocabSize: Int { pieces.count }

    /// Whether `encode(_:addSpecial: true)` puts BOS before the text.
    public var addsBOS: Bool { bosID.map { prefixIDs.contains($0) } ?? false }

    /// The token's string as the vocabulary holds it (byte-level encoded: "Ġthe"); "" for an id outside it.
    public func piece(_ id: Int) -> String { id >= 0 && id < pieces.count ? pieces[id] : "" }

    /// The id of a vocabulary token (byte-level form) or of an added token (its content).
    public func id(of token: String) -> Int? { tokenToID[token] }

    /// Whether the id is a special token (HF special added token; GGUF control token).
    public func isSpecial(_ id: Int) -> Bool { specialIDs.contains(id) }

    /// Token ids for text.
    /// - Parameters:
    ///   - addSpecial: add BOS (and any other tokens) the way the tokenizer's files say to.
    ///   - parseSpecial: recognise special tokens written in the text (`<|im_start|>`); when false they are
    ///     tokenized as ordinary text. Non-special added tokens are always recognised, as in HF and llama.cpp.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int] {
        var out: [Int] = addSpecial ? prefixIDs : []
        let normalized = normalizeNFC ? text.precomposedStringWithCanonicalMapping : text
        let scalars = Array(normalized.unicodeScalars)
        forEachSegment(of: scalars, parseSpecial: parseSpecial) { segment in
            switch segment {
            case let .token(id):
                out.append(id)
            case let .text(range):
                if let sentencePiece {
                    encodeSentencePiece(scalars[range], prefix: sentencePiece.addSpacePrefix
                                            && (sentencePiece.prefixEverySegment || range.lowerBound == 0), into: &out)
                } else {
                    for piece in preTokenizer.split(scalars[range]) { encodePiece(piece, into: &out) }
                }
            }
        }
        if addSpecial { out.append(contentsOf: suffixIDs) }
        return out
    }

    /// Text for ids: each token's bytes, concatenated, read as UTF-8 (invalid sequences become U+FFFD).
    /// Ids outside the vocabulary contribute nothing.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { appendBytes(of: id, skipSpecial: skipSpecial, to: &bytes) }
        // The space SentencePiece put before the text is not part of it.
        if sentencePiece?.addSpacePrefix == true, bytes.first == 0x20 { bytes.removeFirst() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes a token stands for in text (what `decode` concatenates); empty for an id outside the vocabulary.
    /// Summing them over a sequence maps each token to its byte range in the decoded text.
    public func bytes(of id: Int) -> [UInt8] { id >= 0 && id < pieceBytes.count ? pieceBytes[id] : [] }

    func appendBytes(of id: Int, skipSpecial: Bool, to bytes: inout [UInt8]) {
        guard id >= 0 && id < pieceBytes.count, !(skipSpecial && specialIDs.contains(id)) else { return }
        bytes.append(contentsOf: pieceBytes[id])
    }

    // MARK: - Added tokens

    private enum Segment { case text(Range<Int>), token(Int) }

    private func forEachSegment(of s: [Unicode.Scalar], parseSpecial: Bool, _ body: (Segment) -> Void) {
        var textStart = 0
        var i = 0
        while i < s.count {
            guard let candidates = addedByFirstScalar[s[i]],
                  let hit = candidates.first(where: { c in
                      (parseSpecial || !c.token.special) && i + c.scalars.count <= s.count
                          && s[i..<i + c.scalars.count].elementsEqual(c.scalars)
                  })
            else { i += 1; continue }
            var textEnd = i
            if hit.token.lstrip {
                while textEnd > textStart && s[textEnd - 1].properties.isWhitespace { textEnd -= 1 }
            }
            if textEnd > textStart { body(.text(textStart..<textEnd)) }
            body(.token(hit.token.id))
            i += hit.scalars.count
            if hit.token.rstrip {
                while i < s.count && s[i].properties.isWhitespace { i += 1 }
            }
            textStart = i
        }
        if textStart < s.count { body(.text(textStart..<s.count)) }
    }

    // MARK: - BPE

    private static func pairKey(_ l: Int, _ r: Int) -> UInt64 { UInt64(UInt32(l)) << 32 | UInt64(UInt32(r)) }

    private func encodePiece(_ piece: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(piece.count)
        for s in piece { UTF8.encode(s) { bytes.append($0) } }
        if let ids = cache.get(bytes) { out.append(contentsOf: ids); return }
        let ids = mergeBytes(bytes)
        cache.set(bytes, ids)
        out.append(contentsOf: ids)
    }

    private func mergeBytes(_ bytes: [UInt8]) -> [Int] {
        if ignoreMerges, let id = tokenToID[ByteLevel.encode(bytes)] { return [id] }
        // Bytes whose token the vocabulary lacks are dropped, as HF BPE does without an unk token.
        return merge(bytes.compactMap { byteToID[Int($0)] >= 0 ? byteToID[Int($0)] : nil })
    }

    /// A stretch of text the SentencePiece way: spaces (and the prefix) as "▁", each scalar its token or its
    /// bytes' `<0xNN>` tokens (else the unknown token), then merged.
    private func encodeSentencePiece(_ text: ArraySlice<Unicode.Scalar>, prefix: Bool, into out: inout [Int]) {
        var scalars = Array(text)
        if sentencePiece!.removeExtraWhitespaces {
            var kept: [Unicode.Scalar] = []
            for s in scalars where !(s == " " && (kept.isEmpty || kept.last == " ")) { kept.append(s) }
            if kept.last == " " { kept.removeLast() }
            scalars = kept
        }
        if scalars.isEmpty { return }
        if prefix, !(sentencePiece!.prefixUnlessSpace && scalars.first == " ") { scalars.insert(" ", at: 0) }
        let text = String(String.UnicodeScalarView(scalars.map { $0 == " " ? "▁" : $0 }))
        let key = Array(text.utf8)
        if let ids = cache.get(key) { out.append(contentsOf: ids); return }
        var ids: [Int] = []
        for s in text.unicodeScalars {
            if let id = tokenToID[String(s)], !specialIDs.contains(id) {
                ids.append(id)
                continue
            }
            var bytes: [UInt8] = []
            UTF8.encode(s) { bytes.append($0) }
            if bytes.allSatisfy({ byteToID[Int($0)] >= 0 }) {
                ids += bytes.map { byteToID[Int($0)] }
            } else if let unk = sentencePiece!.unkID {
                ids.append(unk)
            }
        }
        ids = merge(ids)
        cache.set(key, ids)
        out.append(contentsOf: ids)
    }

    /// `<0xNN>`, the byte-fallback token of a byte.
    static func byteToken(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" : "") + hex + ">"
    }

    /// Applies the merges to a sequence of symbols, lowest rank first, leftmost among equals.
    private func merge(_ symbols: [Int]) -> [Int] {
        var ids = symbols
        let n = ids.count
        if n < 2 { return ids }
        // Symbols form a linked list over their first position; a merge keeps the left position.
        var next = Array(1...n)
        next[n - 1] = -1
        var prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var queue = MergeQueue()
        func consider(_ l: Int, _ r: Int) {
            if let m = merges[Self.pairKey(ids[l], ids[r])] {
                queue.push(.init(rank: m.rank, pos: Int32(l), left: Int32(ids[l]), right: Int32(ids[r]), result: m.result))
            }
        }
        for i in 0..<(n - 1) { consider(i, i + 1) }
        while let c = queue.pop() {
            let l = Int(c.pos)
            let r = next[l]
            // Skip candidates made stale by an earlier merge.
            guard alive[l], r >= 0, ids[l] == Int(c.left), ids[r] == Int(c.right) else { continue }
            ids[l] = Int(c.result)
            alive[r] = false
            next[l] = next[r]
            if next[r] >= 0 { prev[next[r]] = l }
            if prev[l] >= 0 { consider(prev[l], l) }
            if next[l] >= 0 { consider(l, next[l]) }
        }
        var result: [Int] = []
        var i = 0
        while i >= 0 { result.append(ids[i]); i = next[i] }
        return result
    }
}

/// Binary min-heap of merge candidates ordered by (rank, position).
private struct MergeQueue {
    struct Candidate { var rank: Int32; var pos: Int32; var left: Int32; var right: Int32; var result: Int32 }
    private var heap: [Candidate] = []

    private static func less(_ a: Candidate, _ b: Candidate) -> Bool {
        a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
    }

    mutating func push(_ c: Candidate) {
        heap.append(c)
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard Self.less(heap[i], heap[p]) else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Candidate? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return top }
        heap[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && Self.less(heap[l], heap[m]) { m = l }
            if r < heap.count && Self.less(heap[r], heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return top
    }
}

/// Piece bytes → ids, shared across threads; emptied when it grows past a bound so memory stays flat.
private final class WordCache: Sendable {
    private let map = Mutex<[[UInt8]: [Int]]>([:])
    private let capacity = 100_000

    func get(_ key: [UInt8]) -> [Int]? {
        map.withLock { $0[key] }
    }

    func set(_ key: [UInt8], _ value: [Int]) {
        map.withLock { map in
            if map.count >= capacity { map.removeAll(keepingCapacity: true) }
            map[key] = value
        }
    }
}

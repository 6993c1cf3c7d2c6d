/// Pre-tokenization: cutting text into the pieces that BPE then encodes one by one. A pre-tokenizer is a list of
/// steps; each step cuts every piece the previous step produced, and never sees past that piece's ends (so a
/// look-ahead such as `\s+(?!\S)` treats a piece's end as the end of text), as in both HF tokenizers and llama.cpp.
///
/// The regexes that real byte-level BPE models use are implemented here as hand-written scanners over Unicode
/// scalars, with the regex semantics (leftmost alternative wins, greedy repeats, back-tracking where the pattern
/// needs it). Character classes: `\p{L}` = general category L*, `\p{N}` = N*, `\p{P}` = P*, `\s` = White_Space.
struct PreTokenizer: Sendable {
    var steps: [Step]

    /// What one step matches; the text between matches is kept as pieces too (as HF's `Isolated` behaviour and
    /// llama.cpp's regex splitting both do), unless the step's behaviour says otherwise.
    enum Pattern: Sendable, Equatable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2). llama.cpp's copy
        /// lacks the final `|\s+`: `finalWhitespace` false leaves a lone whitespace before a non-space unmatched.
        case gpt2(finalWhitespace: Bool)
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|`
        /// `\s*[\r\n]+|\s+(?!\S)|\s+` — Llama 3 (maxDigits 3) and Qwen2 (maxDigits 1).
        case llama3(maxDigits: Int)
        /// `\p{N}` (HF Digits with individual_digits) or `\p{N}+` (without).
        case digits(individual: Bool)
        /// `[\p{P}\$\+<=>\^~\|]+`: llama.cpp's default pre-tokenizer, first step.
        case punctuationRuns
        /// `[0-9][0-9][0-9]`: llama.cpp's default pre-tokenizer, last step.
        case asciiDigitTriples
        /// A literal string (HF Split with `{"String": …}`).
        case literal([Unicode.Scalar])
    }

    /// HF `SplitDelimiterBehavior`: what becomes of the matches and the text between them.
    enum Behavior: String, Sendable {
        case isolated = "Isolated", removed = "Removed", mergedWithPrevious = "MergedWithPrevious"
        case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
    }

    enum Step: Sendable, Equatable {
        case split(Pattern, Behavior, invert: Bool)
        /// HF ByteLevel's add_prefix_space: a piece that does not start with a space gets one.
        case prefixSpace
    }

    /// The regexes that `Split` pre-tokenizers and llama.cpp use, as written in tokenizer.json / llama-vocab.cpp.
    static let knownRegexes: [String: Pattern] = {
        let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#
        let contractionsI = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)"#
        let contractionsSpelled = #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"#
        func llama3(_ contractions: String, _ digits: String) -> String {
            contractions + #"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"# + digits
                + #"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        }
        return [
            gpt2 + #"|\s+"#: .gpt2(finalWhitespace: true),
            gpt2: .gpt2(finalWhitespace: false),
            llama3(contractionsI, "{1,3}"): .llama3(maxDigits: 3),
            llama3(contractionsSpelled, "{1,3}"): .llama3(maxDigits: 3),
            llama3(contractionsI, ""): .llama3(maxDigits: 1),
            llama3(contractionsSpelled, ""): .llama3(maxDigits: 1),
            #"\p{N}"#: .digits(individual: true),
            #"\p{N}+"#: .digits(individual: false),
            #"[\p{P}\$\+<=>\^~\|]+"#: .punctuationRuns,
            "[0-9][0-9][0-9]": .asciiDigitTriples,
        ]
    }()

    /// Cuts `text` into pieces; empty pieces are dropped.
    func split(_ text: ArraySlice<Unicode.Scalar>) -> [ArraySlice<Unicode.Scalar>] {
        var pieces: [ArraySlice<Unicode.Scalar>] = text.isEmpty ? [] : [text]
        for step in steps {
            var next: [ArraySlice<Unicode.Scalar>] = []
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                switch step {
                case .prefixSpace:
                    next.append(piece.first == " " ? piece : ArraySlice([" "] + Array(piece)))
                case let .split(pattern, behavior, invert):
                    Self.apply(pattern, behavior, invert: invert, to: piece, into: &next)
                }
            }
            pieces = next
        }
        return pieces
    }

    private static func apply(_ pattern: Pattern, _ behavior: Behavior, invert: Bool,
                              to piece: ArraySlice<Unicode.Scalar>, into out: inout [ArraySlice<Unicode.Scalar>]) {
        let matches = Scanner(piece).matches(pattern)
        // Segments in order: (range, isMatch), gaps included.
        var segments: [(Range<Int>, Bool)] = []
        segments.reserveCapacity(matches.count * 2 + 1)
        var at = piece.startIndex
        for m in matches {
            if m.lowerBound > at { segments.append((at..<m.lowerBound, invert)) }
            segments.append((m, !invert))
            at = m.upperBound
        }
        if at < piece.endIndex { segments.append((at..<piece.endIndex, invert)) }

        // HF `NormalizedString::split`: a match merges into its neighbour only when that neighbour is not a
        // match itself; Contiguous joins runs of matches.
        var ranges: [Range<Int>] = []
        var previousMatch = false
        switch behavior {
        case .isolated:
            ranges = segments.map(\.0)
        case .removed:
            ranges = segments.filter { !$0.1 }.map(\.0)
        case .mergedWithPrevious:
            for (r, isMatch) in segments {
                if isMatch && !previousMatch, let last = ranges.last {
                    ranges[ranges.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    ranges.append(r)
                }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            for (r, isMatch) in segments.reversed() {
                if isMatch && !previousMatch, let last = ranges.last {
                    ranges[ranges.count - 1] = r.lowerBound..<last.upperBound
                } else {
                    ranges.append(r)
                }
                previousMatch = isMatch
            }
            ranges.reverse()
        case .contiguous:
            for (r, isMatch) in segments {
                if isMatch == previousMatch, let last = ranges.last {
                    ranges[ranges.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    ranges.append(r)
                }
                previousMatch = isMatch
            }
        }
        for r in ranges { out.append(piece[r]) }
    }
}

/// The character classes the patterns test.
struct CharClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CharClass(rawValue: 1)
    static let number = CharClass(rawValue: 2)
    static let whitespace = CharClass(rawValue: 4)
    static let punctuation = CharClass(rawValue: 8)

    private static let ascii: [CharClass] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

    static func of(_ s: Unicode.Scalar) -> CharClass {
        s.value < 128 ? ascii[Int(s.value)] : classify(s)
    }

    private static func classify(_ s: Unicode.Scalar) -> CharClass {
        let p = s.properties
        if p.isWhitespace { return .whitespace }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return .punctuation
        default:
            return []
        }
    }
}

/// Runs one pattern over one piece. Positions are indices of the piece's base array; reading outside the piece
/// gives an empty class and a NUL scalar, which no pattern matches.
private struct Scanner {
    let text: ArraySlice<Unicode.Scalar>
    let classes: [CharClass]
    let start: Int, end: Int

    init(_ text: ArraySlice<Unicode.Scalar>) {
        self.text = text
        self.start = text.startIndex
        self.end = text.endIndex
        self.classes = text.map(CharClass.of)
    }

    func cls(_ i: Int) -> CharClass { i >= start && i < end ? classes[i - start] : [] }
    func cpt(_ i: Int) -> Unicode.Scalar { i >= start && i < end ? text[i] : "\0" }
    func inside(_ i: Int) -> Bool { i < end }
    /// `[^\s\p{L}\p{N}]`, inside the piece.
    func isOther(_ i: Int) -> Bool { inside(i) && cls(i).isDisjoint(with: [.letter, .number, .whitespace]) }
    func isNewline(_ i: Int) -> Bool { cpt(i) == "\r" || cpt(i) == "\n" }

    func matches(_ pattern: PreTokenizer.Pattern) -> [Range<Int>] {
        switch pattern {
        case let .gpt2(finalWhitespace): return gpt2(finalWhitespace: finalWhitespace)
        case let .llama3(maxDigits): return llama3(maxDigits: maxDigits)
        case let .digits(individual): return runs(of: .number, maxLength: individual ? 1 : Int.max)
        case .asciiDigitTriples:
            var out: [Range<Int>] = []
            var i = start
            while i + 3 <= end {
                if (i..<i + 3).allSatisfy({ ("0"..."9").contains(text[$0]) }) {
                    out.append(i..<i + 3); i += 3
                } else {
                    i += 1
                }
            }
            return out
        case .punctuationRuns:
            let extra: Set<Unicode.Scalar> = ["$", "+", "<", "=", ">", "^", "~", "|"]
            return runs { cls($0).contains(.punctuation) || extra.contains(text[$0]) }
        case let .literal(needle):
            guard !needle.isEmpty else { return [] }
            var out: [Range<Int>] = []
            var i = start
            while i + needle.count <= end {
                if text[i..<i + needle.count].elementsEqual(needle) {
                    out.append(i..<i + needle.count); i += needle.count
                } else {
                    i += 1
                }
            }
            return out
        }
    }

    /// Maximal runs of scalars of class `c`, cut into chunks of at most maxLength.
    private func runs(of c: CharClass, maxLength: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = start
        while i < end {
            guard cls(i).contains(c) else { i += 1; continue }
            let s = i
            while i < end && cls(i).contains(c) && i - s < maxLength { i += 1 }
            out.append(s..<i)
        }
        return out
    }

    private func runs(where test: (Int) -> Bool) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = start
        while i < end {
            guard test(i) else { i += 1; continue }
            let s = i
            while i < end && test(i) { i += 1 }
            out.append(s..<i)
        }
        return out
    }

    /// Length of a contraction `'s|'t|'re|'ve|'m|'ll|'d` at i (0 if none); `caseInsensitive` for `(?i:…)`.
    private func contraction(at i: Int, caseInsensitive: Bool) -> Int {
        guard cpt(i) == "'" else { return 0 }
        func lower(_ s: Unicode.Scalar) -> Unicode.Scalar {
            caseInsensitive && ("A"..."Z").contains(s) ? Unicode.Scalar(s.value + 32)! : s
        }
        let a = lower(cpt(i + 1)), b = lower(cpt(i + 2))
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        return 0
    }

    /// Whitespace alternatives shared by both patterns: `\s+(?!\S)` then (optionally) `\s+`, at a whitespace run
    /// starting at i. Returns the match end, or nil when neither alternative matches.
    private func whitespace(at i: Int, finalWhitespace: Bool) -> Int? {
        var j = i
        while cls(j).contains(.whitespace) { j += 1 }
        if j == i { return nil }
        if j == end { return j }                 // \s+(?!\S) at the end of the piece takes the whole run
        if j - i > 1 { return j - 1 }            // back off one so the next scalar is whitespace
        return finalWhitespace ? j : nil         // \s+
    }

    private func gpt2(finalWhitespace: Bool) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity((end - start) / 3)
        var i = start
        while i < end {
            let c = contraction(at: i, caseInsensitive: false)
            if c > 0 { out.append(i..<i + c); i += c; continue }
            // ` ?X+` for X in \p{L}, \p{N}, [^\s\p{L}\p{N}]
            let body = cpt(i) == " " ? i + 1 : i
            let bodyClass = cls(body)
            if bodyClass.contains(.letter) || bodyClass.contains(.number) {
                let c = bodyClass.contains(.letter) ? CharClass.letter : .number
                var j = body
                while cls(j).contains(c) { j += 1 }
                out.append(i..<j); i = j; continue
            }
            if isOther(body) {
                var j = body
                while isOther(j) { j += 1 }
                out.append(i..<j); i = j; continue
            }
            if let j = whitespace(at: i, finalWhitespace: finalWhitespace) {
                out.append(i..<j); i = j; continue
            }
            i += 1
        }
        return out
    }

    private func llama3(maxDigits: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity((end - start) / 3)
        var i = start
        while i < end {
            let c = contraction(at: i, caseInsensitive: true)
            if c > 0 { out.append(i..<i + c); i += c; continue }
            let here = cls(i)
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if here.contains(.letter) || (!isNewline(i) && !here.contains(.number) && cls(i + 1).contains(.letter)) {
                var j = i + 1
                while cls(j).contains(.letter) { j += 1 }
                out.append(i..<j); i = j; continue
            }
            // \p{N}{1,maxDigits}
            if here.contains(.number) {
                var j = i
                while cls(j).contains(.number) && j - i < maxDigits { j += 1 }
                out.append(i..<j); i = j; continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let body = cpt(i) == " " ? i + 1 : i
            if isOther(body) {
                var j = body
                while isOther(j) { j += 1 }
                while isNewline(j) { j += 1 }
                out.append(i..<j); i = j; continue
            }
            // \s*[\r\n]+ : the whitespace run up to and including its last \r or \n
            var j = i, lastNewlineEnd: Int? = nil
            while cls(j).contains(.whitespace) {
                if isNewline(j) { lastNewlineEnd = j + 1 }
                j += 1
            }
            if let e = lastNewlineEnd { out.append(i..<e); i = e; continue }
            if let e = whitespace(at: i, finalWhitespace: true) { out.append(i..<e); i = e; continue }
            i += 1
        }
        return out
    }
}

import VaneCore

/// Bounds checked on YAML text before Yams sees it. Yams recurses once per nesting level (5,000 `[` overflow the
/// stack) and expands every alias when it builds values, so a few nested anchors ("billion laughs") make it run
/// for ever, even where nothing reads them. A merge config nests a handful of levels and uses few aliases, if any.
enum YAMLLimits {
    static let maxDepth = 64
    /// Nodes the aliases may expand to, all together.
    static let maxAliasExpansion = 10_000

    /// A scan over the text outside quoted scalars, comments and block scalars: block nesting by indentation and
    /// `- ` entries, flow nesting by brackets; for aliases, each anchor is taken to reach to the next anchor, an
    /// over-estimate that is exact for the one-anchor-per-line layout these attacks use.
    static func check(_ text: String, path: String) throws {
        var indents: [Int] = []
        var flow = 0
        var quote: UInt8? = nil
        var blockScalarIndent: Int? = nil
        var anchorSize: [Substring: Int] = [:]
        var currentAnchor: Substring? = nil
        var expansion = 0
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let bytes = Array(line.utf8)
            let indent = bytes.prefix { $0 == 0x20 }.count
            let blank = indent == bytes.count || bytes[indent] == UInt8(ascii: "#")
            if let limit = blockScalarIndent {
                if blank || indent > limit { continue }
                blockScalarIndent = nil
            }
            if quote == nil && flow == 0 && !blank {
                while let last = indents.last, last >= indent { indents.removeLast() }
                indents.append(indent)
            }
            var i = indent
            var dashes = 0
            if quote == nil && flow == 0 {
                while i + 1 < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "?"), bytes[i + 1] == 0x20 {
                    dashes += 1
                    i += 2
                    while i < bytes.count && bytes[i] == 0x20 { i += 1 }
                }
            }
            func deeper(_ extra: Int) throws {
                guard indents.count + dashes + extra <= maxDepth else {
                    throw VaneError("\(path):\(number + 1): YAML nested deeper than \(maxDepth) levels",
                                    hint: "a merge config nests a few levels; the file is damaged or not a merge config")
                }
            }
            try deeper(flow)
            while i < bytes.count {
                let c = bytes[i]
                if let q = quote {
                    if c == q {
                        // '' inside a single-quoted scalar is an escaped quote.
                        if q == UInt8(ascii: "'") && i + 1 < bytes.count && bytes[i + 1] == q { i += 2; continue }
                        quote = nil
                    } else if c == UInt8(ascii: "\\") && q == UInt8(ascii: "\"") {
                        i += 1
                    }
                    i += 1
                    continue
                }
                let atTokenStart = i == 0 || [0x20, 0x09, UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":")]
                    .contains(bytes[i - 1])
                switch c {
                case UInt8(ascii: "#") where i == 0 || bytes[i - 1] == 0x20 || bytes[i - 1] == 0x09:
                    i = bytes.count
                    continue
                case UInt8(ascii: "'") where atTokenStart, UInt8(ascii: "\"") where atTokenStart:
                    quote = c
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    flow += 1
                    try deeper(flow)
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    flow = max(flow - 1, 0)
                case UInt8(ascii: "&") where atTokenStart, UInt8(ascii: "*") where atTokenStart:
                    var j = i + 1
                    while j < bytes.count, ![0x20, 0x09, UInt8(ascii: ","), UInt8(ascii: "["), UInt8(ascii: "]"),
                                            UInt8(ascii: "{"), UInt8(ascii: "}")].contains(bytes[j]) { j += 1 }
                    let name = line.utf8[line.utf8.index(line.utf8.startIndex, offsetBy: i + 1)..<line.utf8.index(line.utf8.startIndex, offsetBy: j)]
                    let key = Substring(name)
                    if c == UInt8(ascii: "&") {
                        currentAnchor = key
                        anchorSize[key] = 1
                    } else {
                        let size = anchorSize[key] ?? 1
                        expansion += size
                        if let a = currentAnchor { anchorSize[a, default: 1] += size }
                        guard expansion <= maxAliasExpansion, (currentAnchor.flatMap { anchorSize[$0] } ?? 0) <= maxAliasExpansion else {
                            throw VaneError("\(path):\(number + 1): YAML aliases expand to more than \(maxAliasExpansion) nodes (alias *\(key))",
                                            hint: "nested anchors and aliases multiply; write the values out or use fewer aliases")
                        }
                    }
                    i = j
                    continue
                default: break
                }
                i += 1
            }
            // `key: |` or `key: >-` starts a block scalar: its lines are text, however they are indented.
            if quote == nil && flow == 0, let bar = bytes.lastIndex(where: { $0 == UInt8(ascii: "|") || $0 == UInt8(ascii: ">") }),
               bytes[(bar + 1)...].allSatisfy({ $0 == 0x20 || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") || (0x30...0x39).contains($0) }),
               bar == 0 || bytes[bar - 1] == 0x20 {
                blockScalarIndent = indent
            }
        }
    }
}

// Bounds on what a template may make the renderer do. Chat templates come with downloaded models, so a template
// that loops, repeats or nests without end must fail with an error, not hang, exhaust memory or the stack. Real
// templates stay far below each: a long chat renders to well under 1 MiB and nests a few levels.
enum JinjaLimits {
    /// Largest string a template may build, and its whole output (16 MiB ≈ 4 million tokens, past any context).
    static let maxStringBytes = 16 << 20
    /// Longest list (`range`, list repetition).
    static let maxItems = 1_000_000
    /// Loop iterations in one render, all loops together: a chat of thousands of messages needs a few thousand;
    /// 100,000 take about half a second in a debug build.
    static let maxIterations = 100_000
    /// Expression and block nesting the parser accepts; the renderer recurses once per level.
    static let maxParseDepth = 256
    /// Renderer recursion (expressions, blocks and macro calls together), which keeps the stack bounded.
    static let maxRenderDepth = 512
    static let maxMacroDepth = 64

    static func tooLong(_ bytes: Int, _ what: String) -> JinjaFailure {
        JinjaFailure("\(what) would be \(bytes) bytes, more than the \(maxStringBytes >> 20) MiB a template may build")
    }

    /// Throws unless `count` copies of `unit` stay within the bound (checked before the copies are made).
    static func checkRepetition(_ unit: Int, _ count: Int, limit: Int, _ what: String) throws {
        let (total, overflow) = unit.multipliedReportingOverflow(by: max(count, 0))
        guard !overflow && total <= limit else {
            throw JinjaFailure("\(what) of \(unit) × \(count) exceeds the limit of \(limit) \(limit == maxItems ? "items" : "bytes")")
        }
    }

    /// Throws when rendering `value` as text would exceed the string bound. Walks at most about that many
    /// bytes' worth of nodes, so it is cheap even for lists that repeat one large item many times.
    static func checkRenderable(_ value: JinjaValue, _ what: String, extra: Int = 0) throws {
        var budget = maxStringBytes - extra
        func walk(_ v: JinjaValue) -> Bool {
            switch v {
            case .string(let s): budget -= s.utf8.count + 4
            case .array(let items):
                budget -= 2
                for item in items where budget >= 0 { if !walk(item) { return false } }
            case .object(let o):
                budget -= 2
                for (k, item) in o.pairs where budget >= 0 {
                    budget -= k.utf8.count + 6
                    if !walk(item) { return false }
                }
            default: budget -= 8
            }
            return budget >= 0
        }
        guard budget >= 0, walk(value) else {
            throw JinjaFailure("\(what) would exceed the \(maxStringBytes >> 20) MiB a template may build")
        }
    }
}

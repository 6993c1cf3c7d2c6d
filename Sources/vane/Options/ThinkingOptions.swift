import ArgumentParser
import VaneCore
import VaneEngine
import VaneSteer

/// Budget forcing, the baseline a length-steering claim should beat (shared by `generate` and `steer-eval`).
struct ThinkingOptions: ParsableArguments {
    @Option(help: "End the thinking after N tokens by writing its end marker.") var thinkBudget: Int?
    @Option(help: "K[:TEXT]: replace the end marker the model writes with TEXT (default \"Wait\"), at most K times (\\n escapes a newline).")
    var thinkExtend: String?
    @Option(help: "The thinking span's markers START,END (\\n, \\t, \\\\ and \\, are escapes, as in segment triggers).")
    var thinkMarkers = "<think>,</think>"

    func validate() throws { _ = try control() }

    /// The control the options ask for; nil without --think-budget or --think-extend.
    func control() throws -> ThinkingControl? {
        guard thinkBudget != nil || thinkExtend != nil else { return nil }
        let markers: (start: String, end: String)
        do { markers = try SegmentTrigger.unescapePair(Substring(thinkMarkers), in: thinkMarkers) } catch let e as VaneError {
            throw ValidationError("--think-markers: \(e.description)")
        }
        if let thinkBudget, thinkBudget < 0 { throw ValidationError("--think-budget must be ≥ 0") }
        var times = 0, text = "Wait"
        if let thinkExtend {
            let parts = thinkExtend.split(separator: ":", maxSplits: 1).map(String.init)
            guard let k = Int(parts[0]), k >= 1, parts.count == 1 || !parts[1].isEmpty else {
                throw ValidationError("--think-extend \(thinkExtend): give K or K:TEXT, e.g. 2 or 2:Wait")
            }
            times = k
            if parts.count == 2 {
                do { text = try SegmentTrigger.unescape(Substring(parts[1]), in: thinkExtend) } catch let e as VaneError {
                    throw ValidationError("--think-extend: \(e.description)")
                }
            }
        }
        return ThinkingControl(start: markers.start, end: markers.end, budget: thinkBudget, extendTimes: times, extendText: text)
    }
}

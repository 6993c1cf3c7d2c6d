import ArgumentParser
import VaneEngine

/// Budget forcing, the baseline a length-steering claim should beat (shared by `generate` and `steer-eval`).
struct ThinkingOptions: ParsableArguments {
    @Option(help: "End the thinking after N tokens by writing its end marker.") var thinkBudget: Int?
    @Option(help: "K[:TEXT]: replace the end marker the model writes with TEXT (default \"Wait\"), at most K times.")
    var thinkExtend: String?
    @Option(help: "The thinking span's markers START,END.") var thinkMarkers = "<think>,</think>"

    func validate() throws { _ = try control() }

    /// The control the options ask for; nil without --think-budget or --think-extend.
    func control() throws -> ThinkingControl? {
        guard thinkBudget != nil || thinkExtend != nil else { return nil }
        let markers = thinkMarkers.split(separator: ",", maxSplits: 1).map(String.init)
        guard markers.count == 2, !markers[0].isEmpty, !markers[1].isEmpty else {
            throw ValidationError("--think-markers \(thinkMarkers): give START,END, e.g. <think>,</think>")
        }
        if let thinkBudget, thinkBudget < 0 { throw ValidationError("--think-budget must be ≥ 0") }
        var times = 0, text = "Wait"
        if let thinkExtend {
            let parts = thinkExtend.split(separator: ":", maxSplits: 1).map(String.init)
            guard let k = Int(parts[0]), k >= 1, parts.count == 1 || !parts[1].isEmpty else {
                throw ValidationError("--think-extend \(thinkExtend): give K or K:TEXT, e.g. 2 or 2:Wait")
            }
            times = k
            if parts.count == 2 { text = parts[1] }
        }
        return ThinkingControl(start: markers[0], end: markers[1], budget: thinkBudget, extendTimes: times, extendText: text)
    }
}

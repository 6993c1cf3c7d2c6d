import ArgumentParser
import VaneRecipes

/// Options of the ThinkEdit generation step, shared by `recipe thinkedit` and `recipe reasoning-lengths`.
struct ReasoningSplitOptions: ParsableArguments {
    @Option(help: "Tokens per response at most.") var maxTokens = 256
    @Option(help: "Long: reasoning above this many tokens, or above this percentile (e.g. 70%).") var longAbove = "70%"
    @Option(help: "Short: reasoning below this many tokens, or below this percentile (e.g. 30%).") var shortBelow = "30%"
    @Option(help: "Sampling temperature (default: the model's own settings; greedy when it has none).") var temperature: Float?
    @Option(help: "Random seed (question i uses SEED + i).") var seed: UInt64 = 0
    @Option(help: "Responses decoded together in one forward call (responses do not depend on it with --exact).")
    var batch = 16

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        _ = try LengthThreshold(parsing: longAbove)
        _ = try LengthThreshold(parsing: shortBelow)
    }

    func configure(_ recipe: inout ThinkEdit) throws {
        recipe.maxTokens = maxTokens
        recipe.seed = seed
        recipe.batchSize = batch
        recipe.longAbove = try LengthThreshold(parsing: longAbove)
        recipe.shortBelow = try LengthThreshold(parsing: shortBelow)
        if let temperature {
            recipe.sampling.temperature = temperature
            recipe.samplingSource = "--temperature \(temperature)"
        }
    }
}

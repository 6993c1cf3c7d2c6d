import ArgumentParser
import VaneEngine

struct SamplingArguments: ParsableArguments {
    @Option(help: "Tokens to generate at most.") var maxTokens = 256
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.8
    @Option(help: "Keep the K most likely tokens (0: off).") var topK = 40
    @Option(help: "Keep the smallest set of tokens whose probability reaches P (1: off).") var topP: Float = 0.95
    @Option(help: "Drop tokens less likely than P × the top token's probability (0: off).") var minP: Float = 0.05
    @Option(help: "Random seed: the same seed gives the same text.") var seed: UInt64 = 0
    @Option(help: "Stop before this string (repeatable).") var stop: [String] = []
    @Flag(help: "Multiply in f32 over dequantized weights instead of 8-bit activation dot products (slower).")
    var exact = false

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard minP >= 0 && minP < 1 else { throw ValidationError("--min-p must be in [0, 1)") }
    }

    var options: GenerationOptions {
        GenerationOptions(maxTokens: maxTokens,
                          sampling: SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: seed),
                          stopStrings: stop)
    }
}

import ArgumentParser
import Foundation
import VaneEngine

/// MODEL: a .gguf file, an HF model folder, or `smollm2` for the default model in the cache.
struct ModelOptions: ParsableArguments {
    @Argument(help: "A .gguf file, an HF model folder, or `smollm2` for the default model.")
    var model: String

    func load() throws -> LanguageModel {
        try LanguageModel(model)
    }
}

struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func apply() throws {
        if let threads {
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
            Parallel.setThreads(threads)
        }
    }
}

/// Writes to standard error (progress and statistics), keeping standard output for results.
func note(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

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

    /// The model loaded to sample from: 8-bit activation products, as `generate` and llama.cpp decode.
    func loadForSampling() throws -> LanguageModel { try samplingModel(model) }
}

/// A model (path or default-model name) loaded to sample from, with `fast` products.
func samplingModel(_ spec: String) throws -> LanguageModel {
    try LanguageModel(spec, decoding: .fast)
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

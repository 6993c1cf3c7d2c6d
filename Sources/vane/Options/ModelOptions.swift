import ArgumentParser
import VaneEngine
import VaneModelIO

/// MODEL: a .gguf file, an HF model folder, or the name of a fetched model (`smollm2`, the default, …).
struct ModelOptions: ParsableArguments {
    @Argument(help: "A .gguf file, an HF model folder, or a name `vane fetch` knows: \(DefaultModel.names).")
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

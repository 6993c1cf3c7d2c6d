import ArgumentParser
import Foundation
import VaneEdit
import VaneModelIO

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert GGUF ⇄ HF folder (config, tokenizer, chat template and llama Q/K layout included).")

    @Argument(help: "Input: .gguf, HF folder, or `smollm2`.") var input: String
    @Argument(help: "Output: a path ending in .gguf for GGUF, else an HF folder.") var output: String
    @Option(help: "Re-encode every tensor: f32, f16, bf16 (and q8_0, q4_0, q4_1 for GGUF). Default: keep stored types where the output allows, else f32.")
    var dtype: String?
    @Option(help: "Largest safetensors shard, e.g. 5GB (HF folders).") var shardSize: String = "5GB"

    func validate() throws { _ = try options() }

    func run() throws {
        let written = try VaneEdit.Convert.run(try ModelInput(url: DefaultModel.resolve(input)), to: options(),
                                               progress: ProgressLine().report)
        wrote(output, "converted: \(written)")
    }

    private func options() throws -> OutputOptions {
        try ModelOutputOptions.options(output: output, dtype: dtype, shardSize: shardSize)
    }
}

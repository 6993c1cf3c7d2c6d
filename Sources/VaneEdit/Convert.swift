import Foundation
import VaneModelIO

/// GGUF ⇄ HF folder (or either to itself with another dtype): every tensor carried over — stored bytes copied
/// where the output holds the stored type, else dequantized and re-encoded — with llama Q/K rows put in the
/// output format's order, and config, tokenizer and chat template converted.
public enum Convert {
    @discardableResult
    public static func run(_ input: ModelInput, to options: OutputOptions, progress: (ProgressEvent) -> Void = { _ in }) throws -> WriteSummary {
        var out = options
        out.convertCopies = options.dtype != nil
        let tensors = input.names.map { OutputTensor(name: $0, shape: input.stored($0)!.shape, source: .copy(input)) }
        return try ModelWriter.write(tensors, template: input, to: out, provenance: ["command": "convert", "source": input.url.path],
                                     inputs: [input.url], task: "convert", progress: progress, done: input.release)
    }
}

import ArgumentParser
import Foundation
import VaneEdit

/// Output options shared by the commands that write models.
struct ModelOutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output: a path ending in .gguf for a GGUF file, else an HF folder.") var output: String
    @Option(help: "Type of changed tensors: f32, f16, bf16 (and q8_0, q4_0, q4_1 for GGUF). Default: the inputs' type where they agree on f32, f16 or bf16, else f32 (edits: f32). Unchanged tensors are copied as stored where the output holds their type.") var dtype: String?
    @Option(help: "Largest safetensors shard, e.g. 5GB, 500MB (HF folders).") var shardSize: String = "5GB"

    func validate() throws { _ = try options() }

    func options() throws -> OutputOptions { try Self.options(output: output, dtype: dtype, shardSize: shardSize) }

    /// The output settings from the options' values; `convert`, whose output is an argument, builds its own here.
    static func options(output: String, dtype: String?, shardSize: String) throws -> OutputOptions {
        let type = try dtype.map { name in
            guard let t = Encode.type(named: name) else { throw badValue("--dtype", name, "f32, f16, bf16, q8_0, q4_0, q4_1") }
            return t
        }
        guard let shard = parseSize(shardSize) else { throw ValidationError("--shard-size \(shardSize): expected e.g. 5GB, 500MB, 2000000") }
        return OutputOptions(url: URL(fileURLWithPath: output), dtype: type, shardSize: shard)
    }
}

/// "5GB", "500MB", "1.5G", "2000000" → bytes (decimal units, as mergekit and HF count).
func parseSize(_ s: String) -> Int? {
    let units: [(String, Double)] = [("GB", 1e9), ("G", 1e9), ("MB", 1e6), ("M", 1e6), ("KB", 1e3), ("K", 1e3), ("B", 1)]
    let upper = s.uppercased()
    for (suffix, factor) in units where upper.hasSuffix(suffix) {
        return Double(upper.dropLast(suffix.count)).map { Int($0 * factor) }.flatMap { $0 > 0 ? $0 : nil }
    }
    return Int(s).flatMap { $0 > 0 ? $0 : nil }
}

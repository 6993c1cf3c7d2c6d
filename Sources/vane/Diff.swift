import ArgumentParser
import Foundation
import VaneEdit
import VaneModelIO

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the task vector θ_A − θ_B (safetensors) and report how each tensor changed.")

    @Argument(help: "Model A (.gguf, HF folder, or `smollm2`).") var a: String
    @Argument(help: "Model B.") var b: String
    @Option(name: .shortAndLong, help: "Output task vector (.safetensors).") var output: String
    @Option(parsing: .upToNextOption, help: "Only tensors matching these patterns (glob or substring, GGUF or HF names).") var include: [String] = []
    @Option(parsing: .upToNextOption, help: "Skip tensors matching these patterns (e.g. embed norm).") var exclude: [String] = []
    @Flag(help: "Diff only the tensors both models have.") var allowMissing = false
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        try checkOutput(output, inputs: [a, b], extensions: ["safetensors"], what: "a task vector (safetensors)")
    }

    func run() throws {
        let ma = try ModelInput(url: DefaultModel.resolve(a)), mb = try ModelInput(url: DefaultModel.resolve(b))
        let report = try TaskVector.diff(ma, mb, filter: TensorFilter(include: include, exclude: exclude),
                                         allowMissing: allowMissing, to: URL(fileURLWithPath: output),
                                         progress: ProgressLine().report)
        if json {
            print(String(decoding: try report.json(), as: UTF8.self))
        } else {
            print(report.table())
        }
    }
}

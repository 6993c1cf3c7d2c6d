import ArgumentParser
import Foundation
import VaneEdit
import VaneModelIO

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add a task vector to a model: OUT = BASE + α·Δ.")

    @Argument(help: "Base model (.gguf, HF folder, or `smollm2`).") var base: String
    @Argument(help: "Task vector (.safetensors) written by `vane diff`.") var taskVector: String
    @Option(parsing: .unconditional, help: "Scale α (may be negative: --scale -1).") var scale: Float = 1
    @OptionGroup var out: ModelOutputOptions

    func run() throws {
        let model = try ModelInput(url: DefaultModel.resolve(base))
        let written = try TaskVector.apply(base: model, taskVector: URL(fileURLWithPath: taskVector), scale: scale,
                                           to: out.options(), progress: ProgressLine().report)
        wrote(out.output, "base + \(scale)·Δ: \(written)")
    }
}

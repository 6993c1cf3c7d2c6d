import ArgumentParser
import Foundation
import VaneEdit
import VaneModelIO

struct Recipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ready-made edits.", subcommands: [ReasoningVector.self])

    struct ReasoningVector: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reasoning-vector",
            abstract: "OUT = TARGET + α·(GRPO − SFT) in one pass, with the per-tensor report of GRPO − SFT.")

        @Option(help: "The RL-trained model (θ_GRPO).") var grpo: String
        @Option(help: "The model it was trained from (θ_SFT).") var sft: String
        @Option(help: "The model the vector is added to (e.g. an instruct model).") var target: String
        @Option(parsing: .unconditional, help: "Scale α (may be negative: --scale -1).") var scale: Float = 1
        @Option(parsing: .upToNextOption, help: "Only tensors matching these patterns.") var include: [String] = []
        @Option(parsing: .upToNextOption, help: "Leave tensors matching these patterns as in TARGET.") var exclude: [String] = []
        @Flag(help: "Print the report as JSON.") var json = false
        @OptionGroup var out: ModelOutputOptions

        func run() throws {
            let open = { (s: String) in try ModelInput(url: DefaultModel.resolve(s)) }
            let report = try TaskVector.reasoningVector(grpo: open(grpo), sft: open(sft), target: open(target), scale: scale,
                                                        filter: TensorFilter(include: include, exclude: exclude), to: out.options())
            print(json ? String(decoding: try report.json(), as: UTF8.self) : report.table())
        }
    }
}

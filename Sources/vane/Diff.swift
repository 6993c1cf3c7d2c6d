import ArgumentParser
import Foundation
import VaneEdit
import VaneModelIO

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the task vector θ_A − θ_B (safetensors) and report how each tensor changed.",
        discussion: """
            The task vector holds only the tensors that changed (the unchanged ones are listed in its metadata, \
            vane.unchanged) and carries whole the tensors only A has (vane.a_only), which `apply` creates. With \
            --rank R each changed matrix is stored as LoRA-style factors <name>.lora_A.weight [R, in] and \
            <name>.lora_B.weight [out, R] (Δ ≈ lora_B · lora_A) from its truncated SVD, and the report gives the \
            share of ‖Δ‖² each keeps.
            """)

    @Argument(help: "Model A (.gguf, HF folder, or `smollm2`).") var a: String
    @Argument(help: "Model B.") var b: String
    @Option(name: .shortAndLong, help: "Output task vector (.safetensors).") var output: String
    @Option(parsing: .upToNextOption, help: "Only tensors matching these patterns (glob or substring, GGUF or HF names).") var include: [String] = []
    @Option(parsing: .upToNextOption, help: "Skip tensors matching these patterns (e.g. embed norm).") var exclude: [String] = []
    @Flag(help: "Leave out the tensors only B has (those only A has are always carried).") var allowMissing = false
    @Option(help: "Store each changed matrix as rank-R factors from its SVD (LoRA-style lora_A/lora_B).") var rank: Int?
    @Flag(help: "Print the per-tensor table.") var verbose = false
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        try checkOutput(output, inputs: [a, b], extensions: ["safetensors"], what: "a task vector (safetensors)")
        if let rank, rank < 1 { throw ValidationError("--rank \(rank): the rank must be at least 1") }
    }

    func run() throws {
        let ma = try ModelInput(url: DefaultModel.resolve(a)), mb = try ModelInput(url: DefaultModel.resolve(b))
        let report = try TaskVector.diff(ma, mb, filter: TensorFilter(include: include, exclude: exclude),
                                         allowMissing: allowMissing, rank: rank, to: URL(fileURLWithPath: output),
                                         progress: ProgressLine().report)
        try printReport(report, json: json, verbose: verbose)
        let factored = report.tensors.filter { $0.rank != nil }.count
        let changed = report.changed.count - report.aOnly.count
        var parts = [plural(changed, "changed tensor") + (factored > 0 ? " (\(factored) as rank-\(rank!) factors)" : "")]
        if !report.aOnly.isEmpty { parts.append("\(report.aOnly.count) only in A carried whole") }
        parts.append("\(report.tensors.count - report.changed.count) unchanged listed in its metadata")
        wrote(output, "task vector, F32: " + parts.joined(separator: ", "))
    }
}

/// A diff report on standard output: JSON, the per-tensor table (verbose), or a few summary lines; written
/// unbuffered, so that in a pipe too it comes before the closing line on standard error.
func printReport(_ report: DiffReport, json: Bool, verbose: Bool) throws {
    let text = json ? String(decoding: try report.json(), as: UTF8.self) : verbose ? report.table() : report.summary()
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

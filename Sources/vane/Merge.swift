import ArgumentParser
import Foundation
import VaneEdit

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge models as a mergekit YAML config says (the methods and their parameters: docs/merge-methods.md).")

    @Argument(help: "mergekit YAML config; model paths in it resolve against its folder.") var config: String
    @OptionGroup var out: ModelOutputOptions
    @Option(help: "Seed for the random drops of DARE and DELLA.") var seed: UInt64 = 0

    func run() throws {
        let merge = try MergeConfig.load(URL(fileURLWithPath: config))
        let written = try VaneEdit.Merge.run(merge, to: out.options(), seed: seed, progress: ProgressLine().report)
        wrote(out.output, "\(merge.method.rawValue) merge of \(plural(merge.models.count, "model")): \(written)")
    }
}

import ArgumentParser
import Foundation
import VaneActivations

struct Store: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and merge activation stores.", subcommands: [Info.self, Merge.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Shapes, provenance and counts of an activation store (.h5 from extract or trace).")

        @Argument(help: "An activation store, e.g. acts.h5 (or an interrupted acts.h5.partial).") var file: String

        func run() throws {
            print(try ActivationStore(url: URL(fileURLWithPath: file)).summary())
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join the shard stores of one input (extract --shard K/N) into the store one run writes.",
            discussion: """
                Give every shard 1…N once, in any order; they must share the model, hooks, positions, span and \
                input. The result equals one run over the input in every dataset. With --virtual the hook datasets \
                stay in the shards and OUTPUT links them (HDF5 virtual datasets), so the shard files must stay \
                where they are relative to OUTPUT. Scale-out recipes: docs/scale-out.md.
                """)

        @Argument(help: "The shard stores, e.g. acts.1.h5 acts.2.h5 ….") var shards: [String] = []
        @Flag(help: "Link the shards' activations as HDF5 virtual datasets instead of copying them.") var virtual = false
        @Option(name: .shortAndLong, help: "Merged .h5 file.") var output: String

        func validate() throws {
            guard !shards.isEmpty else { throw ValidationError("give the shard stores to merge, e.g. acts.*.h5") }
            try checkOutput(output, inputs: shards, extensions: ["h5", "hdf5"], what: "an HDF5 activation store")
        }

        func run() throws {
            let summary = try StoreMerge.merge(shards.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: output),
                                               virtual: virtual, commandLine: commandLine)
            wrote(output, plural(summary.examples, "example") + " from " + plural(summary.shards, "shard")
                + (virtual ? ", activations linked" : ""))
        }
    }
}

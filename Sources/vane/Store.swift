import ArgumentParser
import Foundation
import VaneActivations

struct Store: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect activation stores.", subcommands: [Info.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Shapes, provenance and counts of an activation store (.h5 from extract or trace).")

        @Argument(help: "An activation store, e.g. acts.h5 (or an interrupted acts.h5.partial).") var file: String

        func run() throws {
            print(try ActivationStore(url: URL(fileURLWithPath: file)).summary())
        }
    }
}

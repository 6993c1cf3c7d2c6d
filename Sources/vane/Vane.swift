import ArgumentParser
import VaneModelIO

@main
struct Vane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vane",
        abstract: "Activation steering and weight editing for transformer language models.",
        version: VaneVersion.current,
        subcommands: [Fetch.self, Inspect.self, Tokenize.self, Generate.self, Trace.self, Bench.self,
                      Diff.self, Apply.self, Merge.self, Convert.self, Recipe.self,
                      Extract.self, Store.self, Vector.self, SteerEvalCommand.self,
                      Heads.self, Edit.self, Serve.self]
    )
}

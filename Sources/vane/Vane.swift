import ArgumentParser

@main
struct Vane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vane",
        abstract: "Activation steering and weight editing for transformer language models.",
        subcommands: []
    )
}

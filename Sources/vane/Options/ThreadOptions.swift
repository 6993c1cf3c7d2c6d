import ArgumentParser
import VaneEngine

struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        // More workers than this only spawn threads that wait on each other.
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads \(threads): give 1…256") }
    }

    func apply() {
        if let threads { Parallel.setThreads(threads) }
    }
}

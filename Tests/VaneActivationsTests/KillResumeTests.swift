import Foundation
import Testing
import VaneActivations
import VaneTestSupport

/// An extraction of SmolLM2 killed with SIGKILL after at least two flushed batches (seen by opening a copy of the
/// partial file read-only, so not timing-dependent) leaves a store that opens with whole batches equal to an
/// uninterrupted run's; --resume finishes it, and the result equals the uninterrupted run exactly.
@Suite(.enabled(if: Fixtures.smollm2 != nil, "SmolLM2 is not in the cache (vane fetch smollm2)"))
struct KillResumeTests {
    @Test func killedRunResumesToTheUninterruptedResult() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let model = try #require(Fixtures.smollm2).path
        let count = 240, batch = 16
        let data = try folder.jsonl("data.jsonl", (0..<count).map { i in
            ["prompt": "Question \(i): what is \(i) plus \(i * 7 % 13)? Answer with one number.", "label": i % 2]
        })
        let output = folder.file("acts.h5")
        let partial = Extraction.partialURL(for: output)
        let arguments = ["extract", model, data.path, "--hooks", "blocks.*.hook_resid_post", "--positions", "mean",
                         "--batch", "\(batch)", "-o", output.path]

        let process = Process()
        guard let binary = VaneProcess.binary else { throw VaneProcess.VaneNotBuilt() }
        process.executableURL = binary
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = 0
        let copy = folder.file("copy.h5")
        let deadline = Date().addingTimeInterval(600)
        while process.isRunning, seen < 2 * batch, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            try? FileManager.default.removeItem(at: copy)
            guard (try? FileManager.default.copyItem(at: partial, to: copy)) != nil else { continue }
            seen = (try? ActivationStore(url: copy).count) ?? seen
        }
        try #require(process.isRunning, "the run finished before two batches were seen (\(seen)); nothing was killed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        // Uninterrupted reference run.
        let reference = folder.file("reference.h5")
        let full = try VaneProcess.vane(Array(arguments.dropLast()) + [reference.path])
        #expect(full.status == 0, "\(full.output)")
        let expected = try ActivationStore(url: reference)
        #expect(expected.count == count)

        let killed = try ActivationStore(url: partial)
        #expect(killed.count >= seen && killed.count % batch == 0, "killed store holds \(killed.count) examples")
        #expect(!FileManager.default.fileExists(atPath: output.path), "an unfinished run must not appear as OUTPUT")
        for hook in killed.hooks {
            #expect(try killed.read(hook: hook).data == expected.read(hook: hook, examples: 0..<killed.count).data,
                    "\(hook): flushed rows differ from the uninterrupted run's")
        }

        let resumed = try VaneProcess.vane(arguments + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("resumed after \(killed.count)"), "\(resumed.output)")
        let final = try ActivationStore(url: output)
        #expect(final.count == count)
        #expect(final.examples == expected.examples)
        #expect(final.tokenOffsets == expected.tokenOffsets)
        for hook in final.hooks {
            #expect(try final.read(hook: hook).data == expected.read(hook: hook).data, "\(hook) after resume")
        }
        #expect(!FileManager.default.fileExists(atPath: partial.path))
    }
}

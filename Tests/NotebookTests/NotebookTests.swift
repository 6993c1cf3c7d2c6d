import Foundation
import Testing
import VaneTestSupport

/// Runs the walkthroughs in notebooks-text/: in each ```console block, a line starting with `$ ` is a command
/// (run by /bin/sh from the repository root with the built `vane` first on PATH) and the lines up to the next
/// command or the block's end are its expected standard output, compared exactly.
@Suite(.enabled(if: Fixtures.smollm2 != nil && VaneProcess.binary != nil,
                "needs the default model (`vane fetch smollm2`) and a built vane (swift build -c release)"))
struct NotebookTests {
    struct Step {
        var command: String
        var expected: String
        var line: Int
    }

    static let folder = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("notebooks-text")

    static var notebooks: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".md") }.sorted()
    }

    static func steps(_ text: String) -> [Step] {
        var steps: [Step] = []
        var inConsole = false
        for (i, line) in text.components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("```") {
                inConsole = !inConsole && line == "```console"
            } else if inConsole, line.hasPrefix("$ ") {
                steps.append(Step(command: String(line.dropFirst(2)), expected: "", line: i + 1))
            } else if inConsole, !steps.isEmpty {
                steps[steps.count - 1].expected += line + "\n"
            }
        }
        return steps
    }

    @Test(arguments: notebooks)
    func notebookOutputsMatch(_ name: String) throws {
        let text = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
        let steps = Self.steps(text)
        #expect(!steps.isEmpty, "\(name) has no console steps")
        let bin = try #require(VaneProcess.binary).deletingLastPathComponent().path
        let repo = Self.folder.deletingLastPathComponent().path
        for step in steps {
            let result = try VaneProcess.run("/bin/sh", ["-c", "cd '\(repo)' && PATH='\(bin)':\"$PATH\" \(step.command) 2>/dev/null"])
            #expect(result.status == 0, "\(name):\(step.line): `\(step.command)` exited with \(result.status)")
            if result.output != step.expected {
                let got = result.output.components(separatedBy: "\n"), want = step.expected.components(separatedBy: "\n")
                let k = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
                Issue.record("\(name):\(step.line): `\(step.command)` output differs at its line \(k + 1):\n  got:  \(k < got.count ? got[k] : "<end>")\n  want: \(k < want.count ? want[k] : "<end>")")
            }
        }
    }
}

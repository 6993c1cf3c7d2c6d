import Foundation
import Testing
import VaneActivations
import VaneEngine
import VaneTestSupport

/// Each way an extraction can be asked wrongly fails before any compute with an error that says what and where.
@Suite struct BadInputTests {
    let model: LanguageModel
    let folder: TemporaryFolder

    init() throws {
        model = try LanguageModel(url: Fixtures.url("tiny-llama"))
        folder = try TemporaryFolder()
    }

    func error(_ data: URL, hooks: [String] = ["blocks.*.hook_resid_post"], options edit: (inout ExtractionOptions) -> Void = { _ in },
               output: URL? = nil, resume: Bool = false, model other: LanguageModel? = nil) -> String {
        var options = ExtractionOptions(hooks: hooks)
        edit(&options)
        do {
            let extraction = try Extraction(model: other ?? model, data: data, options: options)
            _ = try extraction.run(output: output ?? folder.file("out.h5"), resume: resume)
            return "no error"
        } catch {
            return "\(error)"
        }
    }


    @Test func malformedLineNamesFileAndLine() throws {
        defer { folder.remove() }
        let data = try folder.text("bad.jsonl", "{\"prompt\": \"fine\"}\n{\"prompt\": \"oops\"\n{\"prompt\": \"fine\"}\n")
        expect(error(data), contains: ["bad.jsonl:2:", "not valid JSON"])
        // --skip-bad: a warning with a count, and the other lines are extracted.
        var options = ExtractionOptions(hooks: ["blocks.0.hook_resid_post"])
        options.skipBad = true
        let extraction = try Extraction(model: model, data: data, options: options)
        #expect(extraction.input.skipped.count == 1)
        #expect(extraction.input.skipped.first?.message.hasPrefix(data.path + ":2: ") == true)
        #expect(extraction.input.examples.map(\.line) == [1, 3])
    }

    @Test func missingAndMistypedFields() throws {
        defer { folder.remove() }
        expect(error(try folder.text("a.jsonl", "{\"text\": \"no prompt key\"}\n")),
               contains: ["a.jsonl:1:", "needs \"prompt\", \"messages\"", "keys here: text"])
        expect(error(try folder.text("b.jsonl", "{\"positive\": \"only one side\"}\n")),
               contains: ["b.jsonl:1:", "both \"positive\" and \"negative\""])
        expect(error(try folder.text("c.jsonl", "{\"prompt\": \"x\", \"label\": \"yes\"}\n")),
               contains: ["c.jsonl:1:", "\"label\" must be an integer"])
        expect(error(try folder.text("d.jsonl", "{\"prompt\": \"x\"}\n"), options: { $0.span = .completion }),
               contains: ["d.jsonl:1:", "no completion"])
        expect(error(try folder.text("e.jsonl", "{\"prompt\": \"no markers here\"}\n"),
                     options: { $0.span = .markers(start: "<think>", end: "</think>") }),
               contains: ["e.jsonl:1:", "start marker \"<think>\" not found"])
        expect(error(try folder.text("f.jsonl", "{\"prompt\": \"abc\"}\n"), options: { $0.positions = .index(50) }),
               contains: ["f.jsonl:1:", "index:50 is outside"])
    }

    @Test func emptyFile() throws {
        defer { folder.remove() }
        expect(error(try folder.text("empty.jsonl", "")), contains: ["empty.jsonl", "holds no examples"])
        expect(error(try folder.text("blank.jsonl", "\n\n")), contains: ["blank.jsonl", "holds no examples"])
        expect(error(folder.file("absent.jsonl")), contains: ["absent.jsonl", "cannot read"])
    }

    @Test func unknownHookAndLayerOutOfRange() throws {
        defer { folder.remove() }
        let data = try folder.text("ok.jsonl", "{\"prompt\": \"x\"}\n")
        expect(error(data, hooks: ["blocks.*.hook_resid_postt"]), contains: ["blocks.*.hook_resid_postt", "matches no hook point"])
        expect(error(data, hooks: ["blocks.7.hook_resid_post"]), contains: ["layer 7 is out of range", "0…2"])
    }

    @Test func outputInMissingOrReadOnlyFolder() throws {
        defer { folder.remove() }
        let data = try folder.text("ok.jsonl", "{\"prompt\": \"x\"}\n")
        expect(error(data, output: folder.file("missing/out.h5")), contains: ["missing", "does not exist"])
        let readOnly = folder.file("ro")
        try FileManager.default.createDirectory(at: readOnly, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: readOnly.path)
        // root ignores folder permissions; /proc refuses new files to everyone.
        let target = getuid() == 0 ? URL(fileURLWithPath: "/proc/out.h5") : readOnly.appendingPathComponent("out.h5")
        expect(error(data, output: target), contains: [target.path, "cannot"])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: readOnly.path)
    }

    @Test func resumeAgainstAnotherModelOrSettings() throws {
        defer { folder.remove() }
        let data = try folder.jsonl("ok.jsonl", (0..<4).map { ["prompt": "example \($0)"] })
        let output = folder.file("out.h5")
        var options = ExtractionOptions(hooks: ["blocks.*.hook_resid_post"], batch: 2)
        _ = try Extraction(model: model, data: data, options: options).run(output: output, resume: false)
        // Pretend the run was interrupted: the finished file becomes the partial one.
        try FileManager.default.moveItem(at: output, to: Extraction.partialURL(for: output))
        let qwen = try LanguageModel(url: Fixtures.url("tiny-qwen2"))
        expect(error(data, output: output, resume: true, model: qwen), contains: ["cannot resume", "model_sha256"])
        expect(error(data, options: { $0.positions = .mean; $0.batch = 2 }, output: output, resume: true),
               contains: ["cannot resume", "positions last", "mean"])
        // Without --resume an interrupted run is not silently overwritten.
        expect(error(data, options: { $0.batch = 2 }, output: output), contains: ["interrupted", "--resume"])
        options.batch = 2
        let summary = try Extraction(model: model, data: data, options: options).run(output: output, resume: true)
        #expect(summary.resumedAt == 4)
    }
}

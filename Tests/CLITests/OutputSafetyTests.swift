import Foundation
import Testing
import VaneTestSupport

/// Commands refuse outputs that would destroy one of their inputs (also through a symlink or a hard link) and
/// outputs whose extension contradicts what is written; failed runs leave nothing behind; absurd numbers on the
/// command line are refused instead of hanging. Every case runs the built `vane` on copies of the tiny fixtures
/// and checks the inputs are byte for byte what they were.
@Suite(.enabled(if: VaneProcess.binary != nil, "no built vane executable"))
struct OutputSafetyTests {
    let dir: URL
    let model: URL, data: URL, vector: URL, store: URL

    init() throws {
        dir = try scratch("cli")
        model = dir.appendingPathComponent("m.gguf")
        try FileManager.default.copyItem(at: Fixtures.url("tiny-llama.f32.gguf"), to: model)
        data = dir.appendingPathComponent("d.jsonl")
        try Data("{\"prompt\": \"hello there\", \"label\": 1}\n{\"prompt\": \"good bye\", \"label\": 0}\n".utf8).write(to: data)
        store = dir.appendingPathComponent("s.h5")
        let made = try VaneProcess.vane(["extract", model.path, data.path, "--hooks", "blocks.1.hook_resid_post", "-o", store.path])
        #expect(made.status == 0, "\(made.output)")
        vector = dir.appendingPathComponent("v.gguf")
        let computed = try VaneProcess.vane(["vector", "compute", store.path, "--method", "mean-diff", "-o", vector.path])
        #expect(computed.status == 0, "\(computed.output)")
    }

    /// Runs `arguments`, expects failure mentioning `words`, and that `inputs` are unchanged and no .partial is left.
    func refuses(_ arguments: [String], mentioning words: [String], inputs: [URL],
                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try inputs.map { try Data(contentsOf: $0) }
        let r = try VaneProcess.vane(arguments)
        #expect(r.status != 0, "exit 0: \(r.output)", sourceLocation: sourceLocation)
        for w in words { #expect(r.output.contains(w), "no \"\(w)\" in: \(r.output)", sourceLocation: sourceLocation) }
        for (url, data) in zip(inputs, before) {
            #expect(try Data(contentsOf: url) == data, "\(url.lastPathComponent) changed", sourceLocation: sourceLocation)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("partial") }
        #expect(left.isEmpty, "left behind: \(left)", sourceLocation: sourceLocation)
    }

    @Test func outputIsAnInput() throws {
        try refuses(["trace", model.path, "--prompt", "hi", "-o", model.path], mentioning: ["m.gguf"], inputs: [model])
        try refuses(["vector", "combine", "\(vector.path):1", "\(vector.path):1", "-o", vector.path],
                    mentioning: ["would overwrite", "v.gguf"], inputs: [vector])
        try refuses(["vector", "compute", store.path, "--method", "mean-diff", "-o", store.path],
                    mentioning: ["s.h5"], inputs: [store])
        try refuses(["extract", model.path, data.path, "--hooks", "blocks.0.hook_resid_post", "-o", data.path],
                    mentioning: ["d.jsonl"], inputs: [data, model])
        try refuses(["diff", model.path, model.path, "-o", model.path], mentioning: ["m.gguf"], inputs: [model])
    }

    @Test func outputThroughLinks() throws {
        let symlink = dir.appendingPathComponent("link.h5")
        try FileManager.default.createSymbolicLink(at: symlink, withDestinationURL: data)
        try refuses(["extract", model.path, data.path, "--hooks", "blocks.0.hook_resid_post", "-o", symlink.path],
                    mentioning: ["would overwrite", "d.jsonl"], inputs: [data])
        let hard = dir.appendingPathComponent("hard.gguf")
        try FileManager.default.linkItem(at: vector, to: hard)
        try refuses(["vector", "combine", "\(vector.path):2", "-o", hard.path], mentioning: ["would overwrite"], inputs: [vector])
    }

    @Test func extensionContradictsWhatIsWritten() throws {
        let x = dir.appendingPathComponent("x.gguf").path
        try refuses(["extract", model.path, data.path, "--hooks", "blocks.0.hook_resid_post", "-o", x],
                    mentioning: ["HDF5", ".h5"], inputs: [model, data])
        try refuses(["vector", "compute", store.path, "--method", "mean-diff", "-o", dir.appendingPathComponent("v.h5").path],
                    mentioning: [".gguf"], inputs: [store])
        try refuses(["diff", model.path, model.path, "-o", dir.appendingPathComponent("tv.gguf").path],
                    mentioning: [".safetensors"], inputs: [model])
    }

    /// Errors that do not depend on a kill leave no .partial (a NUL in a prompt is caught at its line).
    @Test func failedRunsLeaveNothing() throws {
        let bad = dir.appendingPathComponent("nul.jsonl")
        try Data("{\"prompt\": \"fine\"}\n{\"prompt\": \"a\\u0000b\"}\n".utf8).write(to: bad)
        let out = dir.appendingPathComponent("o.h5").path
        try refuses(["extract", model.path, bad.path, "--hooks", "blocks.0.hook_resid_post", "-o", out],
                    mentioning: ["nul.jsonl:2", "NUL"], inputs: [bad])
        try refuses(["extract", model.path, data.path, "--hooks", "blocks.0.hook_resid_post", "--batch",
                     "9223372036854775807", "-o", out], mentioning: ["--batch"], inputs: [data])
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// Numbers that used to hang or trap: --threads 100000, a layer range to Int.max, an empty prompt.
    @Test func absurdNumbers() throws {
        try refuses(["generate", model.path, "--prompt", "hi", "--threads", "100000"], mentioning: ["--threads"], inputs: [])
        try refuses(["generate", model.path, "--prompt", "hi", "--max-tokens", "2", "--steer", vector.path,
                     "--layers", "0-9223372036854775807"], mentioning: ["9223372036854775807", "beyond"], inputs: [])
        let t = dir.appendingPathComponent("t.safetensors")
        try refuses(["trace", model.path, "--prompt", "", "-o", t.path], mentioning: ["no tokens"], inputs: [model])
        try refuses(["trace", model.path, "--ids", "", "-o", t.path], mentioning: ["--ids"], inputs: [model])
        #expect(!FileManager.default.fileExists(atPath: t.path))
    }
}

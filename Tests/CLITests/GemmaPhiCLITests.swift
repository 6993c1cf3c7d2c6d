import Foundation
import Testing
import VaneTestSupport

/// The loop downstream of loading on the tiny Gemma 2, Gemma 3 and Phi-3 models (HF folders): extract → vector
/// → steered generation, the head edit (exact before the post-norms), and the o_proj/down_proj edits, which
/// Gemma refuses with the reason and Phi-3 bakes into a model Vane runs.
@Suite(.enabled(if: VaneProcess.binary != nil, "no built vane executable"))
struct GemmaPhiCLITests {
    @discardableResult
    func run(_ arguments: [String], succeeds: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try VaneProcess.vane(arguments)
        #expect((r.status == 0) == succeeds, "vane \(arguments.joined(separator: " ")) exited \(r.status): \(r.output)",
                sourceLocation: sourceLocation)
        return r.output
    }

    @Test(arguments: ["gemma2", "gemma3", "phi3"])
    func extractVectorSteerEdit(_ family: String) throws {
        let dir = try scratch("arch-cli-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.url("arch/tiny-\(family)").path
        let data = dir.appendingPathComponent("d.jsonl"), store = dir.appendingPathComponent("s.h5")
        let vector = dir.appendingPathComponent("v.gguf")
        try Data(("{\"prompt\": \"hello there\", \"label\": 1}\n{\"prompt\": \"good bye\", \"label\": 0}\n"
            + "{\"prompt\": \"hello you\", \"label\": 1}\n{\"prompt\": \"bye now\", \"label\": 0}\n").utf8).write(to: data)
        try run(["extract", model, data.path, "--hooks", "blocks.*.hook_resid_post", "-o", store.path])
        try run(["vector", "compute", store.path, "--method", "mean-diff", "-o", vector.path])
        let plain = try run(["generate", model, "--prompt", "The answer is", "--max-tokens", "4", "--temperature", "0"])
        let steered = try run(["generate", model, "--prompt", "The answer is", "--max-tokens", "4", "--temperature", "0",
                               "--steer", "\(vector.path):8"])
        #expect(plain != steered, "\(family): steering by 8 × the vector changed nothing")
        let heads = dir.appendingPathComponent("heads.gguf")
        try run(["edit", "heads", model, "--direction", vector.path, "--heads", "1.0", "-o", heads.path])
        try run(["generate", heads.path, "--prompt", "hi", "--max-tokens", "2", "--temperature", "0"])
        let ablated = dir.appendingPathComponent("ab.gguf"), added = dir.appendingPathComponent("add.gguf")
        if family == "phi3" {
            try run(["edit", "ablate", model, "--direction", vector.path, "-o", ablated.path])
            try run(["edit", "add", model, "--vector", "\(vector.path):-0.5", "-o", added.path])
            try run(["generate", added.path, "--prompt", "hi", "--max-tokens", "2", "--temperature", "0"])
        } else {
            let refusal = try run(["edit", "ablate", model, "--direction", vector.path, "-o", ablated.path], succeeds: false)
            #expect(refusal.contains("RMSNorm follows"), "\(refusal)")
            try run(["edit", "add", model, "--vector", "\(vector.path):-0.5", "-o", added.path], succeeds: false)
            #expect(!FileManager.default.fileExists(atPath: ablated.path) && !FileManager.default.fileExists(atPath: added.path))
        }
    }
}

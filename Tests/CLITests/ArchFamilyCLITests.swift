import Foundation
import Testing
import VaneModelIO
import VaneTestSupport

/// The loop downstream of loading, on each new family's tiny model (Tests/Fixtures/arch/): extract → vector →
/// steer (generate and steer-eval), trace of the new hook points, an edit, diff → apply, and convert. OLMo 2's
/// ablation is refused (post-norms); its head edit runs. Qwen3-MoE also traces its routing hooks, steers and
/// ablates experts, and runs RICE with span markers. Each command must exit 0 (or refuse, where said) and
/// write what it says.
@Suite(.enabled(if: VaneProcess.binary != nil, "no built vane executable"))
struct ArchFamilyCLITests {
    @discardableResult
    static func succeeds(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try VaneProcess.vane(arguments)
        #expect(r.status == 0, "vane \(arguments.joined(separator: " ")): \(r.output)", sourceLocation: sourceLocation)
        return r.output
    }

    @Test(arguments: ["llama3", "mistral", "qwen3", "olmo2", "qwen3moe"])
    func downstreamCommands(_ family: String) throws {
        let dir = try scratch("arch-cli-\(family)")
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let model = ArchFixtures.folder(family).path
        try Data(("{\"prompt\": \"hello there my friend\", \"label\": 1}\n{\"prompt\": \"good bye for now\", \"label\": 0}\n"
            + "{\"prompt\": \"hello you, how are things\", \"label\": 1}\n{\"prompt\": \"bye now, see you\", \"label\": 0}\n").utf8)
            .write(to: URL(fileURLWithPath: path("d.jsonl")))
        try Data("{\"prompt\": \"hello\"}\n".utf8).write(to: URL(fileURLWithPath: path("p.jsonl")))

        try Self.succeeds(["extract", model, path("d.jsonl"), "--hooks", "blocks.*.hook_resid_post", "-o", path("s.h5")])
        // A block with experts has no single MLP activation; its expert outputs [E, d] per token take its place.
        let mlpHook = family.hasSuffix("moe") ? "blocks.1.mlp.hook_expert_out" : "blocks.1.mlp.hook_post"
        try Self.succeeds(["extract", model, path("d.jsonl"), "--hooks", mlpHook, "blocks.1.attn.hook_q",
                           "blocks.1.attn.hook_rot_k", "-o", path("new-hooks.h5")])
        let info = try Self.succeeds(["store", "info", path("new-hooks.h5")])
        #expect(info.contains(mlpHook) && info.contains("blocks.1.attn.hook_rot_k"), "\(info)")
        try Self.succeeds(["vector", "compute", path("s.h5"), "--method", "mean-diff", "-o", path("v.gguf")])
        try Self.succeeds(["generate", model, "--prompt", "hello", "--max-tokens", "4", "--temperature", "0", "--steer", "\(path("v.gguf")):2"])
        try Self.succeeds(["steer-eval", model, path("p.jsonl"), "--steer", path("v.gguf"), "--sweep", "-1:1:1", "--max-tokens", "2", "--plain"])
        let trace = try Self.succeeds(["trace", model, "--prompt", "hello there my friend", "--hooks",
                                       "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_rot_k", "-o", path("t.safetensors")])
        #expect(trace.contains("blocks.0.attn.hook_pattern"), "\(trace)")
        let refused = try VaneProcess.vane(["trace", model, "--prompt", "hi", "--hooks", "blocks.0.attn.hook_pattern", "-o", path("t.h5")])
        #expect(refused.status != 0 && refused.output.contains("not one row per token"), "\(refused.output)")

        if family == "olmo2" {
            let r = try VaneProcess.vane(["edit", "ablate", model, "--direction", path("v.gguf"), "-o", path("e.gguf")])
            #expect(r.status != 0 && r.output.contains("RMSNorm follows"), "\(r.output)")
            let heads = try Self.succeeds(["edit", "heads", model, "--direction", path("v.gguf"), "--heads", "1.0,2.3", "-o", path("e.gguf")])
            #expect(heads.contains("equals projecting the direction out of attn.hook_result (before that norm)"), "\(heads)")
        } else {
            try Self.succeeds(["edit", "ablate", model, "--direction", path("v.gguf"), "-o", path("e.gguf")])
        }
        if family == "qwen3moe" {
            // Routing hooks, expert steering and its baked ablation, RICE with span markers.
            let routing = try Self.succeeds(["trace", model, "--prompt", "hello there my friend", "--hooks", "blocks.1.mlp.hook_router_logits",
                                             "blocks.1.mlp.hook_expert_out", "-o", path("r.safetensors")])
            #expect(routing.contains("blocks.1.mlp.hook_expert_out"), "\(routing)")
            try Self.succeeds(["generate", model, "--prompt", "hello", "--max-tokens", "4", "--temperature", "0",
                               "--steer-experts", "1:2:0;2:0,1:1.5", "--steer-experts-at", "weights"])
            try Self.succeeds(["edit", "ablate-experts", model, "--experts", "1:2", "-o", path("x.gguf")])
            // ThinkEdit's steps on the attention of a model with experts.
            let scores = try Self.succeeds(["heads", model, path("d.jsonl"), "--direction", path("v.gguf"), "--span", "input", "--limit", "3"])
            #expect(scores.contains("rank  layer  head"), "\(scores)")
            try Self.succeeds(["edit", "heads", model, "--direction", path("v.gguf"), "--heads", "1.0,2.1", "-o", path("h.gguf")])
            try Data("{\"text\": \"we add<< then>> check, and<< then>> stop\"}\n".utf8).write(to: URL(fileURLWithPath: path("r.jsonl")))
            let rice = try Self.succeeds(["recipe", "rice", model, path("r.jsonl"), "--span-start", "<<", "--span-end", ">>", "-o", path("rice.json")])
            #expect(rice.contains("marked (inside << … >>)"), "\(rice)")
            let both = try VaneProcess.vane(["recipe", "rice", model, path("r.jsonl"), "--tokens", "then", "--span-start", "<<", "--span-end", ">>", "-o", path("rice.json")])
            #expect(both.status != 0 && both.output.contains("either --tokens or --span-start"), "\(both.output)")
        }
        try Self.succeeds(["convert", model, path("m.gguf")])
        try Self.succeeds(["diff", path("e.gguf"), path("m.gguf"), "-o", path("tv.safetensors")])
        try Self.succeeds(["apply", path("m.gguf"), path("tv.safetensors"), "-o", path("a.gguf")])
        try Self.succeeds(["generate", path("a.gguf"), "--prompt", "hello", "--max-tokens", "3", "--temperature", "0"])
    }
}

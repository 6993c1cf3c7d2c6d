import Foundation
import Testing
import VaneModelIO
import VaneTestSupport

/// The built `vane` on the tiny llama fixture: a sparse task vector carries the bias `edit add` created and `apply`
/// recreates it; merge and reasoning-vector copy the tensors they leave unchanged; every writing command closes
/// with its `[summary → path (size)]` line, and diff / reasoning-vector print a summary, the table only with
/// --verbose. Outputs are checked tensor by tensor against the GGUF files they must reproduce.
@Suite(.enabled(if: VaneProcess.binary != nil, "no built vane executable"))
struct TaskVectorCLITests {
    let dir: URL
    let model: URL, vector: URL

    init() throws {
        dir = try scratch("cli-taskvec")
        model = dir.appendingPathComponent("m.gguf")
        try FileManager.default.copyItem(at: Fixtures.url("tiny-llama.f32.gguf"), to: model)
        let data = dir.appendingPathComponent("d.jsonl")
        try Data("{\"prompt\": \"hello there\", \"label\": 1}\n{\"prompt\": \"good bye\", \"label\": 0}\n".utf8).write(to: data)
        let store = dir.appendingPathComponent("s.h5")
        vector = dir.appendingPathComponent("v.gguf")
        try run(["extract", model.path, data.path, "--hooks", "blocks.1.hook_resid_post", "-o", store.path])
        try run(["vector", "compute", store.path, "--method", "mean-diff", "-o", vector.path])
    }

    @discardableResult
    func run(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try VaneProcess.vane(arguments)
        #expect(r.status == 0, "vane \(arguments.joined(separator: " ")): \(r.output)", sourceLocation: sourceLocation)
        return r.output
    }

    /// Every tensor of `b` has `a`'s name, type, shape and bytes, in `a`'s order.
    func sameTensors(_ a: URL, _ b: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let x = try GGUFFile(url: a), y = try GGUFFile(url: b)
        #expect(x.tensors.map(\.name) == y.tensors.map(\.name), sourceLocation: sourceLocation)
        for t in x.tensors {
            let u = y.tensor(named: t.name)
            #expect(u?.type == t.type && u?.shape == t.shape && u.map { $0.bytes.elementsEqual(t.bytes) } == true,
                    "\(t.name) differs", sourceLocation: sourceLocation)
        }
    }

    /// `edit add` creates blk.1.ffn_down.bias; the diff against the original holds only that tensor (marked
    /// vane.a_only), and apply to the original recreates the edited model exactly, without --allow-missing.
    @Test func biasOnlyInACarriedAndRecreated() throws {
        let edited = dir.appendingPathComponent("A.gguf"), tv = dir.appendingPathComponent("tv.safetensors")
        try run(["edit", "add", model.path, "--vector", "\(vector.path):0.5", "--layers", "1", "-o", edited.path])
        let diff = try run(["diff", edited.path, model.path, "-o", tv.path])
        let tensorCount = try GGUFFile(url: model).tensors.count
        expect(diff, contains: ["\(tensorCount + 1) tensors compared: 1 changed, \(tensorCount) unchanged (1 only in A",
                                "[task vector, F32: 0 changed tensors, 1 only in A carried whole, \(tensorCount) unchanged listed in its metadata → \(tv.path) ("])
        #expect(diff.split(separator: "\n").count < 8, "diff printed more than a summary:\n\(diff)")
        let file = try SafetensorsFile(url: tv)
        #expect(file.tensors.map(\.name) == ["model.layers.1.mlp.down_proj.bias"], "\(file.tensors.map(\.name))")
        #expect(file.metadata["vane.a_only"] == "[\"model.layers.1.mlp.down_proj.bias\"]", "\(file.metadata)")

        let verbose = try run(["diff", edited.path, model.path, "-o", tv.path, "--verbose"])
        #expect(verbose.split(separator: "\n").count >= tensorCount + 2, "--verbose gave no table:\n\(verbose)")

        let applied = dir.appendingPathComponent("B.gguf")
        let out = try run(["apply", model.path, tv.path, "-o", applied.path])
        expect(out, contains: ["[base + 1.0·Δ: 1 tensor computed (F32), \(tensorCount) tensors copied byte for byte (F32) → \(applied.path) ("])
        try sameTensors(edited, applied)
    }

    /// task_arithmetic with the edited model as base and the original as the other model: the original lacks the
    /// bias (zero delta) and matches the base everywhere else, so the merge is the base, every tensor copied.
    @Test func mergeCopiesWhatItLeavesUnchanged() throws {
        let edited = dir.appendingPathComponent("A.gguf"), merged = dir.appendingPathComponent("M.gguf")
        try run(["edit", "add", model.path, "--vector", "\(vector.path):0.5", "--layers", "1", "-o", edited.path])
        let yaml = dir.appendingPathComponent("merge.yaml")
        try Data("merge_method: task_arithmetic\nbase_model: A.gguf\nmodels:\n  - {model: m.gguf, parameters: {weight: 1.0}}\n".utf8).write(to: yaml)
        let out = try run(["merge", yaml.path, "-o", merged.path])
        let count = try GGUFFile(url: edited).tensors.count
        expect(out, contains: ["[task_arithmetic merge of 1 model: \(count) tensors copied byte for byte (F32) → \(merged.path) ("])
        try sameTensors(edited, merged)
    }

    /// reasoning-vector with GRPO = an ablation of layer 1 (two matrices changed) and SFT = TARGET = the original:
    /// two tensors computed (equal to the ablated ones within F32 rounding of t + (g − t)), the rest copied.
    @Test func reasoningVectorSummarizes() throws {
        let ablated = dir.appendingPathComponent("ablated.gguf"), out = dir.appendingPathComponent("R.gguf")
        try run(["edit", "ablate", model.path, "--direction", vector.path, "--layers", "1", "-o", ablated.path])
        let text = try run(["recipe", "reasoning-vector", "--grpo", ablated.path, "--sft", model.path, "--target", model.path, "-o", out.path])
        let count = try GGUFFile(url: model).tensors.count
        expect(text, contains: ["\(count) tensors compared: 2 changed, \(count - 2) unchanged",
                                "[target + 1.0·(GRPO − SFT): 2 tensors computed (F32), \(count - 2) tensors copied byte for byte (F32) → \(out.path) ("])
        #expect(text.split(separator: "\n").count < 8, "printed more than a summary:\n\(text)")
        let a = try GGUFFile(url: ablated), r = try GGUFFile(url: out)
        for t in a.tensors {
            let expected = dequantize(t).data, got = dequantize(try #require(r.tensor(named: t.name))).data
            #expect(compare(got, expected, atol: 1e-6, label: t.name) == nil)
        }
    }

    @Test func convertSaysWhatItWrote() throws {
        let folder = dir.appendingPathComponent("hf")
        let out = try run(["convert", model.path, folder.path])
        expect(out, contains: ["[converted: ", "copied byte for byte (F32) → \(folder.path) ("])
    }
}

import Foundation
import Testing
import VaneEdit
import VaneModelIO
import VaneTensor
import VaneTestSupport

@Suite struct TaskVectorTests {
    let base = Fixtures.url("merge/base"), ftA = Fixtures.url("merge/ft_a")

    /// diff(ft_a, base) then apply with α = 1 gives ft_a exactly (its deltas are small next to the weights, so
    /// θ_A − θ_B and θ_B + Δ are exact in F32); α = 0 gives the base's bytes.
    @Test func diffThenApplyReproduces() throws {
        let dir = try scratch("tv")
        let tv = dir.appendingPathComponent("ft_a.taskvec.safetensors")
        let report = try TaskVector.diff(ModelInput(url: ftA), ModelInput(url: base), to: tv)
        #expect(report.tensors.count == 30)
        #expect(report.tensors.contains { $0.sparsity < 1 } && report.tensors.allSatisfy { $0.cosine > 0.9 })
        let file = try SafetensorsFile(url: tv)
        #expect(file.metadata["vane.format"] == "task_vector")
        // The base's identity as an HF folder: config.json's and the shard's digests, joined and hashed.
        let digests = try ["config.json", "model.safetensors"].map { try SHA256.hex(ofFile: base.appendingPathComponent($0)) }
        #expect(file.metadata["vane.b_sha256"] == SHA256.hex(of: Data(digests.joined(separator: "\n").utf8)))

        let one = dir.appendingPathComponent("one")
        try TaskVector.apply(base: ModelInput(url: base), taskVector: tv, scale: 1, to: OutputOptions(url: one))
        let problem = compareTensors(try folderTensors(one), try folderTensors(ftA), atol: 0)
        #expect(problem == nil, "\(problem ?? "")")

        let zero = dir.appendingPathComponent("zero")
        try TaskVector.apply(base: ModelInput(url: base), taskVector: tv, scale: 0, to: OutputOptions(url: zero))
        let original = try SafetensorsFile(url: base.appendingPathComponent("model.safetensors"))
        let copied = try SafetensorsFile(url: zero.appendingPathComponent("model.safetensors"))
        for t in original.tensors {
            #expect(copied.tensor(named: t.name).map { Array($0.bytes) == Array(t.bytes) } == true, "\(t.name) not bit-identical")
        }
    }

    /// α scales linearly: base + 0.5·Δ and base − 1·Δ, checked against values computed here from the inputs.
    @Test func scaleIsApplied() throws {
        let dir = try scratch("scale")
        let tv = dir.appendingPathComponent("tv.safetensors")
        _ = try TaskVector.diff(ModelInput(url: ftA), ModelInput(url: base), filter: TensorFilter(include: ["mlp"]), to: tv)
        #expect(try SafetensorsFile(url: tv).tensors.count == 9)
        let out = dir.appendingPathComponent("neg")
        try TaskVector.apply(base: ModelInput(url: base), taskVector: tv, scale: -0.5, to: OutputOptions(url: out))
        let b = try folderTensors(base), a = try folderTensors(ftA), o = try folderTensors(out)
        for (name, t) in b {
            let expected = name.contains("mlp") ? zip(t.data, a[name]!.data).map { $0 - 0.5 * ($1 - $0) } : t.data
            #expect(compare(o[name]!.data, expected, atol: 1e-7, label: name) == nil)
        }
    }

    @Test func filterMatchesBothNameForms() {
        let f = TensorFilter(include: ["blk.1.*", "embed"], exclude: ["norm"])
        #expect(f.accepts("blk.1.attn_q.weight", in: .llama))
        #expect(!f.accepts("blk.1.attn_norm.weight", in: .llama))
        #expect(f.accepts("token_embd.weight", in: .llama))
        #expect(!f.accepts("blk.2.ffn_up.weight", in: .llama))
    }

    /// A zero task vector applied to the default model (Q4_1 GGUF) leaves every tensor byte-identical and keeps the
    /// metadata, adding vane.* provenance.
    @Test func zeroApplyOnQuantizedGGUFCopiesBytes() throws {
        guard let smol = Fixtures.smollm2 else { return }
        let dir = try scratch("smol")
        let model = try ModelInput(url: smol)
        let tv = dir.appendingPathComponent("zero.safetensors")
        _ = try TaskVector.diff(model, model, filter: TensorFilter(include: ["blk.0.*"]), to: tv)
        let out = dir.appendingPathComponent("out.gguf")
        try TaskVector.apply(base: model, taskVector: tv, scale: 1, to: OutputOptions(url: out))
        let a = try GGUFFile(url: smol), b = try GGUFFile(url: out)
        #expect(a.tensors.count == b.tensors.count)
        for t in a.tensors {
            let u = b.tensor(named: t.name)
            #expect(u?.type == t.type && u?.shape == t.shape && u.map { $0.bytes.elementsEqual(t.bytes) } == true, "\(t.name) changed")
        }
        for key in a.metadataOrder { #expect(b.metadata[key] == a.metadata[key], "metadata \(key) changed") }
        #expect(b.metadata["vane.command"]?.string == "apply")
    }

    /// A real change to a Q4_1 GGUF: blk.0's tensors are written as Q8_0 (norms stay F32) and hold base + Δ to
    /// within Q8_0's rounding; every other tensor keeps its stored bytes.
    @Test func changedTensorsQuantizeToQ8_0() throws {
        let dir = try scratch("q8")
        let llama = try ModelInput(url: Fixtures.url("tiny-llama.f32.gguf"))
        let tv = dir.appendingPathComponent("tv.safetensors")
        _ = try TaskVector.diff(ModelInput(url: ftA), ModelInput(url: base), filter: TensorFilter(include: ["blk.0."]), to: tv)
        let out = dir.appendingPathComponent("out.gguf")
        try TaskVector.apply(base: llama, taskVector: tv, scale: 1, to: OutputOptions(url: out, dtype: .q8_0))
        let result = try ModelInput(url: out)
        let delta = try folderTensors(tv)
        for name in llama.names {
            let stored = result.stored(name)!
            if name.hasPrefix("blk.0.") {
                #expect(stored.type == (stored.shape.count == 1 ? .f32 : .q8_0), "\(name) is \(stored.type)")
                let expected = zip(try llama.values(name).data, delta[ArchitectureSpec.llama.hf(fromGGUF: name)!]!.data).map(+)
                let scale = expected.map(abs).max()! / 127
                #expect(compare(try result.values(name).data, expected, atol: scale, label: name) == nil)
            } else {
                #expect(stored.bytes.elementsEqual(llama.stored(name)!.bytes), "\(name) changed")
            }
        }
    }
}

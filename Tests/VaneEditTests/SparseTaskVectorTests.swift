import Foundation
import Testing
import VaneEdit
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Sparse and low-rank task vectors, and byte-for-byte copies of the tensors apply, merge and reasoning-vector
/// leave unchanged. Inputs are the merge fixtures (F32 HF folders) and folders mixed from them here.
@Suite struct SparseTaskVectorTests {
    let base = Fixtures.url("merge/base"), ftA = Fixtures.url("merge/ft_a"), ftB = Fixtures.url("merge/ft_b")

    func mix(_ from: URL, _ other: URL, into dir: URL, take: (String) -> Bool) throws -> URL {
        try mixFolders(from, other, into: dir, take: take)
    }

    func isMLP(_ name: String) -> Bool { name.contains(".mlp.") }

    /// `diff(half, base)` where half = base with ft_a's MLP tensors: the task vector holds exactly the MLP tensors
    /// (the names whose values differ, found here from the files), lists the rest as unchanged, and applied to the
    /// base gives half exactly, every other tensor byte for byte.
    @Test func diffStoresOnlyChangedTensors() throws {
        let dir = try scratch("sparse")
        let half = try mix(base, ftA, into: dir.appendingPathComponent("half"), take: isMLP)
        let b = try folderTensors(base), h = try folderTensors(half)
        let changed = Set(h.keys.filter { h[$0]!.data != b[$0]!.data })
        #expect(changed.count == 9 && changed.allSatisfy(isMLP), "changed: \(changed.sorted())")

        let tv = dir.appendingPathComponent("tv.safetensors")
        let report = try TaskVector.diff(ModelInput(url: half), ModelInput(url: base), to: tv)
        let file = try SafetensorsFile(url: tv)
        #expect(Set(file.tensors.map(\.name)) == changed)
        let unchanged = try JSONSerialization.jsonObject(with: Data(file.metadata["vane.unchanged"]!.utf8)) as! [String]
        #expect(Set(unchanged) == Set(b.keys).subtracting(changed))
        #expect(file.metadata["vane.a_only"] == "[]")
        #expect(report.tensors.count == 30 && report.changed.count == 9)
        #expect(report.summary().hasPrefix("30 tensors compared: 9 changed, 21 unchanged"), "\(report.summary())")

        let out = dir.appendingPathComponent("applied")
        let written = try TaskVector.apply(base: ModelInput(url: base), taskVector: tv, scale: 1, to: OutputOptions(url: out))
        #expect(written.computed == [.f32: 9] && written.copied == [.f32: 21], "\(written)")
        let problem = compareTensors(try folderTensors(out), h, atol: 0)
        #expect(problem == nil, "\(problem ?? "")")
        let original = try storedBytes(base), result = try storedBytes(out)
        for (name, t) in original where !changed.contains(name) {
            #expect(result[name]?.bytes == t.bytes, "\(name) not copied byte for byte")
        }
    }

    /// Unchanged means equal values, not equal bytes: a model whose one tensor holds −0 where the other holds +0
    /// (bytes differ) diffs to an empty task vector listing all 30 tensors as unchanged.
    @Test func signedZerosAreUnchanged() throws {
        let dir = try scratch("zeros")
        var tensors = try folderTensors(base).sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) }
        func folder(_ name: String, zero: Float) throws -> URL {
            let url = try mixFolders(base, base, into: dir.appendingPathComponent(name)) { _ in false }
            tensors[0].tensor.data[0] = zero
            try SafetensorsWriter.write(tensors, to: url.appendingPathComponent("model.safetensors"))
            return url
        }
        let plus = try folder("plus", zero: 0), minus = try folder("minus", zero: -0.0)
        let bytes = try [plus, minus].map { try storedBytes($0)[tensors[0].name]!.bytes }
        #expect(bytes[0] != bytes[1], "the two files should differ in the sign bit")
        let tv = dir.appendingPathComponent("tv.safetensors")
        let report = try TaskVector.diff(ModelInput(url: minus), ModelInput(url: plus), to: tv)
        let file = try SafetensorsFile(url: tv)
        #expect(file.tensors.isEmpty && report.changed.isEmpty, "\(file.tensors.map(\.name))")
        #expect((try JSONSerialization.jsonObject(with: Data(file.metadata["vane.unchanged"]!.utf8)) as? [String])?.count == 30)
    }

    /// --rank 4: each matrix's factors multiply (by hand here) to numpy's rank-4 truncated SVD of Δ within 1e-5 of
    /// max |Δ| (float32 LAPACK vs float64 numpy), the reported retained energy matches numpy's to 1e-5, 1-D
    /// tensors are stored whole, and apply gives base + B·A as numpy computes it (1e-5).
    @Test func lowRankMatchesNumpy() throws {
        guard VaneProcess.hasH5py else { return }
        let dir = try scratch("lowrank")
        let tv = dir.appendingPathComponent("tv.safetensors"), ref = dir.appendingPathComponent("ref.safetensors")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("task_vector_reference.py")
        let python = try VaneProcess.run("/usr/bin/env", ["python3", script.path, ftA.path, base.path, "4", ref.path])
        try #require(python.status == 0, "\(python.output)")
        let report = try TaskVector.diff(ModelInput(url: ftA), ModelInput(url: base), rank: 4, to: tv)
        let expected = try folderTensors(ref)
        let energies = try JSONSerialization.jsonObject(with: Data(try SafetensorsFile(url: ref).metadata["energy"]!.utf8)) as! [String: Double]
        let stored = try folderTensors(tv)
        #expect(try SafetensorsFile(url: tv).metadata["vane.rank"] == "4")
        var factored = 0
        for (key, want) in expected where key.hasPrefix("delta.") {
            let name = String(key.dropFirst(6))
            let tolerance = 1e-5 * (want.data.map(abs).max() ?? 0) + 1e-9
            if let energy = energies[name] {
                factored += 1
                let stem = String(name.dropLast(".weight".count))
                let a = try #require(stored[stem + ".lora_A.weight"]), b = try #require(stored[stem + ".lora_B.weight"])
                let (m, n) = (want.shape[0], want.shape[1])
                #expect(a.shape == [4, n] && b.shape == [m, 4] && stored[name] == nil, "\(name): A \(a.shape), B \(b.shape)")
                var product = [Float](repeating: 0, count: m * n)
                for i in 0..<m { for j in 0..<n { for r in 0..<4 { product[i * n + j] += b.data[i * 4 + r] * a.data[r * n + j] } } }
                #expect(compare(product, want.data, atol: tolerance, label: name) == nil)
                let stats = try #require(report.tensors.first { ArchitectureSpec.llama.hf(fromGGUF: $0.name) == name || $0.name == name })
                #expect(stats.rank == 4 && abs((stats.retainedEnergy ?? -1) - energy) < 1e-5,
                        "\(name): energy \(stats.retainedEnergy ?? -1), numpy \(energy)")
            } else {
                let whole = try #require(stored[name], "\(name) missing from the task vector")
                #expect(compare(whole.data, want.data, atol: tolerance, label: name) == nil)
            }
        }
        #expect(factored == 23, "\(factored) matrices factored")

        let out = dir.appendingPathComponent("applied")
        try TaskVector.apply(base: ModelInput(url: base), taskVector: tv, scale: 1, to: OutputOptions(url: out))
        let result = try folderTensors(out)
        for (key, want) in expected where key.hasPrefix("applied.") {
            let name = String(key.dropFirst(8))
            #expect(compare(try #require(result[name]).data, want.data, atol: 1e-5, label: name) == nil)
        }
    }

    /// A task_arithmetic merge of F16 models keeps F16 for the tensors it computes and copies the rest from the
    /// base byte for byte; `dtype: float32` in the YAML makes the computed ones F32 (copies stay F16). Values are
    /// base + 0.5·(half − base), computed here in F32 and compared within F16 rounding.
    @Test func mergeCopiesUnchangedAndKeepsTheInputType() throws {
        let dir = try scratch("merge-types")
        let half32 = try mix(base, ftA, into: dir.appendingPathComponent("half32"), take: isMLP)
        let base16 = dir.appendingPathComponent("base16"), half16 = dir.appendingPathComponent("half16")
        try Convert.run(ModelInput(url: base), to: OutputOptions(url: base16, dtype: .f16))
        try Convert.run(ModelInput(url: half32), to: OutputOptions(url: half16, dtype: .f16))
        let b = try folderTensors(base16), h = try folderTensors(half16), original = try storedBytes(base16)

        for dtype in ["", "dtype: float32\n"] {
            let yaml = "merge_method: task_arithmetic\nbase_model: base16\nmodels:\n  - model: half16\n    parameters: {weight: 0.5}\n" + dtype
            let config = try MergeConfig(yaml: yaml, directory: dir)
            let out = dir.appendingPathComponent("out\(dtype.isEmpty ? "16" : "32")")
            let written = try Merge.run(config, to: OutputOptions(url: out))
            let computedType: GGMLType = dtype.isEmpty ? .f16 : .f32
            #expect(written.computed == [computedType: 9] && written.copied == [.f16: 21], "\(written)")
            let result = try storedBytes(out), values = try folderTensors(out)
            for (name, t) in original {
                if isMLP(name) {
                    #expect(result[name]?.type == computedType, "\(name) is \(String(describing: result[name]?.type))")
                    let expected = zip(b[name]!.data, h[name]!.data).map { $0 + 0.5 * ($1 - $0) }
                    #expect(compare(values[name]!.data, expected, atol: 0, rtol: dtype.isEmpty ? 1e-3 : 1e-6, label: name) == nil)
                } else {
                    #expect(result[name]?.type == .f16 && result[name]?.bytes == t.bytes, "\(name) not copied byte for byte")
                }
            }
        }
    }

    /// Linear over identical inputs copies only when the weights leave the values as they are: weights 1 and 1
    /// without normalize double every tensor (computed), with normalize every tensor is a byte copy.
    @Test func linearCopiesOnlyWhenWeightsKeepTheValues() throws {
        let dir = try scratch("linear-same")
        let twin = try mix(base, base, into: dir.appendingPathComponent("twin"), take: { _ in false })
        let b = try folderTensors(base)
        for normalize in [false, true] {
            let yaml = "merge_method: linear\nmodels:\n  - {model: \(base.path), parameters: {weight: 1}}\n"
                + "  - {model: \(twin.path), parameters: {weight: 1}}\nparameters: {normalize: \(normalize)}\n"
            let out = dir.appendingPathComponent("out-\(normalize)")
            let written = try Merge.run(try MergeConfig(yaml: yaml, directory: dir), to: OutputOptions(url: out))
            #expect(normalize ? written.copied == [.f32: 30] && written.computed.isEmpty : written.computed == [.f32: 30], "\(written)")
            let result = try folderTensors(out)
            for (name, t) in b {
                #expect(compare(result[name]!.data, t.data.map { normalize ? $0 : 2 * $0 }, atol: 0, label: name) == nil)
            }
        }
    }

    /// `model: smollm2` in a merge YAML names the default model, as on the command line.
    @Test func defaultModelNameInYAML() throws {
        guard let smol = Fixtures.smollm2 else { return }
        let config = try MergeConfig(yaml: "merge_method: linear\nmodels:\n  - model: smollm2\n    parameters: {weight: 1}\n",
                                     directory: URL(fileURLWithPath: "/nonexistent"))
        #expect(config.models[0].url.resolvingSymlinksInPath().path == smol.resolvingSymlinksInPath().path)
    }
}

import Foundation
import Testing
import VaneModelIO
import VaneTestSupport

/// The command line as the README writes it: negative numbers and ranges after an option, enumerated options that
/// name their values, `--version`, the closing `[SUMMARY → PATH (SIZE)]` line of each writing command, side files
/// only where asked, outputs that would replace a file of another kind, layer 0, and `bench`'s record of the kernels
/// it ran. Runs the built `vane` on copies of the tiny fixtures.
@Suite(.enabled(if: VaneProcess.binary != nil, "no built vane executable"))
struct CommandLineTests {
    let dir: URL
    let model: URL, data: URL, vector: URL, store: URL, prompts: URL

    init() throws {
        dir = try scratch("cmdline")
        model = dir.appendingPathComponent("m.gguf")
        try FileManager.default.copyItem(at: Fixtures.url("tiny-llama.f32.gguf"), to: model)
        data = dir.appendingPathComponent("d.jsonl")
        try Data(("{\"prompt\": \"hello there\", \"label\": 1}\n{\"prompt\": \"good bye\", \"label\": 0}\n"
            + "{\"prompt\": \"hello you\", \"label\": 1}\n{\"prompt\": \"bye now\", \"label\": 0}\n").utf8).write(to: data)
        prompts = dir.appendingPathComponent("p.jsonl")
        try Data("{\"prompt\": \"hello\"}\n".utf8).write(to: prompts)
        store = dir.appendingPathComponent("s.h5")
        try Self.succeeds(["extract", model.path, data.path, "--hooks", "blocks.*.hook_resid_post", "-o", store.path])
        vector = dir.appendingPathComponent("v.gguf")
        try Self.succeeds(["vector", "compute", store.path, "--method", "mean-diff", "-o", vector.path])
    }

    @discardableResult
    static func succeeds(_ arguments: [String], in directory: URL? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try VaneProcess.vane(arguments, in: directory)
        #expect(r.status == 0, "vane \(arguments.joined(separator: " ")): \(r.output)", sourceLocation: sourceLocation)
        return r.output
    }

    func fails(_ arguments: [String], mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try VaneProcess.vane(arguments)
        #expect(r.status != 0, "exit 0: \(r.output)", sourceLocation: sourceLocation)
        expect(r.output, contains: words, sourceLocation: sourceLocation)
    }

    func directions(_ url: URL) throws -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: try GGUFFile(url: url).tensors.map { ($0.name, dequantize($0).data) })
    }

    /// `vector condition` writes a rule `generate --steer-if` reads, and the decision is printed.
    @Test func conditionGatesGeneration() throws {
        let cond = dir.appendingPathComponent("cond.gguf")
        let table = try Self.succeeds(["vector", "condition", store.path, "-o", cond.path])
        expect(table, contains: ["f1", "comparator", "condition cos"])
        for (threshold, state) in [("-1", "on"), ("1", "off")] {
            let out = try Self.succeeds(["generate", model.path, "--prompt", "hello there", "--max-tokens", "2", "--temperature", "0",
                                         "--steer", vector.path, "--steer-if", "\(cond.path)@threshold=\(threshold),comparator=ge"])
            expect(out, contains: ["[condition", "steering \(state)"])
        }
        try fails(["generate", model.path, "--prompt", "hi", "--steer-if", cond.path], mentioning: ["--steer-if needs --steer"])
    }

    /// Each spelling the README uses, with the value right after the option.
    @Test func negativeNumbersAsTheReadmeWritesThem() throws {
        let eval = try Self.succeeds(["steer-eval", model.path, prompts.path, "--steer", vector.path, "--sweep", "-2:2:2",
                                      "--max-tokens", "2", "--plain", "--json"])
        #expect(eval.contains("-2") && eval.contains("\"scale\""), "\(eval)")
        try Self.succeeds(["steer-eval", model.path, prompts.path, "--steer", "\(vector.path):-0.5", "--steer-op", "clamp:-2",
                           "--sweep", "-1:1:1", "--max-tokens", "1", "--plain", "--exact"])
        try Self.succeeds(["generate", model.path, "--prompt", "hi", "--max-tokens", "2", "--temperature", "0",
                           "--steer", "\(vector.path):-0.5", "--layers", "1-2"])
        let combined = dir.appendingPathComponent("c.gguf")
        try Self.succeeds(["vector", "combine", "\(vector.path):0.5", "\(vector.path):-1", "-o", combined.path])
        let v = try directions(vector), c = try directions(combined)
        #expect(Set(c.keys) == Set(v.keys))
        for (name, d) in v {
            // 0.5·v − 1·v, by hand.
            if let msg = compare(c[name] ?? [], d.map { 0.5 * $0 - $0 }, atol: 1e-6, label: name) { Issue.record(Comment(rawValue: msg)) }
        }
        try Self.succeeds(["edit", "add", model.path, "--vector", "\(vector.path):-0.5", "-o", dir.appendingPathComponent("e.gguf").path])
        let tv = dir.appendingPathComponent("tv.safetensors"), ablated = dir.appendingPathComponent("ab.gguf")
        try Self.succeeds(["edit", "ablate", model.path, "--direction", vector.path, "-o", ablated.path])
        try Self.succeeds(["diff", ablated.path, model.path, "-o", tv.path])
        try Self.succeeds(["apply", model.path, tv.path, "--scale", "-1", "-o", dir.appendingPathComponent("a.gguf").path])
        let unlabelled = dir.appendingPathComponent("u.jsonl")
        try Data("{\"prompt\": \"hello there\"}\n".utf8).write(to: unlabelled)
        try Self.succeeds(["heads", model.path, unlabelled.path, "--direction", vector.path, "--label", "-1", "--span", "input"])
        try Self.succeeds(["extract", model.path, data.path, "--hooks", "blocks.1.hook_resid_post", "--positions", "index:-1",
                           "-o", dir.appendingPathComponent("last.h5").path])
    }

    @Test func enumeratedOptionsNameTheirValues() throws {
        try fails(["vector", "compute", store.path, "--method", "mean", "-o", dir.appendingPathComponent("x.gguf").path],
                  mentioning: ["--method mean", "mean-diff, pca-diff, pca-center, pca-uncentered, probe"])
        try fails(["vector", "export", vector.path, "--format", "npz", "-o", dir.appendingPathComponent("x.npz").path],
                  mentioning: ["--format npz", "safetensors, h5, npy-dir"])
        try fails(["edit", "add", model.path, "--vector", vector.path, "--dtype", "q5_0", "-o", dir.appendingPathComponent("x.gguf").path],
                  mentioning: ["--dtype q5_0", "f32, f16, bf16, q8_0, q4_0, q4_1"])
    }

    /// `--version` prints the version that stores record as their vane_version.
    @Test func version() throws {
        let printed = try Self.succeeds(["--version"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!printed.isEmpty && printed.first?.isNumber == true, "\(printed)")
        let info = try Self.succeeds(["store", "info", store.path])
        #expect(info.contains(printed), "store info does not show vane \(printed): \(info)")
    }

    /// `bench` records which kernels ran: the instruction set named from /proc/cpuinfo's flags (an independent
    /// reading of the CPU), and OpenBLAS's kernel choice.
    @Test func benchNamesItsKernels() throws {
        let json = try Self.succeeds(["bench", model.path, "--prompt-tokens", "4", "--gen-tokens", "2", "--repetitions", "1",
                                      "--json"])
        let record = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let flags = Set(((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        #if arch(x86_64)
        let expected = flags.isSuperset(of: ["avx512f", "avx512bw", "avx512_vnni", "avx2", "fma", "f16c"])
            ? "avx512-vnni tiles, avx2 dots" : flags.isSuperset(of: ["avx2", "fma", "f16c"]) ? "avx2" : "portable"
        #else
        let expected = "portable"
        #endif
        #expect(record?["kernels"] as? String == expected, "\(json) (cpuinfo flags: \(flags.sorted().joined(separator: " ")))")
        #expect((record?["blas_core"] as? String)?.isEmpty == false, "\(json)")
        let table = try Self.succeeds(["bench", model.path, "--prompt-tokens", "4", "--gen-tokens", "2", "--repetitions", "1"])
        #expect(table.contains("kernels: \(expected), OpenBLAS "), "\(table)")
    }

    /// Every writing command ends with `[SUMMARY → PATH (SIZE)]`, SIZE the file's (or folder's) size on disk.
    @Test func everyWritingCommandSaysWhatItWrote() throws {
        func closes(_ arguments: [String], at path: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let out = try Self.succeeds(arguments, sourceLocation: sourceLocation)
            let last = out.split(separator: "\n").last.map(String.init) ?? ""
            #expect(last.hasPrefix("[") && last.hasSuffix(")]") && last.contains(" → \(path.path) ("),
                    "last line \"\(last)\"", sourceLocation: sourceLocation)
            #expect(FileManager.default.fileExists(atPath: path.path), sourceLocation: sourceLocation)
        }
        func path(_ name: String) -> URL { dir.appendingPathComponent(name) }
        try closes(["extract", model.path, data.path, "--hooks", "blocks.1.hook_resid_post", "-o", path("x.h5").path], at: path("x.h5"))
        try closes(["trace", model.path, "--prompt", "hi", "--hooks", "blocks.1.hook_resid_post", "-o", path("t.safetensors").path],
                   at: path("t.safetensors"))
        try closes(["vector", "compute", store.path, "--method", "probe", "--layers", "1", "-o", path("w.gguf").path], at: path("w.gguf"))
        try closes(["vector", "combine", "\(vector.path):2", "-o", path("c.gguf").path], at: path("c.gguf"))
        for (format, name) in [("safetensors", "v.safetensors"), ("h5", "v.h5"), ("npy-dir", "npy")] {
            try closes(["vector", "export", vector.path, "--format", format, "-o", path(name).path], at: path(name))
        }
        try closes(["vector", "score", store.path, vector.path, "--plot", path("score.svg").path], at: path("score.svg"))
        try closes(["edit", "ablate", model.path, "--direction", vector.path, "-o", path("ab.gguf").path], at: path("ab.gguf"))
        try closes(["edit", "heads", model.path, "--direction", vector.path, "--heads", "1.0", "-o", path("hd.gguf").path], at: path("hd.gguf"))
        try closes(["heads", model.path, data.path, "--direction", vector.path, "--span", "input", "--svg", path("h.svg").path],
                   at: path("h.svg"))
        try closes(["steer-eval", model.path, prompts.path, "--steer", vector.path, "--sweep", "-1:1:1", "--max-tokens", "1",
                    "--plain", "--texts", path("texts.jsonl").path, "--plot", path("eval.svg").path], at: path("eval.svg"))
    }

    /// Plots are written only where asked: nothing lands in the current folder or beside an input by default.
    @Test func sideFilesOnlyWhereAsked() throws {
        let cwd = try scratch("cwd")
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        try Self.succeeds(["vector", "score", store.path, vector.path], in: cwd)
        try Self.succeeds(["heads", model.path, data.path, "--direction", vector.path, "--span", "input"], in: cwd)
        try Self.succeeds(["steer-eval", model.path, prompts.path, "--steer", vector.path, "--sweep", "0:1:1", "--max-tokens", "1",
                           "--plain"], in: cwd)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cwd.path).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == before)
        let plot = dir.appendingPathComponent("plots").appendingPathComponent("s.svg")
        try FileManager.default.createDirectory(at: plot.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Self.succeeds(["vector", "score", store.path, vector.path, "--plot", plot.path], in: cwd)
        #expect(FileManager.default.fileExists(atPath: plot.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: cwd.path).isEmpty)
    }

    /// An output path that holds a file of another kind (by its magic bytes, whatever its name) is refused, and the
    /// file is left as it was.
    @Test func outputsThatWouldReplaceAnotherKind() throws {
        func refused(_ arguments: [String], over existing: URL, kind: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let before = try Data(contentsOf: existing)
            try fails(arguments, mentioning: [existing.path, "holds \(kind)"], sourceLocation: sourceLocation)
            #expect(try Data(contentsOf: existing) == before, sourceLocation: sourceLocation)
        }
        let hdf5Named = dir.appendingPathComponent("h.gguf")
        try FileManager.default.copyItem(at: store, to: hdf5Named)
        try refused(["vector", "compute", store.path, "--method", "mean-diff", "-o", hdf5Named.path], over: hdf5Named, kind: "an HDF5 file")
        let ggufNamed = dir.appendingPathComponent("g.h5")
        try FileManager.default.copyItem(at: vector, to: ggufNamed)
        try refused(["extract", model.path, data.path, "--hooks", "blocks.1.hook_resid_post", "-o", ggufNamed.path],
                    over: ggufNamed, kind: "a GGUF file")
        try refused(["vector", "export", vector.path, "--format", "h5", "-o", ggufNamed.path], over: ggufNamed, kind: "a GGUF file")
        let ggufSVG = dir.appendingPathComponent("g.svg")
        try FileManager.default.copyItem(at: vector, to: ggufSVG)
        try refused(["vector", "score", store.path, vector.path, "--plot", ggufSVG.path], over: ggufSVG, kind: "a GGUF file")
        let textNamed = dir.appendingPathComponent("notes.gguf")
        try Data("my notes\n".utf8).write(to: textNamed)
        try refused(["edit", "ablate", model.path, "--direction", vector.path, "-o", textNamed.path], over: textNamed, kind: "a file that is not")
        // A folder output over a model folder, and a file output over a folder.
        let folder = dir.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
        try fails(["vector", "export", vector.path, "--format", "npy-dir", "-o", folder.path], mentioning: ["holds a model folder"])
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path))
        let folderNamed = dir.appendingPathComponent("f.gguf")
        try FileManager.default.createDirectory(at: folderNamed.appendingPathComponent("x"), withIntermediateDirectories: true)
        try fails(["vector", "combine", vector.path, "-o", folderNamed.path], mentioning: ["holds a folder"])
        // Replacing the same kind stays allowed (a rerun).
        let again = dir.appendingPathComponent("v2.gguf").path
        try Self.succeeds(["vector", "compute", store.path, "--method", "mean-diff", "-o", again])
        try Self.succeeds(["vector", "compute", store.path, "--method", "mean-diff", "-o", again])
    }

    /// Layer 0 is refused with the one documented reason wherever layers are given.
    @Test func layerZeroEverywhere() throws {
        let reason = "layer 0 is not part of any control vector"
        try fails(["vector", "compute", store.path, "--method", "mean-diff", "--layers", "0-2", "-o", dir.appendingPathComponent("z.gguf").path],
                  mentioning: [reason, "direction.1"])
        try fails(["vector", "score", store.path, vector.path, "--layers", "0-1"], mentioning: [reason])
        try fails(["generate", model.path, "--prompt", "hi", "--max-tokens", "1", "--steer", vector.path, "--layers", "0-1"],
                  mentioning: [reason])
        try fails(["edit", "ablate", model.path, "--direction", vector.path, "--layers", "0", "-o", dir.appendingPathComponent("z.gguf").path],
                  mentioning: [reason])
        try fails(["edit", "heads", model.path, "--direction", vector.path, "--heads", "0.1", "-o", dir.appendingPathComponent("z.gguf").path],
                  mentioning: [reason])
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("z.gguf").path))
        // The default leaves layer 0 out: a store holding layers 0-2 gives a vector at 1-2.
        #expect(Set(try directions(vector).keys) == ["direction.1", "direction.2"])
    }
}

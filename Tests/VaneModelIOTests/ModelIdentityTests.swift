import Foundation
import Testing
import VaneModelIO
import VaneTestSupport

/// SHA256 and ModelIdentity against Python's hashlib, an independent implementation: the file digest, and the
/// folder definition written out in Python exactly as ModelIdentity.swift documents it.
@Suite struct ModelIdentityTests {
    /// hashlib's sha256 of each file given, one hex digest per line.
    static let fileDigests = """
        import hashlib, sys
        for path in sys.argv[1:]:
            print(hashlib.sha256(open(path, "rb").read()).hexdigest())
        """

    /// The documented folder identity: sha256 of the newline-joined digests of config.json, then the shards
    /// in name order.
    static let folderIdentity = """
        import hashlib, sys
        folder, shards = sys.argv[1], sys.argv[2:]
        digests = [hashlib.sha256(open(f"{folder}/{name}", "rb").read()).hexdigest()
                   for name in ["config.json"] + sorted(shards)]
        print(hashlib.sha256("\\n".join(digests).encode()).hexdigest())
        """

    static func python(_ script: String, _ arguments: [String]) throws -> [String] {
        let result = try VaneProcess.run("/usr/bin/env", ["python3", "-c", script] + arguments)
        try #require(result.status == 0, "python3 failed: \(result.output)")
        return result.output.split(separator: "\n").map(String.init)
    }

    /// A file of several read buffers plus a ragged tail, an empty file, and a fixture GGUF.
    @Test func fileDigestsMatchHashlib() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var state: UInt64 = 7
        let bytes = (0..<(9 << 20) + 3).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let big = dir.appendingPathComponent("big.bin"), empty = dir.appendingPathComponent("empty.bin")
        try Data(bytes).write(to: big)
        try Data().write(to: empty)
        let gguf = Fixtures.url("tiny-llama.q8_0.gguf")
        let files = [big, empty, gguf]
        let expected = try Self.python(Self.fileDigests, files.map(\.path))
        #expect(try files.map(SHA256.hex(ofFile:)) == expected)
        #expect(SHA256.hex(of: Data(bytes)) == expected[0])
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    /// A .gguf's identity is the file's sha256.
    @Test func ggufIdentityIsTheFileDigest() throws {
        let url = Fixtures.url("tiny-qwen2.f32.gguf")
        let identity = ModelIdentity(files: try ModelFiles(url: url))
        #expect(try identity.sha256() == Self.python(Self.fileDigests, [url.path]).first)
    }

    /// tiny-llama also holds reference.safetensors (HF reference activations, not a shard): the identity covers
    /// config.json and model.safetensors only, as the loader reads them.
    @Test func folderIdentityMatchesTheDocumentedDefinition() throws {
        let folder = Fixtures.url("tiny-llama")
        let identity = ModelIdentity(files: try ModelFiles(url: folder))
        #expect(try identity.sha256() == Self.python(Self.folderIdentity, [folder.path, "model.safetensors"]).first)
    }

    /// A sharded folder: the shards the index names, in name order.
    @Test func shardedFolderIdentity() throws {
        let source = Fixtures.url("tiny-llama")
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try SafetensorsFile(url: source.appendingPathComponent("model.safetensors"))
        let names = file.tensors.map(\.name).sorted()
        let half = names.count / 2
        var weightMap: [String: String] = [:]
        for (shard, part) in [("model-00002-of-00002.safetensors", names[half...]), ("model-00001-of-00002.safetensors", names[..<half])] {
            let tensors = part.map { name in file.tensors.first { $0.name == name }! }
            let entries = tensors.map { TensorEntry(name: $0.name, type: $0.type, shape: $0.shape) }
            try SafetensorsWriter.write(to: dir.appendingPathComponent(shard), entries: entries) { i, emit in
                try emit(tensors[i].bytes)
            }
            for name in part { weightMap[name] = shard }
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": weightMap])
        try index.write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let identity = ModelIdentity(files: try ModelFiles(url: dir))
        let expected = try Self.python(Self.folderIdentity, [dir.path, "model-00002-of-00002.safetensors",
                                                              "model-00001-of-00002.safetensors"]).first
        #expect(try identity.sha256() == expected)
    }

    /// Digests are kept per process, but a file replaced since (a new inode, size or mtime) is hashed again.
    @Test func replacedFileIsHashedAgain() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.gguf")
        try FileManager.default.copyItem(at: Fixtures.url("tiny-llama.f32.gguf"), to: url)
        let before = try ModelIdentity(files: ModelFiles(url: url)).sha256()
        #expect(try ModelIdentity(files: ModelFiles(url: url)).sha256() == before)
        try Data(contentsOf: Fixtures.url("tiny-qwen2.f32.gguf")).write(to: url)
        let after = try ModelIdentity(files: ModelFiles(url: url)).sha256()
        let qwen2 = try SHA256.hex(ofFile: Fixtures.url("tiny-qwen2.f32.gguf"))
        #expect(after != before && after == qwen2)
    }
}

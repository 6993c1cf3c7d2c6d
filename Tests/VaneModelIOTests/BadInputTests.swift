import Foundation
import Testing
import VaneModelIO
import VaneTensor
import VaneTestSupport

/// Corrupted copies of the fixtures, built in a temporary folder: each must be a thrown ModelFileError of the right
/// kind whose message names the problem — never a crash or a silently wrong tensor.
@Suite struct BadInputTests {
    let dir: URL
    let llama: [UInt8]
    let llamaQ8: [UInt8]

    init() throws {
        dir = try makeTemporaryDirectory()
        llama = try readBytes(Fixtures.url("tiny-llama.f32.gguf"))
        llamaQ8 = try readBytes(Fixtures.url("tiny-llama.q8_0.gguf"))
    }

    /// Writes `bytes` to a new file and expects opening it as GGUF to fail with `kind`, mentioning `words`.
    private func expectGGUFError(_ bytes: [UInt8], _ kind: ModelFileError.Kind, mentioning words: [String],
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = dir.appendingPathComponent("bad-\(UUID().uuidString).gguf")
        try write(bytes, to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        expect(kind, mentioning: words + [url.path], sourceLocation: sourceLocation) { _ = try GGUFFile(url: url) }
    }

    private func expect(_ kind: ModelFileError.Kind, mentioning words: [String],
                        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        let error = #expect(throws: ModelFileError.self, sourceLocation: sourceLocation) { try body() }
        guard let error else { return }
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        for word in words {
            #expect(error.description.contains(word), "“\(error)” should mention “\(word)”", sourceLocation: sourceLocation)
        }
    }

    /// The tiny GGUF cut short everywhere interesting: inside the magic, version, counts, a metadata key, a long
    /// array, the tensor infos, the padding before the data, and inside the last tensor's data.
    @Test func truncatedGGUF() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let dataOffset = 10144   // as gguf-py reports for this file
        let cuts: [(Int, String)] = [
            (2, "magic"), (6, "version"), (12, "tensor count"), (20, "metadata count"), (30, "key of metadata entry 0"),
            (45, "key of metadata entry 0"),
            (2000, "tokenizer.ggml.tokens"), (9000, "tensor"), (dataOffset - 10, "tensor"),
            (dataOffset, "past the end of the file"), (llama.count - 1000, "blk.2"), (llama.count - 1, "past the end"),
        ]
        for (cut, word) in cuts {
            try expectGGUFError(Array(llama.prefix(cut)), .truncated, mentioning: ["truncated", word])
        }
        try expectGGUFError([], .cannotOpen, mentioning: ["empty"])
    }

    @Test func badMagicAndVersion() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = llama
        bytes[0] = UInt8(ascii: "X")
        try expectGGUFError(bytes, .badMagic, mentioning: ["not a GGUF file", "58 47 55 46"])
        bytes = llama
        putLE(UInt32(1), into: &bytes, at: 4)
        try expectGGUFError(bytes, .unsupportedVersion, mentioning: ["version 1"])
        putLE(UInt32(3).byteSwapped, into: &bytes, at: 4)
        try expectGGUFError(bytes, .unsupportedVersion, mentioning: ["big-endian"])
        // Safetensors is not GGUF.
        try expectGGUFError(try readBytes(Fixtures.url("tiny-llama/model.safetensors")), .badMagic, mentioning: ["GGUF"])
    }

    @Test func badMetadata() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        // First KV: key length at 24, key "general.architecture" (20 bytes), value type at 52.
        #expect(getLE(UInt64.self, from: llama, at: 24) == 20)
        var bytes = llama
        putLE(UInt32(13), into: &bytes, at: 52)
        try expectGGUFError(bytes, .badHeader, mentioning: ["unknown value type 13", "general.architecture"])
        bytes = llama
        putLE(UInt64(1) << 40, into: &bytes, at: 24)
        try expectGGUFError(bytes, .truncated, mentioning: ["string of 1099511627776 bytes", "past the end"])
        bytes = llama
        putLE(UInt64(1) << 40, into: &bytes, at: 56)   // the value's string length
        try expectGGUFError(bytes, .truncated, mentioning: ["general.architecture", "past the end"])
    }

    @Test func badTensorInfo() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let name = "blk.0.ffn_down.weight"
        let at = try #require(tensorInfoNDimsOffset(in: llama, name: name))
        #expect(getLE(UInt32.self, from: llama, at: at) == 2)
        let typeAt = at + 4 + 16, offsetAt = typeAt + 4

        var bytes = llama
        putLE(UInt64(1) << 40, into: &bytes, at: offsetAt)
        try expectGGUFError(bytes, .truncated, mentioning: [name, "1099511627776", "40960 bytes", "\(llama.count) bytes"])

        bytes = llama
        putLE(UInt64(1) << 40 + 8, into: &bytes, at: offsetAt)
        try expectGGUFError(bytes, .badTensor, mentioning: [name, "not a multiple of the alignment 32"])

        bytes = llama
        putLE(UInt32(23), into: &bytes, at: typeAt)
        try expectGGUFError(bytes, .unsupportedType, mentioning: [name, "type id 23", "IQ4_XS", "Q4_1", "Q6_K"])
        putLE(UInt32(99), into: &bytes, at: typeAt)
        try expectGGUFError(bytes, .unsupportedType, mentioning: [name, "type id 99", "supported: F32"])

        bytes = llama
        putLE(UInt64(1) << 62, into: &bytes, at: at + 4)
        try expectGGUFError(bytes, .badTensor, mentioning: [name, "impossibly large"])

        bytes = llama
        putLE(UInt32(5), into: &bytes, at: at)
        try expectGGUFError(bytes, .badHeader, mentioning: [name, "n_dims 5"])

        // A Q8_0 row of 63 values is not whole 32-value blocks.
        let q8At = try #require(tensorInfoNDimsOffset(in: llamaQ8, name: name))
        #expect(getLE(UInt32.self, from: llamaQ8, at: q8At + 20) == GGMLType.q8_0.rawValue)
        bytes = llamaQ8
        putLE(UInt64(63), into: &bytes, at: q8At + 4)
        try expectGGUFError(bytes, .badTensor, mentioning: [name, "ne[0] = 63", "block size 32"])
    }

    @Test func missingOrUnreadableFile() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("nope.gguf")
        expect(.cannotOpen, mentioning: ["nope.gguf", "no such file"]) { _ = try GGUFFile(url: missing) }
        expect(.cannotOpen, mentioning: ["no such file"]) { _ = try SafetensorsFile(url: missing) }
        expect(.cannotOpen, mentioning: ["not a regular file", "a directory"]) { _ = try GGUFFile(url: dir) }
        // A FIFO with no writer: refused at once instead of blocking in open().
        let fifo = dir.appendingPathComponent("fifo.gguf")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        #expect(mkfifo(fifo.path, 0o600) == 0)
        expect(.cannotOpen, mentioning: ["fifo.gguf", "a FIFO"]) { _ = try GGUFFile(url: fifo) }
    }

    @Test func badSafetensors() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try readBytes(Fixtures.url("tiny-llama/model.safetensors"))
        let url = dir.appendingPathComponent("bad.safetensors")

        var bytes = original
        putLE(UInt64(original.count), into: &bytes, at: 0)
        try write(bytes, to: url)
        expect(.truncated, mentioning: ["lying header length", "\(original.count)", "\(original.count - 8)"]) {
            _ = try SafetensorsFile(url: url)
        }

        try write(Array(original.prefix(5)), to: url)
        expect(.truncated, mentioning: ["too short"]) { _ = try SafetensorsFile(url: url) }

        // Cut inside the data: the last tensors' ranges run past the end.
        try write(Array(original.prefix(original.count - 100)), to: url)
        expect(.truncated, mentioning: ["data_offsets", "past the end"]) { _ = try SafetensorsFile(url: url) }

        let ok = RawTensor(name: "ok", floats: [1, 2], shape: [2])
        try writeSafetensors([ok, RawTensor(name: "ids", dtype: "I64", shape: [1], data: [UInt8](repeating: 0, count: 8))], to: url)
        expect(.unsupportedType, mentioning: ["'ids'", "dtype I64", "F32, F16 and BF16"]) { _ = try SafetensorsFile(url: url) }

        try writeSafetensors([RawTensor(name: "short", dtype: "F32", shape: [3], data: [UInt8](repeating: 0, count: 8))], to: url)
        expect(.badTensor, mentioning: ["'short'", "12 bytes", "span 8"]) { _ = try SafetensorsFile(url: url) }

        try writeSafetensors([RawTensor(name: "neg", dtype: "F32", shape: [-1], data: [])], to: url)
        expect(.badTensor, mentioning: ["'neg'", "negative"]) { _ = try SafetensorsFile(url: url) }

        var header = Array("{\"x\": {\"dtype\": \"F32\", \"shape\": [1]}}".utf8)
        bytes = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
        try write(bytes + header + [0, 0, 0, 0], to: url)
        expect(.badHeader, mentioning: ["x", "data_offsets"]) { _ = try SafetensorsFile(url: url) }

        header = Array("{not json".utf8)
        bytes = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
        try write(bytes + header, to: url)
        expect(.badHeader, mentioning: ["JSON"]) { _ = try SafetensorsFile(url: url) }

        // GGUF is not safetensors: its first 8 bytes read as an absurd header length.
        expect(.truncated, mentioning: ["lying header length"]) { _ = try SafetensorsFile(url: Fixtures.url("quant-zoo.gguf")) }
    }
}

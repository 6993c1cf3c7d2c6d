import Foundation
import Testing
import VaneModelIO
import VaneTensor
import VaneTestSupport

@Suite struct SafetensorsTests {
    @Test func tinyLlama() throws {
        let file = try SafetensorsFile(url: Fixtures.url("tiny-llama/model.safetensors"))
        #expect(file.metadata == ["format": "pt"])
        #expect(file.dataOffset == 8 + 3072)
        #expect(file.tensors.count == 30)
        #expect(file.tensors.first?.name == "lm_head.weight")   // data offset 0
        let starts = file.tensors.map { $0.bytes.baseAddress! - file.file.bytes.baseAddress! }
        #expect(starts == starts.sorted())
        #expect(file.tensor(named: "model.layers.0.mlp.down_proj.weight")?.shape == [64, 160])
        #expect(file.tensors.allSatisfy { $0.type == .f32 })
    }

    /// F16 and BF16 data behind a header of odd length (so the data is unaligned), with bit patterns worked out by
    /// hand: 1.5 = F16 0x3E00 = BF16 0x3FC0, −2 = 0xC000 / 0xC000, 65504 = F16 0x7BFF, 2⁻²⁴ = F16 0x0001.
    @Test func halfTypesUnaligned() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("halves.safetensors")
        let f16: [UInt16] = [0x3E00, 0xC000, 0x7BFF, 0x0001]
        let bf16: [UInt16] = [0x3FC0, 0xC000, 0x4780, 0x0000]
        func le(_ v: [UInt16]) -> [UInt8] { v.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }
        try writeSafetensors([RawTensor(name: "h", dtype: "F16", shape: [2, 2], data: le(f16)),
                              RawTensor(name: "b", dtype: "BF16", shape: [4], data: le(bf16))],
                             to: url, metadata: ["format": "pt"], padding: 3)
        let file = try SafetensorsFile(url: url)
        #expect(file.dataOffset % 2 == 1)
        #expect(file.tensors.map(\.name) == ["h", "b"])
        #expect(dequantize(try #require(file.tensor(named: "h"))) == Tensor(shape: [2, 2], data: [1.5, -2, 65504, 0x1p-24]))
        #expect(dequantize(try #require(file.tensor(named: "b"))) == Tensor(shape: [4], data: [1.5, -2, 65536, 0]))
    }

    /// A sharded copy of tiny-llama reads back as the single file does.
    @Test func shardedFolder() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let single = try SafetensorsFile(url: Fixtures.url("tiny-llama/model.safetensors"))
        let (first, second) = (Array(single.tensors.prefix(12)), Array(single.tensors.dropFirst(12)))
        try writeSafetensors(first.map(RawTensor.init), to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try writeSafetensors(second.map(RawTensor.init), to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        var map: [String: String] = [:]
        for t in first { map[t.name] = "model-00001-of-00002.safetensors" }
        for t in second { map[t.name] = "model-00002-of-00002.safetensors" }
        try writeIndex(map, in: dir)

        let (tensors, files) = try loadSafetensorsFolder(dir)
        #expect(files.count == 2)
        #expect(tensors.map(\.name) == single.tensors.map(\.name))
        for t in tensors {
            let reference = try #require(single.tensor(named: t.name))
            #expect(t.shape == reference.shape && t.bytes.elementsEqual(reference.bytes), "\(t.name)")
        }

        // A weight_map entry naming a file that is not there.
        map["model.norm.weight"] = "model-00003-of-00002.safetensors"
        try writeIndex(map, in: dir)
        try expectIndexError(dir, mentioning: ["model-00003-of-00002.safetensors", "model.norm.weight"])

        // A weight_map entry naming a tensor no shard holds.
        map["model.norm.weight"] = "model-00002-of-00002.safetensors"
        map["model.extra.weight"] = "model-00001-of-00002.safetensors"
        try writeIndex(map, in: dir)
        try expectIndexError(dir, mentioning: ["model.extra.weight", "no shard holds it"])
        map["model.extra.weight"] = nil

        // The same tensor in two shards.
        try writeSafetensors((first + [second[0]]).map(RawTensor.init),
                             to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try writeIndex(map, in: dir)
        try expectIndexError(dir, mentioning: [second[0].name, "both"])
    }

    @Test func singleFileFolder() throws {
        let (tensors, files) = try loadSafetensorsFolder(Fixtures.url("tiny-qwen2"))
        #expect(files.count == 1 && tensors.count == 38)
        let error = #expect(throws: ModelFileError.self) { try loadSafetensorsFolder(Fixtures.url("merge")) }
        #expect(error?.kind == .cannotOpen)
        #expect(error?.description.contains("no model.safetensors") == true)
    }

    private func writeIndex(_ map: [String: String], in dir: URL) throws {
        let json = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 0], "weight_map": map],
                                              options: [.sortedKeys])
        try json.write(to: dir.appendingPathComponent("model.safetensors.index.json"))
    }

    private func expectIndexError(_ dir: URL, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let error = #expect(throws: ModelFileError.self, sourceLocation: sourceLocation) { try loadSafetensorsFolder(dir) }
        #expect(error?.kind == .badIndex, sourceLocation: sourceLocation)
        for word in words {
            #expect(error?.description.contains(word) == true, "\(error?.description ?? "") should mention \(word)",
                    sourceLocation: sourceLocation)
        }
    }
}

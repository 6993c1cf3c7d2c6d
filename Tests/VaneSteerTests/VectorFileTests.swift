import Foundation
import Testing
import VaneModelIO
import VaneSteer
import VaneTestSupport

@Suite struct VectorFileTests {
    /// llama.cpp's cvector-generator wrote this file (Tests/Fixtures/README.md): 29 unit directions of width 576.
    @Test func readsLlamaCppControlVector() throws {
        let url = Fixtures.url("smollm2/llamacpp-control-vector-mean.gguf")
        let v = try ControlVector(contentsOf: url)
        #expect(v.width == 576)
        #expect(v.layers == Array(1...29))
        #expect(v.hook == .residPost)
        #expect(v.modelHint == "llama")
        #expect(v.method == nil && v.modelSHA256 == nil)
        // Expected values straight from the file's bytes, read independently of GGUFFile: the data section of
        // a GGUF holds direction.N's float32s at the offset its tensor info gives.
        let raw = try rawF32Tensors(url)
        for l in v.layers {
            if let msg = compare(v.directions[l]!, raw["direction.\(l)"]!, atol: 0, label: "direction.\(l)") {
                Issue.record(Comment(rawValue: msg))
            }
            let norm = v.directions[l]!.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4, "direction.\(l) norm \(norm), llama.cpp writes unit vectors")
        }
    }

    @Test func writesAndReadsBack() throws {
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent("v.gguf")
        let v = ControlVector(directions: [1: [1, 2, 3, 4], 5: [-1, 0.5, 0, 2]], width: 4, hook: .mlpOut, modelHint: "llama",
                              method: "mean-diff", modelName: "m.gguf", modelSHA256: String(repeating: "ab", count: 32),
                              command: "vane vector compute", scores: [LayerScore(layer: 1, norm: 5.5, auroc: 0.75, cohensD: 1.25),
                                                                      LayerScore(layer: 5, norm: 2.3, auroc: 1, cohensD: 3)])
        try v.write(to: url)
        #expect(try ControlVector(contentsOf: url) == v)
        let raw = try rawF32Tensors(url)
        #expect(raw["direction.1"] == [1, 2, 3, 4])
        #expect(raw["direction.5"] == [-1, 0.5, 0, 2])
    }

    @Test func refusesLayerZero() throws {
        let url = try temporaryDirectory().appendingPathComponent("zero.gguf")
        let v = ControlVector(directions: [0: [1, 2]], width: 2, modelHint: "llama")
        #expect(throws: VaneError.self) { try v.write(to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-steer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// F32 tensors of a GGUF file, parsed here from the bytes alone (the layout in gguf.h), so that Vane's reader is
/// not its own reference.
func rawF32Tensors(_ url: URL) throws -> [String: [Float]] {
    let d = try Data(contentsOf: url)
    var o = 0
    func u32() -> UInt32 { defer { o += 4 }; return d.subdata(in: o..<o + 4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
    func u64() -> UInt64 { defer { o += 8 }; return d.subdata(in: o..<o + 8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }
    func str() -> String { let n = Int(u64()); defer { o += n }; return String(decoding: d.subdata(in: o..<o + n), as: UTF8.self) }
    func skip(_ type: UInt32) {
        switch type {
        case 0, 1, 7: o += 1
        case 2, 3: o += 2
        case 4, 5, 6: o += 4
        case 10, 11, 12: o += 8
        case 8: _ = str()
        default: let t = u32(); let n = u64(); for _ in 0..<n { skip(t) }
        }
    }
    o = 8
    let nt = Int(u64()), nkv = Int(u64())
    var alignment = 32
    for _ in 0..<nkv {
        let key = str(); let type = u32()
        if key == "general.alignment" { alignment = Int(u32()) } else { skip(type) }
    }
    var infos: [(String, Int, Int)] = []
    for _ in 0..<nt {
        let name = str(); let nd = Int(u32())
        var count = 1
        for _ in 0..<nd { count *= Int(u64()) }
        let type = u32(); let off = Int(u64())
        if type == 0 { infos.append((name, count, off)) }
    }
    let base = (o + alignment - 1) / alignment * alignment
    var out: [String: [Float]] = [:]
    for (name, count, off) in infos {
        out[name] = d.subdata(in: base + off..<base + off + 4 * count).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    return out
}

import Foundation
import Testing
import VaneModelIO
import VaneSteer
import VaneTestSupport

/// Control-vector files that parse but must not steer: each is refused on reading — so by apply, generate,
/// export, score and combine alike — with an error naming the file, the tensor and what is wrong.
@Suite struct BadVectorTests {
    /// A control vector file with `tensors` (name, values) and extra metadata, written byte by byte as GGUF.
    func vectorFile(_ tensors: [(String, [Float])], metadata: [(key: String, value: GGUFValue)] = []) throws -> URL {
        let url = try temporaryDirectory().appendingPathComponent("v.gguf")
        let meta: [(key: String, value: GGUFValue)] = [("general.architecture", .string("controlvector")),
                                                       ("controlvector.model_hint", .string("llama")),
                                                       ("controlvector.layer_count", .uint32(UInt32(tensors.count)))]
        try GGUFWriter.write(to: url, metadata: meta + metadata,
                             entries: tensors.map { TensorEntry(name: $0.0, type: .f32, shape: [$0.1.count]) }) { i, emit in
            try tensors[i].1.withUnsafeBytes { try emit($0) }
        }
        return url
    }

    func readError(_ url: URL) -> String { errorText { _ = try ControlVector(contentsOf: url) } }


    @Test(arguments: [Float.nan, .infinity, -.infinity, 3e38, -3e38, 2e6])
    func refusesNonFiniteOrAbsurdValues(_ bad: Float) throws {
        let url = try vectorFile([("direction.1", [0.5, -1, 2]), ("direction.2", [1, 0, bad])])
        expect(readError(url), contains: [url.path, "direction.2", "[2]", "finite"])
    }

    @Test func acceptsLargeButPlausibleValues() throws {
        let url = try vectorFile([("direction.1", [1e5, -ControlVector.maxMagnitude, 0])])
        #expect(readError(url) == "no error")
    }

    @Test func refusesTwoTensorsForOneLayer() throws {
        let url = try vectorFile([("direction.5", [1, 2]), ("direction.05", [3, 4])])
        expect(readError(url), contains: [url.path, "direction.5", "direction.05", "layer 5"])
    }

    /// A Vane vector records its model's block count; a direction past it is refused, so `vector export` of such a
    /// file fails rather than writing layers the model lacks.
    @Test func refusesLayersBeyondTheModel() throws {
        let url = try vectorFile([("direction.1", [1, 2]), ("direction.7", [3, 4])],
                                 metadata: [("vane.model_layers", .uint32(3))])
        expect(readError(url), contains: [url.path, "direction.7", "vane.model_layers", "0…2"])
        let v = ControlVector(directions: [1: [1, 2], 2: [3, 4]], width: 2, modelHint: "llama", modelLayers: 3)
        try v.write(to: url)
        #expect(try ControlVector(contentsOf: url) == v)
        let zero = try vectorFile([("direction.1", [1, 2])], metadata: [("vane.model_layers", .uint32(0))])
        expect(readError(zero), contains: [zero.path, "vane.model_layers is 0"])
    }

    @Test func refusesScoresOfMissingLayers() throws {
        let url = try vectorFile([("direction.1", [1, 2])], metadata: [
            ("vane.layers", .array([.int32(4)])), ("vane.layer_norms", .array([.float32(1)])),
            ("vane.layer_auroc", .array([.float32(1)])), ("vane.layer_cohens_d", .array([.float32(1)]))])
        expect(readError(url), contains: [url.path, "vane.layers", "layer 4"])
    }

    /// `vector combine` reads through the same loader, and its sum is checked again before it is written.
    @Test func combineRefusesWhatItCannotWrite() throws {
        let url = try vectorFile([("direction.1", [1, .nan])])
        expect(readError(url), contains: [url.path, "direction.1", "[1]"])
        let big = ControlVector(directions: [1: [9e5, 1]], width: 2, modelHint: "llama")
        let sum = try ControlVector.combine([(big, 1), (big, 1)])
        let out = try temporaryDirectory().appendingPathComponent("sum.gguf")
        let error = #expect(throws: VaneError.self) { try sum.write(to: out) }
        expect(error?.message ?? "", contains: [out.path, "layer 1", "[0]"])
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}

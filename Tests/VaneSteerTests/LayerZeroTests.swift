import Foundation
import Testing
import VaneActivations
import VaneEngine
import VaneModelIO
import VaneSteer
import VaneTestSupport

/// Layer 0 is in no control vector (direction.L is added at block L's hook point; llama.cpp's files start at
/// direction.1 and it refuses direction.0): every path that takes layers refuses it with the same reason,
/// `ControlVector.noLayerZero`, and names where the layer 0 came from.
@Suite struct LayerZeroTests {
    let reason = ControlVector.noLayerZero

    @Test func readingAFileWithDirectionZero() throws {
        let url = try temporaryDirectory().appendingPathComponent("zero.gguf")
        let meta: [(key: String, value: GGUFValue)] = [("general.architecture", .string("controlvector")),
                                                       ("controlvector.model_hint", .string("llama")),
                                                       ("controlvector.layer_count", .uint32(2))]
        let tensors: [(String, [Float])] = [("direction.0", [1, 2]), ("direction.1", [3, 4])]
        try GGUFWriter.write(to: url, metadata: meta, entries: tensors.map { TensorEntry(name: $0.0, type: .f32, shape: [2]) }) { i, emit in
            try tensors[i].1.withUnsafeBytes { try emit($0) }
        }
        expect(errorText { _ = try ControlVector(contentsOf: url) }, contains: [url.path, "direction.0", reason])
    }

    @Test func writing() throws {
        let url = try temporaryDirectory().appendingPathComponent("zero.gguf")
        let v = ControlVector(directions: [0: [1, 2], 1: [3, 4]], width: 2, modelHint: "llama")
        expect(errorText { try v.write(to: url) }, contains: [url.path, reason])
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func steeringLayers() throws {
        let v = ControlVector(directions: [1: [1, 2], 2: [3, 4]], width: 2, modelHint: "llama")
        let steering = Steering(vectors: [(v, 1)], layers: [0, 1])
        expect(errorText { try steering.install(on: Hooks(), promptLength: 1, modelLayers: 3) }, contains: ["--layers", reason])
    }

    @Test func layerListNamesNothingElse() throws {
        #expect(throws: Never.self) { try ControlVector.refuseLayerZero([1, 2, 30]) }
        expect(errorText { try ControlVector.refuseLayerZero([3, 0], "--direction-layer") }, contains: ["--direction-layer", reason])
    }
}

import Foundation
import Testing
import VaneActivations
import VaneModelIO
import VaneSteer
import VaneTestSupport

/// Vectors from activation stores, the files Vane writes as other tools read them, and vector arithmetic.
@Suite struct StoreVectorTests {
    /// A pooled store of the planted pairs (d = 16) at blocks.{1,2}.hook_resid_post (layer 2 holds the rows negated).
    func plantedStore(labelled: Bool = true) throws -> (URL, [Float], ContrastiveExamples, [Double]) {
        let (rows, examples, u) = plantedPairs(d: 16, pairs: 2000)
        let url = try temporaryDirectory().appendingPathComponent("acts.h5")
        let hooks = ["blocks.1.hook_resid_post", "blocks.2.hook_resid_post"]
        let provenance = StoreProvenance(tool: "test", modelPath: "/models/m.gguf", modelSHA256: String(repeating: "c", count: 64),
                                         architecture: "llama", dims: [16, 3, 4, 2, 4, 100], tokenizer: "", chatTemplate: "",
                                         hooks: hooks, positions: .last, span: .input, inputPath: "", inputSHA256: "",
                                         batch: 8, deflate: 0, commandLine: "test")
        let w = try ActivationWriter.create(at: url, provenance: provenance, rowShapes: [[16], [16]])
        try w.append((0..<examples.labels.count).map { i in
            let row = Array(rows[(i * 16)..<((i + 1) * 16)])
            return ExtractedExample(text: "e\(i)", label: labelled ? examples.labels[i] : -1, pair: labelled ? examples.pairs![i] : -1,
                                    line: i + 1, tokens: [1], promptTokens: 1, span: 0..<1, activations: [row, row.map { -$0 }])
        })
        try w.close()
        return (url, rows, examples, u)
    }

    @Test(arguments: DirectionMethod.allCases)
    func computeFromStore(_ method: DirectionMethod) throws {
        let (url, rows, examples, u) = try plantedStore()
        let v = try VectorBuilder(store: ActivationStore(url: url)).compute(method)
        #expect(v.layers == [1, 2] && v.hook == .residPost && v.width == 16)
        #expect(v.modelSHA256 == String(repeating: "c", count: 64) && v.modelName == "m.gguf" && v.method == method.rawValue)
        let (direct, score) = try Directions.compute(method, rows: rows, width: 16, examples: examples, layer: 1)
        #expect(v.directions[1] == direct && v.scores[0] == score)
        #expect(cosine(v.directions[1]!, u) >= 0.99 && cosine(v.directions[2]!, u.map { -$0 }) >= 0.99)
    }

    @Test func storeErrors() throws {
        let (unlabelled, _, _, _) = try plantedStore(labelled: false)
        let builder = try VectorBuilder(store: ActivationStore(url: unlabelled))
        let e1 = #expect(throws: VaneError.self) { try builder.compute(.meanDiff) }
        #expect(e1?.message.contains("no labelled examples") == true)
        let (url, _, _, _) = try plantedStore()
        let labelled = try VectorBuilder(store: ActivationStore(url: url))
        let e2 = #expect(throws: VaneError.self) { try labelled.compute(.meanDiff, layers: [5]) }
        #expect(e2?.message.contains("layer 5 is out of range") == true)
        let e3 = #expect(throws: VaneError.self) { try labelled.compute(.meanDiff, hook: .mlpOut) }
        #expect(e3?.message.contains("hook_mlp_out") == true)
        // No vector file can hold layer 0 (llama.cpp's start at direction.1): refused before computing anything.
        let e4 = #expect(throws: VaneError.self) { try labelled.compute(.meanDiff, layers: [0, 1, 2]) }
        #expect(e4?.message.contains("layer 0") == true && e4?.message.contains("direction.1") == true)
        #expect(try labelled.compute(.meanDiff).modelLayers == 3)
        let wrong = ControlVector(directions: [1: [Float](repeating: 1, count: 8)], width: 8, modelHint: "llama")
        #expect(throws: VaneError.self) { try labelled.score(wrong) }
    }

    /// `score` takes the layers the store and the vector share; `layers` chooses among them. Each layer's score
    /// equals Directions.score on that layer's rows, computed here apart.
    @Test func scoresSharedLayers() throws {
        let (url, rows, examples, u) = try plantedStore()
        let builder = try VectorBuilder(store: ActivationStore(url: url))
        let d = u.map(Float.init)
        let v = ControlVector(directions: [2: d.map { -$0 }, 1: d, 7: d], width: 16, modelHint: "llama")
        let scores = try builder.score(v)
        #expect(scores.map(\.layer) == [1, 2])
        let direct = Directions.score(d, rows: rows, width: 16, positives: examples.positives, negatives: examples.negatives, layer: 1)
        #expect(scores[0] == direct)
        #expect(scores[1].auroc == direct.auroc, "layer 2 holds the rows negated and the vector the direction negated")
        #expect(try builder.score(v, layers: [2]).map(\.layer) == [2])
        expect(errorText { _ = try builder.score(v, layers: [7]) }, contains: ["holds no blocks.7.hook_resid_post", "layers 1-2"])
        expect(errorText { _ = try builder.score(v, layers: [3]) }, contains: ["no direction at layer 3", "1-2,7"])
        expect(errorText { _ = try builder.score(v, layers: [0, 1]) }, contains: [ControlVector.noLayerZero])
        let apart = ControlVector(directions: [5: d], width: 16, modelHint: "llama")
        expect(errorText { _ = try builder.score(apart) }, contains: ["share no layer", "layers 5", "layers 1-2"])
    }

    /// The HDF5 export is one chunk of the data's own size: 13 × 576 floats take about 30 KB, not a 1 MiB chunk.
    @Test func h5ExportIsSizedToItsData() throws {
        let dir = try temporaryDirectory()
        let layers = Array(1...13)
        let v = ControlVector(directions: Dictionary(uniqueKeysWithValues: layers.map { l in (l, (0..<576).map { Float(l * 1000 + $0) }) }),
                              width: 576, modelHint: "llama")
        let h5 = dir.appendingPathComponent("v.h5")
        try v.export(to: h5, format: .h5)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: h5.path)[.size] as? Int)
        let data = 13 * 576 * 4 + 13 * 8
        #expect(size <= data + 16_384, "\(size) bytes for \(data) bytes of data")
        if Python.available("numpy", "h5py") {
            let check = """
            import h5py, numpy as np, sys
            f = h5py.File(sys.argv[1]); d = f['directions']
            assert d.chunks == (13, 576), d.chunks
            assert (d[:] == np.array([[l * 1000 + c for c in range(576)] for l in range(1, 14)], dtype=np.float32)).all()
            assert f['layers'][:].tolist() == list(range(1, 14))
            """
            #expect(Python.run(["-c", check, h5.path]) == 0, "h5py found another chunk shape or other values")
        }
    }

    /// gguf-py (pip) reads a Vane-written vector with the expected keys and tensors.
    @Test(.enabled(if: Python.available("gguf", "numpy")))
    func ggufPyReadsVaneVector() throws {
        let (url, _, _, _) = try plantedStore()
        let v = try VectorBuilder(store: ActivationStore(url: url)).compute(.pcaCenter, commandLine: "vane vector compute")
        let file = url.deletingLastPathComponent().appendingPathComponent("v.gguf")
        try v.write(to: file)
        let dump = try #require(try Python.reference("gguf", input: file) as? [String: Any])
        let fields = try #require(dump["fields"] as? [String: Any])
        #expect(fields["general.architecture"] as? String == "controlvector")
        #expect(fields["controlvector.model_hint"] as? String == "llama")
        #expect(fields["controlvector.layer_count"] as? Int == 2)
        #expect(fields["vane.hook"] as? String == "resid_post")
        #expect(fields["vane.method"] as? String == "pca-center")
        #expect(fields["vane.model_sha256"] as? String == String(repeating: "c", count: 64))
        #expect(fields["vane.layers"] as? [Int] == [1, 2])
        let auroc = try #require(fields["vane.layer_auroc"] as? [Double])
        #expect(zip(auroc, v.scores).allSatisfy { abs($0 - Double($1.auroc)) < 1e-6 })
        let tensors = try #require(dump["tensors"] as? [String: [String: Any]])
        #expect(Set(tensors.keys) == ["direction.1", "direction.2"])
        for l in [1, 2] {
            let t = try #require(tensors["direction.\(l)"])
            #expect(t["type"] as? String == "F32" && t["shape"] as? [Int] == [16])
            let data = try #require(t["data"] as? [Double]).map(Float.init)
            #expect(compare(data, v.directions[l]!, atol: 0, label: "direction.\(l)") == nil)
        }
    }

    @Test func exportsReadBack() throws {
        let dir = try temporaryDirectory()
        let v = ControlVector(directions: [1: [1, 2, 3], 4: [-1, 0, 0.5]], width: 3, modelHint: "llama", method: "mean-diff")
        let st = dir.appendingPathComponent("v.safetensors")
        try v.export(to: st, format: .safetensors)
        let file = try SafetensorsFile(url: st)
        #expect(Set(file.tensors.map(\.name)) == ["direction.1", "direction.4"])
        #expect(dequantize(file.tensors.first { $0.name == "direction.4" }!).data == [-1, 0, 0.5])
        let npy = dir.appendingPathComponent("npy")
        try v.export(to: npy, format: .npyDir)
        try v.export(to: npy, format: .npyDir)   // replaces the folder
        let h5 = dir.appendingPathComponent("v.h5")
        try v.export(to: h5, format: .h5)
        if Python.available("numpy", "h5py") {
            let check = """
            import numpy as np, h5py, sys
            a = np.load(sys.argv[1] + '/direction.4.npy'); assert a.dtype == np.float32 and a.tolist() == [-1, 0, 0.5], a
            f = h5py.File(sys.argv[2]); assert f['directions'][:].tolist() == [[1, 2, 3], [-1, 0, 0.5]] and f['layers'][:].tolist() == [1, 4]
            assert f.attrs['hook'] == 'resid_post'
            """
            #expect(Python.run(["-c", check, npy.path, h5.path]) == 0, "numpy/h5py could not read the exports back")
        }
    }

    @Test func combineAddsScaledLayers() throws {
        let a = ControlVector(directions: [1: [1, 2], 2: [3, 4]], width: 2, modelHint: "llama", method: "a")
        let b = ControlVector(directions: [2: [1, 1], 3: [2, 0]], width: 2, modelHint: "llama", method: "b")
        let c = try ControlVector.combine([(a, 0.5), (b, -1)])
        #expect(c.directions == [1: [0.5, 1], 2: [0.5, 1], 3: [-2, 0]])
        let narrow = ControlVector(directions: [1: [1]], width: 1, modelHint: "llama")
        #expect(throws: VaneError.self) { try ControlVector.combine([(a, 1), (narrow, 1)]) }
        var x = a, y = b
        x.modelSHA256 = "aa"; y.modelSHA256 = "bb"
        #expect(throws: VaneError.self) { try ControlVector.combine([(x, 1), (y, 1)]) }
        _ = try ControlVector.combine([(x, 1), (y, 1)], force: true)
    }
}

import Foundation
import VaneModelIO
import VaneStore
import VaneTensor

// Other homes for a control vector, for tools that do not read GGUF:
//
// safetensors   one file: tensors `direction.{L}` F32 [d]; __metadata__ holds hook, method, model, model_sha256
//               and `layers` (comma-separated) as strings.
// h5            one HDF5 file: dataset /directions float32 [n, d] (rows in layer order, one chunk), /layers int64 [n];
//               root attributes format="vane.vector", hook, method, model, model_sha256.
// npy-dir       a folder: direction.{L}.npy (NumPy format 1.0, '<f4', shape (d,)) per layer and vector.json
//               ({"hook", "method", "model", "model_sha256", "layers", "scores"}).
//
// Every file is written atomically; the folder is assembled under a temporary name and renamed into place.

public enum VectorExportFormat: String, Sendable, CaseIterable {
    case safetensors
    case h5
    case npyDir = "npy-dir"
}

extension ControlVector {
    public func export(to url: URL, format: VectorExportFormat) throws {
        switch format {
        case .safetensors:
            var meta = ["hook": hook.rawValue, "layers": layers.map(String.init).joined(separator: ",")]
            meta["method"] = method
            meta["model"] = modelName
            meta["model_sha256"] = modelSHA256
            try SafetensorsWriter.write(layers.map { ("direction.\($0)", Tensor(shape: [width], data: directions[$0]!)) },
                                        metadata: meta, to: url)
        case .h5:
            try writeHDF5(to: url)
        case .npyDir:
            try writeNPYFolder(to: url)
        }
    }

    private func writeHDF5(to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial")
        try? FileManager.default.removeItem(at: tmp)
        do {
            let file = try HDF5File.create(at: tmp, mode: .exclusive)
            try file.attributes.set("format", "vane.vector")
            try file.attributes.set("hook", hook.rawValue)
            if let method { try file.attributes.set("method", method) }
            if let modelName { try file.attributes.set("model", modelName) }
            if let modelSHA256 { try file.attributes.set("model_sha256", modelSHA256) }
            let ls = layers
            // One chunk holding every row: the file is the size of its data, not of a default 1 MiB chunk.
            try file.root.createDataset("directions", type: .float32, shape: [ls.count, width], chunkRows: ls.count)
                .write(ls.flatMap { directions[$0]! })
            try file.root.createDataset("layers", type: .int64, shape: [ls.count], chunkRows: ls.count).write(ls.map(Int64.init))
            try file.close()
            try replace(url, with: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    private func writeNPYFolder(to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial")
        try? FileManager.default.removeItem(at: tmp)
        do {
            try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: false)
            for l in layers {
                try AtomicFile.write(tmp.appendingPathComponent("direction.\(l).npy")) { h in
                    try h.write(contentsOf: NPY.encode(directions[l]!))
                }
            }
            var json: [String: Any] = ["hook": hook.rawValue, "layers": layers,
                                       "scores": scores.map { ["layer": $0.layer, "norm": $0.norm, "auroc": $0.auroc, "cohens_d": $0.cohensD] }]
            json["method"] = method
            json["model"] = modelName
            json["model_sha256"] = modelSHA256
            let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
            try AtomicFile.write(tmp.appendingPathComponent("vector.json")) { try $0.write(contentsOf: data) }
            try replace(url, with: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    private func replace(_ url: URL, with tmp: URL) throws {
        if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
        try FileManager.default.moveItem(at: tmp, to: url)
    }
}

/// NumPy's .npy format, version 1.0, for a 1-D float32 array: the magic "\x93NUMPY", version bytes 1 0, a u16
/// little-endian header length, an ASCII dict literal padded with spaces and ending in "\n" so that the data
/// starts at a multiple of 64, then the little-endian floats.
enum NPY {
    static func encode(_ values: [Float]) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(values.count),), }"
        let unpadded = 6 + 2 + 2 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }
}

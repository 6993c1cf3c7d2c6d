import Foundation
import VaneModelIO
import VaneTensor

/// A fresh temporary folder for one test's outputs.
public func scratch(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-edit-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Every tensor of an HF folder (or one safetensors file), by its stored name, as F32.
public func folderTensors(_ url: URL) throws -> [String: Tensor] {
    let tensors = url.pathExtension == "safetensors" ? try SafetensorsFile(url: url).tensors : try loadSafetensorsFolder(url).tensors
    var out: [String: Tensor] = [:]
    for t in tensors { out[t.name] = dequantize(t) }
    return out
}

/// Compares tensors by name; nil when every expected tensor is present with the same shape and within atol.
public func compareTensors(_ actual: [String: Tensor], _ expected: [String: Tensor], atol: Float) -> String? {
    var problems: [String] = []
    for name in expected.keys.sorted() {
        guard let a = actual[name] else { problems.append("\(name): missing"); continue }
        guard a.shape == expected[name]!.shape else { problems.append("\(name): shape \(a.shape) vs \(expected[name]!.shape)"); continue }
        if let m = compare(a.data, expected[name]!.data, atol: atol, label: name) { problems.append(m) }
    }
    for name in actual.keys.sorted() where expected[name] == nil { problems.append("\(name): unexpected") }
    return problems.isEmpty ? nil : problems.prefix(5).joined(separator: "\n")
}

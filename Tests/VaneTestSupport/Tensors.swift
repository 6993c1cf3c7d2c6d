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

/// A copy of the HF folder `from` (one model.safetensors) whose tensors named by `take` come from the folder
/// `other` instead, as stored: a model that differs from `from` in exactly those tensors.
public func mixFolders(_ from: URL, _ other: URL, into dir: URL, take: (String) -> Bool) throws -> URL {
    let fm = FileManager.default
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    for name in try fm.contentsOfDirectory(atPath: from.path) where name != "model.safetensors" {
        try fm.copyItem(at: from.appendingPathComponent(name), to: dir.appendingPathComponent(name))
    }
    let a = try SafetensorsFile(url: from.appendingPathComponent("model.safetensors"))
    let b = try SafetensorsFile(url: other.appendingPathComponent("model.safetensors"))
    let chosen = try a.tensors.map { t in
        guard take(t.name) else { return t }
        guard let u = b.tensor(named: t.name) else { throw VaneError("\(other.path) has no tensor \(t.name)") }
        return u
    }
    try SafetensorsWriter.write(to: dir.appendingPathComponent("model.safetensors"),
                                entries: chosen.map { TensorEntry(name: $0.name, type: $0.type, shape: $0.shape) }) { i, emit in
        try emit(chosen[i].bytes)
    }
    return dir
}

/// The stored type and bytes of every tensor of an HF folder, by name (to check byte-for-byte copies).
public func storedBytes(_ folder: URL) throws -> [String: (type: GGMLType, bytes: [UInt8])] {
    var out: [String: (type: GGMLType, bytes: [UInt8])] = [:]
    for t in try loadSafetensorsFolder(folder).tensors { out[t.name] = (t.type, Array(t.bytes)) }
    return out
}

import Foundation

/// A fresh temporary folder, removed by `remove()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("vane-activations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes JSONL: one JSON object per line.
    func jsonl(_ name: String, _ objects: [[String: Any]]) throws -> URL {
        let lines = try objects.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        return try text(name, lines.joined(separator: "\n") + "\n")
    }

    func text(_ name: String, _ contents: String) throws -> URL {
        let url = file(name)
        try Data(contents.utf8).write(to: url)
        return url
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

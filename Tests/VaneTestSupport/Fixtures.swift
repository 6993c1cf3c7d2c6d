import Foundation
import VaneModelIO
import VaneTensor

/// Reference data under Tests/Fixtures, written by independent implementations (see Tests/Fixtures/README.md).
public enum Fixtures {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// The default model in Vane's cache, or nil when it has not been fetched (`vane fetch smollm2`).
    public static var smollm2: URL? { fetched("smollm2") }

    /// Qwen2.5-Coder-0.5B-Instruct in Vane's cache, or nil when it has not been fetched
    /// (`vane fetch qwen2.5-coder-0.5b`; scripts/test.sh fetches it).
    public static var qwenCoder05: URL? { fetched("qwen2.5-coder-0.5b") }

    /// A model `vane fetch` knows, when it is in the cache ($VANE_CACHE, else ~/.cache/vane).
    public static func fetched(_ name: String) -> URL? {
        guard let url = DefaultModel.named(name)?.path else { return nil }
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }
}

/// Compares `actual` with `expected` elementwise: |a − e| ≤ atol + rtol·|e|. Returns nil when they agree, else a
/// message with the max |Δ| and the first mismatches (index, actual, expected), for the test to fail with.
public func compare(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float = 0, label: String = "",
                    shownMismatches: Int = 5) -> String? {
    guard actual.count == expected.count else {
        return "\(label): count \(actual.count) ≠ expected \(expected.count)"
    }
    var maxDelta: Float = 0
    var bad: [String] = []
    var badCount = 0
    for i in 0..<actual.count {
        let d = abs(actual[i] - expected[i])
        if !(d <= atol + rtol * abs(expected[i])) {
            badCount += 1
            if bad.count < shownMismatches { bad.append("[\(i)] \(actual[i]) vs \(expected[i])") }
        }
        if d > maxDelta || d.isNaN { maxDelta = d }
    }
    if badCount == 0 { return nil }
    return "\(label): \(badCount)/\(actual.count) outside atol \(atol) rtol \(rtol), max |Δ| \(maxDelta); first: " + bad.joined(separator: ", ")
}

/// Every tensor of a reference safetensors file, as f32.
public func loadReference(_ url: URL) throws -> [String: Tensor] {
    let file = try SafetensorsFile(url: url)
    var out: [String: Tensor] = [:]
    for t in file.tensors { out[t.name] = dequantize(t) }
    return out
}

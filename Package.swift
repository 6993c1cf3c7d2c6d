// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Vane",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vane", targets: ["vane"]),
        .library(name: "VaneTensor", targets: ["VaneTensor"]),
        .library(name: "VaneModelIO", targets: ["VaneModelIO"]),
        .library(name: "VaneTokenizer", targets: ["VaneTokenizer"]),
        .library(name: "VaneEngine", targets: ["VaneEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        // C shims: the only places that see C headers.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CKernels"),

        .target(name: "VaneTensor", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "VaneModelIO", dependencies: ["VaneTensor"]),
        .target(name: "VaneTokenizer", dependencies: ["VaneModelIO"]),
        .target(name: "VaneEngine", dependencies: ["VaneTensor", "VaneModelIO", "VaneTokenizer"]),
        .executableTarget(name: "vane", dependencies: [
            "VaneEngine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the test targets: fixture paths and tolerance comparisons that print the first mismatches.
        .target(name: "VaneTestSupport", dependencies: ["VaneModelIO"], path: "Tests/VaneTestSupport"),
        .testTarget(name: "VaneTensorTests", dependencies: ["VaneTensor", "CKernels", "VaneModelIO", "VaneTestSupport"]),
        .testTarget(name: "VaneTokenizerTests", dependencies: ["VaneTokenizer", "VaneTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

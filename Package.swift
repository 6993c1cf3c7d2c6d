// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Vane",
    // No Apple platforms: Vane is built and tested on Linux (x86-64) only; see Platforms in the README.
    products: [
        .executable(name: "vane", targets: ["vane"]),
        .library(name: "VaneTensor", targets: ["VaneTensor"]),
        .library(name: "VaneModelIO", targets: ["VaneModelIO"]),
        .library(name: "VaneTokenizer", targets: ["VaneTokenizer"]),
        .library(name: "VaneEngine", targets: ["VaneEngine"]),
        .library(name: "VaneStore", targets: ["VaneStore"]),
        .library(name: "VaneEdit", targets: ["VaneEdit"]),
        .library(name: "VaneActivations", targets: ["VaneActivations"]),
        .library(name: "VaneSteer", targets: ["VaneSteer"]),
        .library(name: "VaneBake", targets: ["VaneBake"]),
        .library(name: "VanePlot", targets: ["VanePlot"]),
        .library(name: "VaneRecipes", targets: ["VaneRecipes"]),
        .library(name: "VaneServe", targets: ["VaneServe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // `vane serve`: the HTTP server and its Prometheus metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        // C shims: the only places that see C headers.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CKernels"),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
        // A libhdf5 file driver that checks global-heap collections before libhdf5 1.10 decodes them.
        .target(name: "CHDF5Guard", dependencies: ["CHDF5"]),

        // The error type every library throws; its own target so that VaneStore shares it without model types.
        .target(name: "VaneCore"),
        .target(name: "VaneTensor", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "VaneModelIO", dependencies: ["VaneCore", "VaneTensor", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "VaneTokenizer", dependencies: ["VaneCore", "VaneModelIO"]),
        .target(name: "VaneEngine", dependencies: ["VaneCore", "VaneTensor", "VaneModelIO", "VaneTokenizer"]),
        .target(name: "VaneStore", dependencies: ["CHDF5", "CHDF5Guard", "VaneCore"]),
        .target(name: "VanePlot", dependencies: ["VaneModelIO"]),
        .target(name: "VaneActivations", dependencies: ["VaneCore", "VaneStore", "VaneEngine"]),
        .target(name: "VaneEdit", dependencies: ["VaneModelIO", "VaneTensor", "CBLAS", .product(name: "Yams", package: "Yams")]),
        .target(name: "VaneSteer", dependencies: ["VaneEngine", "VaneStore", "VaneActivations", "VanePlot"]),
        .target(name: "VaneBake", dependencies: ["VaneEdit", "VaneSteer", "VaneActivations", "VaneEngine", "VanePlot"]),
        // Compositions of the libraries above: efficiency direction, ThinkEdit, reasoning vector.
        .target(name: "VaneRecipes", dependencies: ["VaneBake", "VaneSteer", "VaneEdit", "VaneActivations", "VaneEngine", "VanePlot"]),
        // An OpenAI-compatible server with steering chosen per request, on the batched decoder.
        .target(name: "VaneServe", dependencies: [
            "VaneSteer", "VaneActivations", "VaneEngine",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "vane", dependencies: [
            "VaneServe",
            "VaneRecipes",
            "VaneBake",
            "VaneSteer",
            "VaneEngine",
            "VaneEdit",
            "VaneActivations",
            "VanePlot",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // One fuzz target per parser (scripts/fuzz.sh runs them under libFuzzer; see RELIABILITY.md).
        .target(name: "VaneFuzz", dependencies: ["VaneActivations", "VaneEdit", "VaneEngine", "VaneModelIO", "VaneSteer", "VaneTokenizer"]),
        .executableTarget(name: "vane-fuzz", dependencies: ["VaneFuzz"]),

        // Shared by the test targets: fixture paths and tolerance comparisons that print the first mismatches.
        .target(name: "VaneTestSupport", dependencies: ["VaneModelIO", "VaneTensor"], path: "Tests/VaneTestSupport"),
        .testTarget(name: "VaneEngineTests", dependencies: ["VaneEngine", "VaneTestSupport"], exclude: ["hook_reference.py"]),
        .testTarget(name: "VaneEditTests", dependencies: ["VaneEdit", "VaneEngine", "VaneTestSupport"], exclude: ["task_vector_reference.py"]),
        .testTarget(name: "VaneTensorTests", dependencies: ["VaneTensor", "CKernels", "VaneModelIO", "VaneTestSupport"]),
        .testTarget(name: "VaneActivationsTests", dependencies: ["VaneActivations", "VaneTestSupport"]),
        .testTarget(name: "VaneStoreTests", dependencies: ["VaneStore", "VaneTestSupport"]),
        .testTarget(name: "VaneTokenizerTests", dependencies: ["VaneTokenizer", "VaneModelIO", "VaneTestSupport"]),
        .testTarget(name: "VaneSteerTests", dependencies: ["VaneSteer", "VaneTestSupport"], exclude: ["reference.py"]),
        .testTarget(name: "VaneBakeTests", dependencies: ["VaneBake", "VaneRecipes", "VaneTestSupport"], exclude: ["check_edit.py"]),
        .testTarget(name: "VaneRecipesTests", dependencies: ["VaneRecipes", "VaneTestSupport"], exclude: ["rice_npmi.py", "seal_labels.py"]),
        // Executes the walkthroughs in notebooks-text/ against the built vane.
        .testTarget(name: "NotebookTests", dependencies: ["VaneTestSupport"]),
        // Runs the built vane: what commands refuse and what they leave behind.
        .testTarget(name: "CLITests", dependencies: ["VaneTestSupport"]),
        .testTarget(name: "VaneModelIOTests", dependencies: ["VaneModelIO", "VaneTestSupport"]),
        // Replays Tests/Fuzz/*/seeds and regressions through the fuzz targets, without libFuzzer.
        .testTarget(name: "FuzzRegressionTests", dependencies: ["VaneFuzz"]),
        // Starts the server on loopback and talks to it with the `openai` Python client and raw HTTP.
        .testTarget(name: "VaneServeTests", dependencies: ["VaneServe", "VaneTestSupport"], exclude: ["client.py"]),
    ],
    swiftLanguageModes: [.v6]
)

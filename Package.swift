// swift-tools-version:6.0
import PackageDescription

// Release speed needs the host's vector units: build with
//   swift build -c release -Xswiftc -target-cpu -Xswiftc native
// (a command-line flag, not a package setting). The C kernels dispatch at run time, so the
// baseline build stays correct and the hot loops stay vectorized either way.
let package = Package(
    name: "Shrink",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "shrink", targets: ["shrink"]),
        .library(name: "ShrinkKit", targets: ["ShrinkTensor", "ShrinkFormats", "ShrinkQuant", "ShrinkModels", "ShrinkEval"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(name: "CShrinkKernels"),
        .target(name: "ShrinkTensor", dependencies: ["CShrinkKernels"]),
        .target(name: "ShrinkFormats", dependencies: ["ShrinkTensor", "CShrinkKernels"]),
        .target(name: "ShrinkQuant", dependencies: ["ShrinkTensor", "ShrinkFormats", "CShrinkKernels"]),
        .target(name: "ShrinkModels", dependencies: ["ShrinkTensor", "ShrinkFormats", "ShrinkQuant", "CShrinkKernels"]),
        .target(name: "ShrinkEval", dependencies: ["CShrinkKernels", "ShrinkTensor", "ShrinkFormats", "ShrinkQuant", "ShrinkModels"]),
        .target(
            name: "ShrinkExport",
            dependencies: ["ShrinkTensor", "ShrinkFormats", "ShrinkQuant", "ShrinkModels", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(name: "ShrinkPlan", dependencies: ["ShrinkTensor", "ShrinkFormats", "ShrinkQuant", "ShrinkModels", "ShrinkEval"]),
        // HTML/SVG pages from report JSON: only the executable depends on it.
        .target(name: "ShrinkReport", dependencies: ["ShrinkTensor", "ShrinkFormats", "ShrinkQuant", "ShrinkModels", "ShrinkEval", "ShrinkPlan"]),
        .executableTarget(
            name: "shrink",
            dependencies: [
                "ShrinkTensor", "ShrinkFormats", "ShrinkQuant", "ShrinkModels", "ShrinkEval", "ShrinkExport", "ShrinkPlan", "ShrinkReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "ShrinkTestSupport", dependencies: ["ShrinkFormats", "ShrinkTensor"], path: "Tests/ShrinkTestSupport"),
        .testTarget(name: "ShrinkTensorTests", dependencies: ["ShrinkTensor", "ShrinkTestSupport"]),
        .testTarget(name: "ShrinkFormatsTests", dependencies: ["ShrinkFormats", "ShrinkTensor", "ShrinkTestSupport"]),
        .testTarget(name: "ShrinkQuantTests", dependencies: ["ShrinkQuant", "ShrinkFormats", "ShrinkTensor", "ShrinkEval", "ShrinkTestSupport"]),
        .testTarget(name: "ShrinkCLITests", dependencies: ["shrink", "ShrinkFormats", "ShrinkQuant", "ShrinkTestSupport"]),
        .testTarget(name: "ShrinkEvalTests", dependencies: ["ShrinkEval", "ShrinkFormats", "ShrinkModels", "ShrinkQuant", "ShrinkTensor", "ShrinkTestSupport"]),
        .testTarget(name: "ShrinkExportTests", dependencies: ["ShrinkExport", "ShrinkEval", "ShrinkModels", "ShrinkQuant", "ShrinkFormats", "ShrinkTensor", "ShrinkTestSupport"]),
        .testTarget(name: "ShrinkPlanTests", dependencies: ["ShrinkPlan", "ShrinkEval", "ShrinkModels", "ShrinkQuant", "ShrinkFormats", "ShrinkTestSupport"]),
        .testTarget(name: "ShrinkReportTests", dependencies: ["ShrinkReport", "ShrinkEval", "ShrinkPlan", "ShrinkModels", "ShrinkQuant", "ShrinkTensor", "ShrinkTestSupport"]),
        .testTarget(name: "ShrinkModelsTests", dependencies: ["ShrinkModels", "ShrinkQuant", "ShrinkFormats", "ShrinkTensor", "ShrinkTestSupport"]),
    ]
)

// Fuzz targets (FUZZING.md, tools/fuzz.sh): libFuzzer executables, one per parser, built only when
// SHRINK_FUZZ=1 so that a normal `swift build` / `swift test` never sees them. tools/fuzz.sh builds them with
// `-sanitize=fuzzer,address` in their own build folder.
if Context.environment["SHRINK_FUZZ"] == "1" {
    package.targets.append(.target(name: "CFuzzSupport", path: "Fuzz/CSupport"))
    package.targets.append(.target(name: "FuzzSupport", dependencies: ["CFuzzSupport"], path: "Fuzz/Support"))
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzSafetensors", ["ShrinkFormats"]),
        ("FuzzShardIndex", ["ShrinkFormats"]),
        ("FuzzStrictJSON", ["ShrinkFormats"]),
        ("FuzzGGUF", ["ShrinkFormats"]),
        ("FuzzGGMLBlocks", ["ShrinkFormats"]),
        ("FuzzConfig", ["ShrinkModels"]),
        ("FuzzRecipe", ["ShrinkQuant"]),
        ("FuzzDeviceProfile", ["ShrinkPlan"]),
        ("FuzzTokenizerJSON", ["ShrinkModels"]),
        ("FuzzGGUFTokenizer", ["ShrinkModels"]),
        ("FuzzPuzzleDataset", ["ShrinkEval"]),
        ("FuzzIDX", ["ShrinkFormats"]),
    ]
    for t in fuzzTargets {
        package.targets.append(.executableTarget(name: t.name, dependencies: ["FuzzSupport"] + t.dependencies, path: "Fuzz/\(t.name)"))
    }
}

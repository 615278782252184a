// swift-tools-version: 6.0
//
// XbarSim: a memristor-crossbar inference emulator.
//
// Layers (each a target, so the compiler keeps lower layers from reaching up):
//
//   CBLAS, CHDF5            system libraries (pkg-config: openblas, hdf5)
//   XbarSimTensor           tensors and the BLAS-backed kernels      (Tensor/)
//   XbarSimIO               HDF5 reader/writer, CIFAR-10 loader      (IO/)
//   XbarSimGraph            op graph, model-file loader, float engine (Graph/)
//   XbarSimExperiments      evaluations that produce reports          (Experiments/)
//   XbarSim                 umbrella that re-exports the public API   (Exports/)
//   xbarsim                 the command-line tool (parses and prints only)
import PackageDescription

let package = Package(
    name: "XbarSim",
    products: [
        .library(name: "XbarSim", targets: ["XbarSim"]),
        .executable(name: "xbarsim", targets: ["xbarsim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        .target(name: "XbarSimTensor", dependencies: ["CBLAS"], path: "Sources/XbarSim/Tensor"),
        .target(name: "XbarSimIO", dependencies: ["CHDF5"], path: "Sources/XbarSim/IO"),
        .target(
            name: "XbarSimGraph", dependencies: ["XbarSimTensor", "XbarSimIO"],
            path: "Sources/XbarSim/Graph"),
        .target(
            name: "XbarSimExperiments",
            dependencies: ["XbarSimTensor", "XbarSimIO", "XbarSimGraph"],
            path: "Sources/XbarSim/Experiments"),
        .target(
            name: "XbarSim",
            dependencies: ["XbarSimTensor", "XbarSimIO", "XbarSimGraph", "XbarSimExperiments"],
            path: "Sources/XbarSim/Exports"),
        .executableTarget(
            name: "xbarsim",
            dependencies: [
                "XbarSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/xbarsim"),
        .testTarget(
            name: "XbarSimTests",
            dependencies: ["XbarSim", "xbarsim"],
            path: "Tests/XbarSimTests"),
    ]
)

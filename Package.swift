// swift-tools-version: 6.0
//
// XbarSim: a memristor-crossbar inference emulator.
//
// Layers (each a target, so the compiler keeps lower layers from reaching up):
//
//   CBLAS, CHDF5            system libraries (pkg-config: openblas, hdf5)
//   CKernels                read-noise passes in C (vectorised sqrt/clamps, AVX-512, BF16)
//   XbarSimSupport          checked sizes, memory budget, thread probe, SHA-256 (swift-crypto)
//   XbarSimTensor           tensors and the BLAS-backed kernels      (Tensor/)
//   XbarSimIO               HDF5 reader/writer, CIFAR-10 loader      (IO/)
//   XbarSimGraph            op graph, model-file loader, float engine (Graph/)
//   XbarSimDevice           device non-idealities, seeded streams    (Device/)
//   XbarSimCircuit          electrical model of a tile, IR-drop solvers (Circuit/)
//   XbarSimCrossbar         weight->conductance mapping, tiles, DAC/ADC/op-amp (Crossbar/)
//   XbarSimAnalog           memristive network: crossbar layers, analog modules, chips (Analog/)
//   XbarSimEnergy           resources, energy and latency of a chip (Energy/)
//   XbarSimSpice            SPICE netlists, ngspice runner and checks (Spice/)
//   XbarSimExperiments      evaluations that produce reports          (Experiments/)
//   XbarSim                 umbrella that re-exports the public API   (Exports/)
//   xbarsim                 the command-line tool (parses and prints only)
import Foundation
import PackageDescription

/// Hot loops (depthwise convolution, noise, activations) vectorise 8-wide with AVX2/FMA.
/// Swift compiles for baseline x86-64 (SSE2) unless told otherwise, so on an x86-64 host
/// whose CPU has AVX2 and FMA the compute targets are built for `haswell`.
/// `XBARSIM_PORTABLE=1 swift build` turns this off (for binaries copied to older CPUs).
let vectorFlags: [SwiftSetting] = {
    #if arch(x86_64)
    let portable = Context.environment["XBARSIM_PORTABLE"].map { !$0.isEmpty && $0 != "0" } ?? false
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ")) } ?? []
    if !portable && flags.contains("avx2") && flags.contains("fma") {
        return [.unsafeFlags(["-target-cpu", "haswell"])]
    }
    #endif
    return []
}()

/// The same for the C kernels, plus `-fno-math-errno` so `sqrtf` vectorises. Where the
/// host also has AVX-512 (F, DQ, BW, VL), the read-noise kernels take their 16-lane path,
/// and with AVX-512 BF16 pointwise read-noise variances run as bf16 dot products.
let cVectorFlags: [CSetting] = {
    var flags = ["-O3", "-fno-math-errno"]
    if !vectorFlags.isEmpty { flags += ["-mavx2", "-mfma"] }
    #if arch(x86_64)
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let cpu = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ")) } ?? []
    let avx512: [Substring] = ["avx512f", "avx512dq", "avx512bw", "avx512vl"]
    if !vectorFlags.isEmpty && avx512.allSatisfy(cpu.contains) {
        flags += ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl"]
        if cpu.contains("avx512_bf16") { flags.append("-mavx512bf16") }
    }
    #endif
    return [.unsafeFlags(flags)]
}()

let package = Package(
    name: "XbarSim",
    products: [
        .library(name: "XbarSim", targets: ["XbarSim"]),
        .executable(name: "xbarsim", targets: ["xbarsim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]),
        .target(
            name: "XbarSimTensor", dependencies: ["CBLAS", "CKernels"], path: "Sources/XbarSim/Tensor",
            swiftSettings: vectorFlags),
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: cVectorFlags),
        .target(
            name: "XbarSimSupport", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/XbarSim/Support"),
        .target(name: "XbarSimIO", dependencies: ["CHDF5", "XbarSimSupport"], path: "Sources/XbarSim/IO"),
        .target(name: "XbarSimDevice", path: "Sources/XbarSim/Device", swiftSettings: vectorFlags),
        .target(
            name: "XbarSimGraph", dependencies: ["XbarSimSupport", "XbarSimTensor", "XbarSimIO"],
            path: "Sources/XbarSim/Graph"),
        .target(
            name: "XbarSimCircuit", dependencies: ["XbarSimTensor", "XbarSimDevice"],
            path: "Sources/XbarSim/Circuit", swiftSettings: vectorFlags),
        .target(
            name: "XbarSimCrossbar", dependencies: ["XbarSimTensor", "XbarSimDevice", "XbarSimCircuit"],
            path: "Sources/XbarSim/Crossbar", swiftSettings: vectorFlags),
        .target(
            name: "XbarSimAnalog",
            dependencies: ["XbarSimTensor", "XbarSimDevice", "XbarSimCircuit", "XbarSimCrossbar", "XbarSimGraph", "CKernels"],
            path: "Sources/XbarSim/Analog", swiftSettings: vectorFlags),
        .target(
            name: "XbarSimEnergy",
            dependencies: ["XbarSimSupport", "XbarSimTensor", "XbarSimGraph", "XbarSimCircuit", "XbarSimCrossbar", "XbarSimAnalog"],
            path: "Sources/XbarSim/Energy"),
        .target(
            name: "XbarSimSpice",
            dependencies: ["XbarSimSupport", "XbarSimTensor", "XbarSimDevice", "XbarSimCircuit", "XbarSimCrossbar", "XbarSimGraph", "XbarSimAnalog"],
            path: "Sources/XbarSim/Spice"),
        .target(
            name: "XbarSimExperiments",
            dependencies: [
                "XbarSimSupport", "XbarSimTensor", "XbarSimIO", "XbarSimGraph", "XbarSimDevice", "XbarSimCircuit",
                "XbarSimCrossbar", "XbarSimAnalog", "XbarSimEnergy",
            ],
            path: "Sources/XbarSim/Experiments"),
        .target(
            name: "XbarSim",
            dependencies: [
                "XbarSimSupport", "XbarSimTensor", "XbarSimIO", "XbarSimGraph", "XbarSimDevice", "XbarSimCircuit",
                "XbarSimCrossbar", "XbarSimAnalog", "XbarSimEnergy", "XbarSimSpice", "XbarSimExperiments",
            ],
            path: "Sources/XbarSim/Exports"),
        .executableTarget(
            name: "xbarsim",
            dependencies: [
                "XbarSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/xbarsim"),
        .executableTarget(
            name: "irdrop-bench", dependencies: ["XbarSim"], path: "Benchmarks/IRDrop"),
        .testTarget(
            name: "XbarSimTests",
            dependencies: ["XbarSim", "xbarsim"],
            path: "Tests/XbarSimTests"),
    ]
)

import Foundation
import Testing
@testable import XbarSim

/// A fresh temporary directory, removed by the caller with `cleanup`.
func temporaryDirectory(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "xbarsim-tests-\(safe)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The repository root (two levels above this file's folder).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path
}()

let defaultModelPath = repositoryRoot + "/Weights/mobilenetv3_cifar10.h5"

/// The second reference design's network, trained by `Weights/train.py --arch shufflenetv2`.
let shuffleNetModelPath = repositoryRoot + "/Weights/shufflenetv2_cifar10.h5"

/// The trained networks the project ships (each with PyTorch golden outputs).
let shippedModelPaths = [defaultModelPath, shuffleNetModelPath]

/// The shared CIFAR-10 copy CI reads (`../shared/cifar10/cifar-10-batches-bin`).
let sharedDataDirectory: String? = {
    try? CIFAR10.locate(explicit: nil, workingDirectory: repositoryRoot)
}()

/// A deterministic pseudo-random sequence in -1...1 for test inputs (SplitMix64).
struct TestValues {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(Double(z >> 11) / Double(1 << 53) * 2 - 1)
    }
    mutating func array(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
}

/// Error message of a throwing call ("" if it did not throw).
func errorMessage(_ body: () throws -> Void) -> String {
    do {
        try body()
        return ""
    } catch {
        return "\(error)"
    }
}

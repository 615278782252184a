import Foundation
import Testing
@testable import XbarSim

struct CIFAR10Tests {
    /// Writes records of (label, pixel value function) as a binary batch.
    func writeBatch(_ path: String, labels: [UInt8], pixel: (Int, Int) -> UInt8) throws {
        var bytes: [UInt8] = []
        for (r, label) in labels.enumerated() {
            bytes.append(label)
            for k in 0..<3072 { bytes.append(pixel(r, k)) }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func loadsRecordsAndNormalises() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeBatch(dir + "/test_batch.bin", labels: [3, 9, 0]) { r, k in UInt8((r * 7 + k) % 256) }
        let data = try CIFAR10.test(in: dir)
        #expect(data.count == 3 && data.labels == [3, 9, 0])
        #expect(data.pixels[3072 + 5] == 12)                 // record 1, byte 5: (7 + 5) % 256
        #expect(try CIFAR10.test(in: dir, limit: 2).labels == [3, 9])
        // Normalised batch of records 1...2 in [C, H, W, N]: channel 2 of record 2 starts at byte 2048.
        var out = [Float](repeating: 0, count: 3 * 2 * 1024)
        out.withUnsafeMutableBufferPointer { data.normalizedBatch(1..<3, mean: [0.5, 0.5, 0.25], std: [0.5, 0.25, 0.5], into: $0) }
        let pixel = Float((2 * 7 + 2048) % 256)               // record 2, channel 2, first pixel
        let expected = (pixel / 255 - 0.25) / 0.5
        #expect(abs(out[2 * 1024 * 2 + 1] - expected) < 1e-6)    // channel 2, pixel 0, batch image 1
    }

    @Test func truncatedForeignAndMissingFilesGiveClearErrors() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let truncated = dir + "/test_batch.bin"
        try Data(repeating: 1, count: 3073 * 2 - 10).write(to: URL(fileURLWithPath: truncated))
        let e1 = errorMessage { _ = try CIFAR10.test(in: dir) }
        #expect(e1 == "\(truncated): 6136 bytes is not a positive multiple of 3073 (truncated, or not a CIFAR-10 binary batch)")
        try writeBatch(truncated, labels: [1, 12]) { _, _ in 0 }
        #expect(errorMessage { _ = try CIFAR10.test(in: dir) }.contains("record 1 has label 12 (expected 0-9)"))
        let empty = temporaryDirectory("empty")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(errorMessage { _ = try CIFAR10.test(in: empty) }.contains("\(empty)/test_batch.bin: missing or unreadable"))
    }

    @Test func locateSearchesInDocumentedOrder() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let work = dir + "/repo"
        try FileManager.default.createDirectory(atPath: work + "/Datasets/cifar-10-batches-bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/shared/cifar10/cifar-10-batches-bin", withIntermediateDirectories: true)
        #expect(try CIFAR10.locate(explicit: nil, environment: [:], workingDirectory: work)
                == work + "/Datasets/cifar-10-batches-bin")
        #expect(try CIFAR10.locate(explicit: nil, environment: ["XBARSIM_DATA": dir], workingDirectory: work) == dir)
        #expect(try CIFAR10.locate(explicit: work, environment: ["XBARSIM_DATA": dir], workingDirectory: work) == work)
        try FileManager.default.removeItem(atPath: work + "/Datasets")
        #expect(try CIFAR10.locate(explicit: nil, environment: [:], workingDirectory: work)
                == work + "/../shared/cifar10/cifar-10-batches-bin")
        let explicitMissing = errorMessage { _ = try CIFAR10.locate(explicit: dir + "/nope", environment: [:], workingDirectory: work) }
        #expect(explicitMissing == "\(dir)/nope: no such directory (given with --data)")
        try FileManager.default.removeItem(atPath: dir + "/shared")
        let none = errorMessage { _ = try CIFAR10.locate(explicit: nil, environment: [:], workingDirectory: work) }
        #expect(none.contains("CIFAR-10 not found") && none.contains("Datasets/download-cifar10.sh"))
    }

    @Test(.enabled(if: sharedDataDirectory != nil)) func sharedTestSetIsWellFormed() throws {
        let data = try CIFAR10.test(in: try #require(sharedDataDirectory))
        #expect(data.count == 10_000)
        // Each class has exactly 1,000 test images in CIFAR-10.
        #expect((0..<10).allSatisfy { c in data.labels.filter { $0 == c }.count == 1_000 })
        #expect(data.labels.prefix(5) == [3, 8, 8, 0, 6])      // cat, ship, ship, airplane, frog
    }
}

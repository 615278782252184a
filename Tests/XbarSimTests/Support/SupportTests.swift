import Foundation
import Testing
@testable import XbarSim

/// Checked sizes, the memory budget, the thread probe and the SHA-256 helper (XbarSimSupport).
struct SupportTests {
    @Test func productsAndConversionsNeverTrap() throws {
        #expect(try CheckedSize.product([3, 32, 32, 64], parameter: "--batch") == 196_608)
        #expect(errorMessage { _ = try CheckedSize.product([Int.max, 2], parameter: "--tile") }.hasPrefix("--tile: size"))
        #expect(errorMessage { _ = try CheckedSize.product([4, 4], parameter: "x", limit: 10) }.contains("too large"))
        #expect(errorMessage { _ = try CheckedSize.product([-1, 4], parameter: "x") }.contains("negative"))
        #expect(errorMessage { _ = try CheckedSize.sum(Int.max, 1, parameter: "--image") }.contains("overflows"))
        for bad in [Double.nan, .infinity, -.infinity, 1e308, -1e308, 9.3e18] {
            #expect(errorMessage { _ = try CheckedSize.integer(bad, in: 0...100, parameter: "--g-max") }.hasPrefix("--g-max: must"))
        }
        #expect(try CheckedSize.integer(42.9, in: 0...100, parameter: "x") == 42)
        #expect(errorMessage { _ = try CheckedSize.integer("99999999999999999999", in: 1...10, parameter: "--n") }
                .contains("out of range"))
        #expect(errorMessage { _ = try CheckedSize.integer("seven", in: 1...10, parameter: "--n") }.contains("whole number"))
    }

    @Test func memoryBudgetRefusesBeforeAllocating() throws {
        try MemoryBudget.check(elements: [128, 128], elementBytes: 8, what: "a tile", parameter: "--tile")
        let message = errorMessage {
            try MemoryBudget.check(elements: [100_000, 100_000, 100_000], elementBytes: 8, what: "a tile", parameter: "--tile")
        }
        #expect(message.hasPrefix("--tile: a tile would need"), "\(message)")
        #expect(errorMessage {
            try MemoryBudget.check(elements: [Int.max, 2], elementBytes: 8, what: "a tile", parameter: "--tile")
        }.contains("more memory than an Int can count"))
        #expect(MemoryBudget.parseBytes("2G") == 2 << 30)
        #expect(MemoryBudget.parseBytes("512MB") == 512 << 20)
        #expect(MemoryBudget.parseBytes("nonsense") == nil)
    }

    @Test func threadProbeStartsThreadsOrSaysWhy() throws {
        try ThreadProbe.ensure(1)
        try ThreadProbe.ensure(16)
        #expect(errorMessage { try ThreadProbe.ensure(0) }.hasPrefix("--threads: must be in 1...1024, got 0"))
        #expect(errorMessage { try ThreadProbe.ensure(Int.max) }.hasPrefix("--threads: must be in 1...1024"))
    }

    @Test func sha256OfPartsEqualsTheWhole() {
        var h = Checksum.Hasher()
        h.update(Array("abc".utf8))
        h.update(Array("def".utf8))
        #expect(h.finalizeHex() == Checksum.sha256Hex(Array("abcdef".utf8)))
        #expect(Checksum.sha256(Array("abc".utf8)).count == 32)
    }
}

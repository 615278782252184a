import Foundation
import Testing
@testable import XbarSim

/// `xbarsim golden` is a check: beyond `--tolerance` (default 1e-4 relative) it fails.
@Suite(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"), .serialized)
struct GoldenToleranceTests {
    /// A copy of the trained model whose first convolution's weights are scaled by 1.5,
    /// written with the project's own HDF5 writer.
    static func scaledModel(in dir: String) throws -> String {
        var model = try ModelFile.load(defaultModelPath)
        let i = try #require(model.graph.ops.firstIndex { if case .conv2d = $0.kind { return true } else { return false } })
        guard case .conv2d(let geometry, let weight, let bias) = model.graph.ops[i].kind else { throw DatasetError("no conv") }
        model.graph.ops[i].kind = .conv2d(geometry: geometry, weight: weight.map { $0 * 1.5 }, bias: bias)
        let path = dir + "/scaled.h5"
        try ModelFile.write(model, to: path)
        return path
    }

    @Test func scaledWeightFailsTheCheckAndTheOriginalPasses() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dataset = try CIFAR10.test(in: try #require(sharedDataDirectory))
        let original = try GoldenCheck.check(model: try ModelFile.load(defaultModelPath), dataset: dataset, threads: 1)
        #expect(original.maxRelativeError <= GoldenCheck.defaultTolerance)

        let scaled = try ModelFile.load(try Self.scaledModel(in: dir))
        let comparison = try GoldenCheck.float(model: scaled, dataset: dataset, threads: 1)
        #expect(comparison.maxRelativeError > 1e-2)
        #expect(!comparison.failures(tolerance: 1e-4).isEmpty)
        #expect(comparison.failures(tolerance: 10).isEmpty)
        do {
            _ = try GoldenCheck.check(model: scaled, dataset: dataset, threads: 1)
            Issue.record("the scaled model passed the golden check")
        } catch let error as GoldenMismatch {
            #expect(error.description.contains("golden check failed"), "\(error)")
        }
    }

    @Test(.enabled(if: xbarsimBinary != nil, "needs the xbarsim binary"))
    func commandExitsNonZeroBeyondTheTolerance() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Self.scaledModel(in: dir)
        let failed = try runXbarsim(["golden", "--model", path, "--threads", "1"])
        #expect(failed.status != 0 && !failed.signalled)
        #expect(failed.stderr.contains("golden check failed"), "\(failed.stderr)")
        // A loose enough tolerance accepts it; the default model passes the default.
        let loose = try runXbarsim(["golden", "--model", path, "--threads", "1", "--tolerance", "100"])
        #expect(loose.status == 0, "\(loose.stderr)")
        let passed = try runXbarsim(["golden", "--threads", "1"])
        #expect(passed.status == 0, "\(passed.stderr)")
        #expect(passed.stdout.contains("passed"))
    }

    @Test func relativeErrorOfMismatchedOrNaNOutputsFails() {
        #expect(GoldenCheck.relativeError([1, 2], [1]).isNaN)
        #expect(GoldenCheck.relativeError([.nan], [1]).isNaN)
        let c = GoldenComparison(logitsRelativeError: .nan, ops: [], images: 1, predictionMismatches: 0)
        #expect(c.failures(tolerance: 1).count == 1)
    }
}

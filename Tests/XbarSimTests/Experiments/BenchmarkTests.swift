import Testing
@testable import XbarSim

/// The tile benchmark's crossbar computes the same products as the float GEMM, with the
/// error the device model predicts.
struct BenchmarkTests {
    @Test func idealTileEqualsTheFloatGEMM() throws {
        let r = try Benchmark.tile(rows: 48, columns: 40, batch: 16, repeats: 2, variation: 0, readNoise: 0, threads: 1)
        #expect(r.relativeRMSError < 1e-5, "\(r.relativeRMSError)")
        #expect(r.vectorsPerSecond > 0 && r.floatVectorsPerSecond > 0)
    }

    /// With independent relative errors δ on every device, Σ wᵢxᵢδᵢ has variance σ²Σ(wᵢxᵢ)², the
    /// same sum as E[(Σ wᵢxᵢ)²] for zero-mean independent weights and inputs: the relative RMS
    /// error is sqrt(σ_prog² + σ_read²) = 0.0539 (a little less: devices pushed above G_max are clipped).
    @Test func noisyTileErrorMatchesTheClosedForm() throws {
        let r = try Benchmark.tile(rows: 256, columns: 64, batch: 64, repeats: 1, variation: 0.05, readNoise: 0.02, threads: 1)
        let expected = (0.05 * 0.05 + 0.02 * 0.02).squareRoot()
        #expect(abs(r.relativeRMSError - expected) < 0.006, "\(r.relativeRMSError) vs \(expected)")
    }

    @Test func badSizesAreRejected() {
        #expect(errorMessage { _ = try Benchmark.tile(rows: 0, columns: 4, batch: 1, repeats: 1, threads: 1) }.hasPrefix("--tile-sizes"))
        #expect(errorMessage { _ = try Benchmark.tile(rows: 4, columns: 4, batch: 0, repeats: 1, threads: 1) }.hasPrefix("--tile-batch"))
    }
}

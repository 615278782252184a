import Foundation
import Testing
import XbarSimDevice

struct ProgrammingVariationTests {
    let n = 100_000

    /// Gaussian variation: g' = g(1 + σz). The target sits mid-window (50 µS, σ = 0.1), so
    /// clipping needs |z| > 9.8 and never happens. Mean within 5·σg/√n; std/g within
    /// σ·(1 ± 5/√(2n)) (±1.1 %). Checked through `program` (fast normals) and `apply` (libm).
    @Test(arguments: [false, true])
    func gaussianRelativeStandardDeviation(throughProgram: Bool) {
        let (g, sigma) = (5e-5, 0.1)
        var model = DeviceModel()
        model.variation = ProgrammingVariation(distribution: .gaussian, relativeSigma: sigma)
        let values: [Double]
        if throughProgram {
            values = model.program([Double](repeating: g, count: n), seed: 1, key: [0]).atReadTime
        } else {
            var rng = RandomStream(seed: 1, 0)
            values = (0..<n).map { _ in model.variation.apply(g, window: model.window, using: &rng) }
        }
        let (mean, std) = meanAndStandardDeviation(values)
        let N = Double(n)
        #expect(abs(mean - g) <= 5 * sigma * g / N.squareRoot())
        #expect(abs(std / g - sigma) <= 5 * sigma / (2 * N).squareRoot())
    }

    /// Lognormal variation: g' = g·exp(σz − σ²/2) with σ = 0.3 at 10 µS (clipping needs
    /// |z| > 7.5). E[g'] = g, with SE g·√(exp(σ²) − 1)/√n; ln(g'/g) ~ N(−σ²/2, σ²).
    @Test func lognormalIsMeanPreservingWithLogStandardDeviationSigma() {
        let (g, sigma) = (1e-5, 0.3)
        var model = DeviceModel()
        model.variation = ProgrammingVariation(distribution: .lognormal, relativeSigma: sigma)
        let values = model.program([Double](repeating: g, count: n), seed: 2, key: [0]).atReadTime
        let N = Double(n)
        #expect(abs(meanAndStandardDeviation(values).mean - g) <= 5 * g * (exp(sigma * sigma) - 1).squareRoot() / N.squareRoot())
        let (logMean, logStd) = meanAndStandardDeviation(values.map { log($0 / g) })
        #expect(abs(logMean + sigma * sigma / 2) <= 5 * sigma / N.squareRoot())
        #expect(abs(logStd - sigma) <= 5 * sigma / (2 * N).squareRoot())
        #expect(values.allSatisfy { $0 > 0 })
    }

    /// Near gMax with σ = 1, about half the draws leave the window and are clipped to gMax exactly.
    @Test func resultsAreClippedToTheWindow() {
        var model = DeviceModel()
        model.variation.relativeSigma = 1
        let values = model.program([Double](repeating: 9.9e-5, count: 10_000), seed: 3, key: []).atReadTime
        #expect(values.allSatisfy { $0 >= 1e-6 && $0 <= 1e-4 })
        #expect(values.contains(1e-4) && values.contains(1e-6))
    }
}

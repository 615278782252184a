import Foundation
import Testing
@testable import XbarSimDevice

struct GaussianTableTests {
    @Test func quantilesMatchKnownValues() {
        // Standard normal quantiles (tables): Φ⁻¹(0.975) = 1.959963985, Φ⁻¹(0.001) = −3.090232306.
        #expect(abs(GaussianTable.inverseNormalCDF(0.975) - 1.959963985) < 1e-8)
        #expect(abs(GaussianTable.inverseNormalCDF(0.001) + 3.090232306) < 1e-8)
        #expect(abs(GaussianTable.inverseNormalCDF(0.5)) < 1e-12)
    }

    @Test func tableHasUnitVarianceZeroMeanAndNormalKurtosis() {
        let t = GaussianTable.values.map(Double.init)
        let n = Double(t.count)
        let mean = t.reduce(0, +) / n
        let variance = t.reduce(0) { $0 + $1 * $1 } / n
        let fourth = t.reduce(0) { $0 + $1 * $1 * $1 * $1 } / n
        #expect(abs(mean) < 1e-7)
        #expect(abs(variance - 1) < 1e-6)
        #expect(abs(fourth - 3) < 0.006)     // truncation at 4.33σ removes ~0.2 % of E[z⁴]
        #expect((t.max() ?? 0) < 4.4 && (t.max() ?? 0) > 4.2)
    }

    @Test func samplesHaveTheRequestedSpreadAndAreReproducible() {
        var a = RandomStream(seed: 5, key: [1, 2])
        var b = RandomStream(seed: 5, key: [1, 2])
        let n = 100_003
        var x = [Float](repeating: 0, count: n)
        var y = [Float](repeating: 0, count: n)
        x.withUnsafeMutableBufferPointer { a.fillGaussianFromTable($0, standardDeviation: 2) }
        y.withUnsafeMutableBufferPointer { b.fillGaussianFromTable($0, standardDeviation: 2) }
        #expect(x == y)
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n) - mean * mean
        // 5 standard errors: mean 5·2/√n = 0.032; variance 5·4·√(2/n) = 0.089.
        #expect(abs(mean) < 0.032)
        #expect(abs(variance - 4) < 0.089)
        // P(|z| > 2) = 0.0455 for a normal; binomial standard error √(p(1−p)/n) = 0.00066.
        let tail = Double(x.filter { abs($0) > 4 }.count) / Double(n)
        #expect(abs(tail - 0.0455) < 5 * 0.00066)
    }
}

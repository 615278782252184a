import Foundation
import Testing
import XbarSimDevice

struct DriftTests {
    /// G(t) = G·(t/t0)^(−ν) for a fixed ν, against Foundation's `pow`: exact at t = t0, and
    /// G·10^(−ν) at t = 10·t0 (to 10⁻¹⁴ relative: `apply` uses exp(−ν·ln(t/t0))).
    @Test(arguments: [0.0, 0.031, 0.1])
    func powerLawForFixedNu(nu: Double) {
        let g = 4.2e-5
        #expect(Drift(timeSeconds: 20, nuMean: nu).apply(g, nu: nu) == g)
        #expect(Drift(timeSeconds: nil).apply(g, nu: nu) == g)
        let later = Drift(timeSeconds: 200, nuMean: nu).apply(g, nu: nu)
        #expect(abs(later / (g * pow(10, -nu)) - 1) <= 1e-14)
        let day = Drift(timeSeconds: 86_400, referenceTimeSeconds: 20).apply(g, nu: nu)
        #expect(abs(day / (g * pow(86_400.0 / 20, -nu)) - 1) <= 1e-14)
    }

    /// ν ~ N(0.06, 0.01²) clipped at 0 (6σ away: no effect): mean within 5·0.01/√n, std within
    /// 0.01·(1 ± 5/√(2n)).
    @Test func drawnNuHasMeanAndSigma() {
        let drift = Drift(timeSeconds: 1000, nuMean: 0.06, nuSigma: 0.01)
        var rng = RandomStream(seed: 8, StreamPurpose.drift.rawValue)
        let n = 100_000
        let (mean, std) = meanAndStandardDeviation((0..<n).map { _ in drift.drawNu(using: &rng) })
        #expect(abs(mean - 0.06) <= 5 * 0.01 / Double(n).squareRoot())
        #expect(abs(std / 0.01 - 1) <= 5 / (2 * Double(n)).squareRoot())
    }

    /// Through `program`: each device's exponent, recovered as ν = −ln(G(t)/G(t0))/ln(t/t0), is
    /// N(0.01, 0.02²) clipped at 0, so a fraction Φ(−0.5) of devices has ν = 0 exactly
    /// (binomial tolerance); the unclipped ones have mean and std of the truncated normal
    /// (closed forms below) within 5 standard errors.
    @Test func programmedExponentsFollowClippedNormal() {
        let (mu, sigma, n) = (0.01, 0.02, 100_000)
        var model = DeviceModel()
        model.drift = Drift(timeSeconds: 2e5, nuMean: mu, nuSigma: sigma)
        let targets = (0..<n).map { 1e-5 + Double($0 % 97) * 9e-7 }
        let (g, fresh) = model.program(targets, seed: 9, key: [3])
        #expect(fresh == targets)
        let nus = (0..<n).map { -log(g[$0] / fresh[$0]) / log(2e5 / 20) }
        let N = Double(n)
        let p0 = standardNormalCDF(-mu / sigma)
        let zeros = Double(nus.filter { $0 == 0 }.count)
        #expect(abs(zeros / N - p0) <= 5 * (p0 * (1 - p0) / N).squareRoot())
        // ν | ν > 0 is N(μ, σ²) truncated at a = −μ/σ: mean μ + σλ, var σ²(1 + aλ − λ²), λ = φ(a)/(1 − Φ(a)).
        let a = -mu / sigma
        let lambda = exp(-a * a / 2) / (2 * Double.pi).squareRoot() / (1 - standardNormalCDF(a))
        let truncatedStd = sigma * (1 + a * lambda - lambda * lambda).squareRoot()
        let positive = nus.filter { $0 > 0 }
        let (mean, std) = meanAndStandardDeviation(positive)
        let m = Double(positive.count)
        #expect(abs(mean - (mu + sigma * lambda)) <= 5 * truncatedStd / m.squareRoot())
        // SE(std)/std ≈ √((κ − 1)/4m), with kurtosis κ = 3.373 for this truncation
        // (scipy.stats.truncnorm(−0.5, ∞)): about 0.29 % at m ≈ 69 000.
        #expect(abs(std / truncatedStd - 1) <= 5 * ((3.373 - 1) / (4 * m)).squareRoot())
    }

    /// Hand example: Σ before = 6, Σ after = 3 (zeros: no device) → factor 2.
    @Test func globalCompensationFactor() {
        #expect(Drift.globalCompensationFactor(before: [1, 2, 3, 0], after: [0.5, 1, 1.5, 0]) == 2)
        #expect(Drift.globalCompensationFactor(before: [1e-5, 2e-5], after: [1e-5, 2e-5]) == 1)
        #expect(Drift.globalCompensationFactor(before: [0, 0], after: [0, 0]) == 1)
    }

    /// With a fixed ν and no stuck devices, every device drifts by the same factor, so the
    /// compensation factor from `program`'s two arrays is exactly (t/t0)^ν (to rounding).
    @Test func compensationUndoesUniformDrift() {
        var model = DeviceModel()
        model.drift = Drift(timeSeconds: 2000, nuMean: 0.05, compensation: .global)
        let (g, fresh) = model.program([1e-5, 0, 5e-5, 7e-5], seed: 0, key: [])
        let factor = Drift.globalCompensationFactor(before: fresh, after: g)
        #expect(abs(factor / pow(100, 0.05) - 1) <= 1e-14)
    }

    @Test func noDriftWithoutReadTime() {
        var model = DeviceModel()
        model.drift.nuMean = 0.1
        model.drift.nuSigma = 0.05
        let targets = [1e-5, 2e-5, 0]
        let (g, fresh) = model.program(targets, seed: 0, key: [])
        #expect(g == targets && fresh == targets)
    }
}

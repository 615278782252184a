import Foundation
import Testing
import XbarSimDevice

struct ReadNoiseTests {
    /// One read: g(1 + σz). With n = 10⁵, mean within 5σg/√n and std/g within σ(1 ± 5/√(2n)).
    @Test func sampleHasRelativeStandardDeviationSigma() {
        let (g, sigma, n) = (5e-5, 0.05, 100_000)
        let noise = ReadNoise(relativeSigma: sigma)
        var rng = RandomStream(seed: 4, StreamPurpose.readNoise.rawValue)
        let (mean, std) = meanAndStandardDeviation((0..<n).map { _ in noise.sample(g, using: &rng) })
        #expect(abs(mean - g) <= 5 * sigma * g / Double(n).squareRoot())
        #expect(abs(std / g - sigma) <= 5 * sigma / (2 * Double(n)).squareRoot())
    }

    /// Hand example: x = (1, 2), g = (3, 4)·10⁻⁵ S, s = 10⁻⁵ S/unit, σ = 0.1:
    /// std = 0.1·√(3² + 8²) = 0.1·√73.
    @Test func outputStandardDeviationHandExample() {
        let std = ReadNoise(relativeSigma: 0.1).outputStandardDeviation(
            inputs: [1, 2], conductances: [3e-5, 4e-5], scale: 1e-5)
        #expect(abs(std - 0.1 * 73.0.squareRoot()) <= 1e-12)
        #expect(ReadNoise().outputStandardDeviation(inputs: [1], conductances: [1e-5], scale: 1e-5) == 0)
    }

    /// The closed form against brute force: M = 20 000 reads of y = Σ x_i·g_i(1 + σz_i)/s with
    /// a fresh draw per device. The sample std of y is within 5/√(2M) ≈ 2.5 % of the closed form,
    /// and the sample mean within 5·std/√M of the noiseless Σ x_i·g_i/s.
    @Test func outputStandardDeviationMatchesMonteCarlo() {
        let inputs = (0..<16).map { Double($0 % 5) - 1.5 }
        let conductances = (0..<16).map { 1e-6 + Double(($0 * 7) % 16) * 6e-6 }
        let (scale, sigma, m) = (2e-5, 0.08, 20_000)
        let noise = ReadNoise(relativeSigma: sigma)
        var rng = RandomStream(seed: 5)
        var ys = [Double](repeating: 0, count: m)
        for t in 0..<m {
            var y = 0.0
            for i in inputs.indices { y += inputs[i] * noise.sample(conductances[i], using: &rng) / scale }
            ys[t] = y
        }
        let expected = noise.outputStandardDeviation(inputs: inputs, conductances: conductances, scale: scale)
        let (mean, std) = meanAndStandardDeviation(ys)
        var ideal = 0.0
        for i in inputs.indices { ideal += inputs[i] * conductances[i] / scale }
        #expect(abs(std / expected - 1) <= 5 / (2 * Double(m)).squareRoot())
        #expect(abs(mean - ideal) <= 5 * expected / Double(m).squareRoot())
    }
}

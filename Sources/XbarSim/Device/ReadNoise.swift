import Foundation

/// Cycle-to-cycle read noise: every read of a device sees `g_read = g·(1 + σ·z)`, with a
/// fresh `z ~ N(0, 1)` per device and read (`--read-noise` sets σ). Not clipped.
///
/// The crossbar engine never draws per device. An output `y = Σ_i x_i·g_i/s` read with
/// independent device noise is
///
///     y_read = y + ε,   ε ~ N(0, σ²·Σ_i x_i²·g_i² / s²)
///
/// exactly (a sum of independent Gaussians), so the engine computes the variance with a
/// second GEMM on the squared inputs and draws one normal per output.
/// `outputStandardDeviation(inputs:conductances:scale:)` is the closed form, for tests.
/// `validate()` checks `σ >= 0`, finite.
public struct ReadNoise: Sendable, Hashable, Codable {
    /// σ, as a fraction of the device's conductance.
    public var relativeSigma: Double = 0

    public init(relativeSigma: Double = 0) {
        self.relativeSigma = relativeSigma
    }

    /// One noisy read of a device at conductance `g`: `g·(1 + σ·z)` (for tests and SPICE).
    public func sample(_ g: Double, using rng: inout RandomStream) -> Double {
        g * (1 + relativeSigma * rng.nextGaussian())
    }

    /// Standard deviation of `Σ_i x_i·g_i(1 + σ·z_i)/s`: `σ·√(Σ_i x_i²·g_i²) / s`.
    ///
    /// - Parameters:
    ///   - inputs: `x_i` (any unit; the result is in the unit of `y`).
    ///   - conductances: `g_i`, siemens, same count as `inputs`.
    ///   - scale: `s`, siemens per unit of `y`.
    public func outputStandardDeviation(inputs: [Double], conductances: [Double], scale: Double) -> Double {
        precondition(inputs.count == conductances.count)
        var sum = 0.0
        for i in inputs.indices {
            let t = inputs[i] * conductances[i]
            sum += t * t
        }
        return relativeSigma * sum.squareRoot() / scale
    }

    public func validate() throws(DeviceParameterError) {
        try requireNonNegative(relativeSigma, "--read-noise")
    }
}

import Foundation

/// Device-to-device programming error: the conductance a device ends up at after a
/// write-verify cycle differs from its target. Drawn once per device per programmed chip.
///
/// With `z ~ N(0, 1)` and `σ = relativeSigma`:
///
/// - `gaussian`:  `g' = g·(1 + σ·z)` (mean g, standard deviation σ·g);
/// - `lognormal`: `g' = g·exp(σ·z − σ²/2)`, mean-preserving since `E[exp(σz)] = exp(σ²/2)`;
///   `ln g'` has standard deviation σ, and g' stays positive.
///
/// The result is clipped to the `ConductanceWindow` (a device cannot leave its window).
/// `validate()` checks `σ >= 0`, finite (`--variation`).
public struct ProgrammingVariation: Sendable, Hashable, Codable {
    public enum Distribution: String, Sendable, Hashable, Codable, CaseIterable {
        case gaussian, lognormal
    }

    public var distribution: Distribution = .gaussian
    /// σ, as a fraction of the target conductance (`--variation`). 0: exact programming.
    public var relativeSigma: Double = 0

    public init(distribution: Distribution = .gaussian, relativeSigma: Double = 0) {
        self.distribution = distribution
        self.relativeSigma = relativeSigma
    }

    /// The programmed conductance for target `g` (siemens), drawing one normal from `rng`.
    public func apply(_ g: Double, window: ConductanceWindow, using rng: inout RandomStream) -> Double {
        apply(g, window: window, z: rng.nextGaussian())
    }

    /// The programmed conductance for target `g` given the standard normal draw `z`.
    @inline(__always)
    func apply(_ g: Double, window: ConductanceWindow, z: Double) -> Double {
        let sigma = relativeSigma
        switch distribution {
        case .gaussian: return window.clip(g * (1 + sigma * z))
        case .lognormal: return window.clip(g * exp(sigma * z - 0.5 * sigma * sigma))
        }
    }

    public func validate() throws(DeviceParameterError) {
        try requireNonNegative(relativeSigma, "--variation")
    }
}

/// Write-verify (program-and-verify) programming (`--write-verify N`,
/// `--write-verify-tolerance T`): after the first programming pulse, up to `N` rounds of
/// "read the device, re-program it if the read is outside the tolerance band".
///
/// Model (per device with level-rounded target `q`, programming variation `σ_p`, read noise `σ_r`):
///
/// - round 0 (plain programming): `g₀ = clip(q·(1 + σ_p·z₀))`, as without write-verify;
/// - round `k = 1 … N`, only for devices not yet accepted: a verify read
///   `ĝ_k = g_{k−1}·(1 + σ_r·ε_k)`; if `|ĝ_k − q| ≤ T·q` the device is accepted and never
///   touched again, otherwise it is re-programmed with a fresh draw,
///   `g_k = clip(q·(1 + σ_p·z_k))` (one more program pulse).
///
/// Each re-programming is an independent draw from the same variation distribution around the
/// target: the "re-program until within tolerance" scheme of Alibart et al., *High precision
/// tuning of state for memristive devices by adaptable variation-tolerant algorithm*,
/// Nanotechnology 23, 075201 (2012), and the iterative program-and-verify of multilevel PCM
/// (Papandreou et al., *Programming algorithms for multilevel phase-change memory*, ISCAS 2011),
/// reduced to its statistics. Without read noise a device is outside the band after `N` rounds
/// with probability `p^(N+1)`, `p = P(|σ_p·z| > T)` (`= erfc(T/(σ_p·√2))` for the Gaussian
/// variation); with read noise the decisions are made on noisy reads, so the error saturates at
/// a floor set by `σ_r` and `T`.
///
/// Stuck devices do not move: they are read and pulsed every round (they fail the verify
/// unless their stuck value is inside the band), which costs pulses but changes nothing.
/// Drift acts after programming, on the final value.
///
/// Random draws: `z_k` and `ε_k` of device `i` are draw `i` of the streams
/// `key + [writeVerify, k, programming]` and `key + [writeVerify, k, readNoise]`, drawn for
/// every device whether it is read or not, so results depend only on `(seed, key, i)`.
public struct WriteVerify: Sendable, Hashable, Codable {
    /// Verify rounds after the first programming; 0 is plain programming (bit-identical).
    public var iterations: Int = 0
    /// Relative half-width `T` of the acceptance band, `|ĝ − q| ≤ T·q`.
    public var tolerance: Double = 0.02

    public init(iterations: Int = 0, tolerance: Double = 0.02) {
        self.iterations = iterations
        self.tolerance = tolerance
    }

    /// The largest number of rounds accepted (`--write-verify`).
    public static let maxIterations = 64

    public var isActive: Bool { iterations > 0 }

    public func validate() throws(DeviceParameterError) {
        guard iterations >= 0, iterations <= Self.maxIterations else {
            throw DeviceParameterError(
                parameter: "--write-verify", message: "must be in 0...\(Self.maxIterations) rounds, got \(iterations)")
        }
        guard tolerance.isFinite, tolerance > 0, tolerance <= 1 else {
            throw DeviceParameterError(
                parameter: "--write-verify-tolerance", message: "must be in (0, 1] (relative band), got \(tolerance)")
        }
    }
}

/// What write-verify cost one crossbar (or a whole chip, summed): program pulses, first
/// programming included, and verify reads.
public struct ProgrammingCounts: Sendable, Hashable, Codable {
    /// Program pulses: one per device for the first programming, plus one per re-programming.
    public var programPulses: Int = 0
    /// Verify reads.
    public var verifyReads: Int = 0
    /// Devices outside the band `|g − q| > T·q` after the last round (measured on the true,
    /// not the read, conductance, before drift).
    public var devicesOutsideTolerance: Int = 0
    /// Devices programmed (non-zero targets).
    public var devices: Int = 0

    public init(programPulses: Int = 0, verifyReads: Int = 0, devicesOutsideTolerance: Int = 0, devices: Int = 0) {
        self.programPulses = programPulses
        self.verifyReads = verifyReads
        self.devicesOutsideTolerance = devicesOutsideTolerance
        self.devices = devices
    }

    public static func + (a: Self, b: Self) -> Self {
        ProgrammingCounts(programPulses: a.programPulses + b.programPulses, verifyReads: a.verifyReads + b.verifyReads,
                          devicesOutsideTolerance: a.devicesOutsideTolerance + b.devicesOutsideTolerance,
                          devices: a.devices + b.devices)
    }
}

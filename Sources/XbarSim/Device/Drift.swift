import Foundation

/// Conductance drift (PCM-like power law), read at `timeSeconds` after programming:
///
///     G(t) = G(t0)·(t/t0)^(−ν)
///
/// with `t0 = referenceTimeSeconds`, the time the programmed value refers to (20 s, the `t_0`
/// of aihwkit's `PCMLikeNoiseModel`, `src/aihwkit/inference/noise/pcm.py`; there the read time
/// is `t_inference + t0`, here `timeSeconds` counts from programming). Each device has its own
/// exponent, drawn once per chip: `ν = max(0, nuMean + nuSigma·z)`, `z ~ N(0, 1)` (clipping at
/// 0 shifts the mean of ν only when nuSigma is comparable to nuMean; aihwkit takes |·| instead).
/// For scale: aihwkit's PCM fit has mean ν in 0.049 ... 0.1 and σ_ν in 0.008 ... 0.045.
///
/// `validate()` checks `t >= t0 > 0` (when `timeSeconds` is set), `nuMean >= 0` and
/// `nuSigma >= 0`, all finite.
///
/// ### See Also
/// `DriftCompensation`, `Drift.globalCompensationFactor(before:after:)`.
public struct Drift: Sendable, Hashable, Codable {
    /// Read time after programming, in seconds (`--drift-time`); nil: no drift (read at t0).
    public var timeSeconds: Double? = nil
    /// t0, in seconds: the time at which the programmed conductance is reached.
    public var referenceTimeSeconds: Double = 20
    /// Mean of the drift exponent ν (`--drift-nu`), dimensionless.
    public var nuMean: Double = 0
    /// Device-to-device standard deviation of ν (`--drift-nu-sigma`).
    public var nuSigma: Double = 0
    public var compensation: DriftCompensation = .none

    public init(
        timeSeconds: Double? = nil, referenceTimeSeconds: Double = 20, nuMean: Double = 0,
        nuSigma: Double = 0, compensation: DriftCompensation = .none
    ) {
        self.timeSeconds = timeSeconds
        self.referenceTimeSeconds = referenceTimeSeconds
        self.nuMean = nuMean
        self.nuSigma = nuSigma
        self.compensation = compensation
    }

    /// Whether reading at `timeSeconds` can change any conductance.
    public var isActive: Bool {
        guard let t = timeSeconds else { return false }
        return t != referenceTimeSeconds && (nuMean > 0 || nuSigma > 0)
    }

    /// `ln(t/t0)`; 0 without drift.
    var logTimeRatio: Double {
        guard let t = timeSeconds else { return 0 }
        return log(t / referenceTimeSeconds)
    }

    /// One device's exponent: `max(0, nuMean + nuSigma·z)`.
    public func drawNu(using rng: inout RandomStream) -> Double {
        nu(z: rng.nextGaussian())
    }

    @inline(__always)
    func nu(z: Double) -> Double { max(0, nuMean + nuSigma * z) }

    /// `G(t) = g·(t/t0)^(−ν)` for a device programmed to `g` (siemens); `g` when
    /// `timeSeconds` is nil. Computed as `g·exp(−ν·ln(t/t0))`, as in `DeviceModel.program`.
    public func apply(_ g: Double, nu: Double) -> Double {
        g * exp(-nu * logTimeRatio)
    }

    /// The global compensation factor `Σ G(t0) / Σ G(t)`: the drift an all-ones read of
    /// the crossbar sees, which the engine divides out of every output of that crossbar.
    /// 1 when `Σ G(t)` is 0.
    public static func globalCompensationFactor(before: [Double], after: [Double]) -> Double {
        precondition(before.count == after.count)
        let sumAfter = after.reduce(0, +)
        return sumAfter > 0 ? before.reduce(0, +) / sumAfter : 1
    }

    /// Per-column compensation factors `c_o = Σ_r G_or(t0) / Σ_r G_or(t)` over the devices of
    /// each output column `o` (every array `outputs x rows`, row-major; several arrays, e.g. the
    /// `G⁺` and `G⁻` halves, are summed together): the drift a reference read of each column sees.
    /// 1 for a column whose `Σ G(t)` is 0.
    public static func columnCompensationFactors(
        before: [[Double]], after: [[Double]], outputs: Int, rows: Int
    ) -> [Double] {
        precondition(before.count == after.count)
        var factors = [Double](repeating: 1, count: outputs)
        for o in 0..<outputs {
            var sumBefore = 0.0, sumAfter = 0.0
            for (b, a) in zip(before, after) {
                precondition(b.count == outputs * rows && a.count == outputs * rows)
                for r in 0..<rows {
                    sumBefore += b[o * rows + r]
                    sumAfter += a[o * rows + r]
                }
            }
            if sumAfter > 0 { factors[o] = sumBefore / sumAfter }
        }
        return factors
    }

    public func validate() throws(DeviceParameterError) {
        guard referenceTimeSeconds.isFinite, referenceTimeSeconds > 0 else {
            throw DeviceParameterError(
                parameter: "--drift-time",
                message: "the reference time t0 must be finite and > 0 s, got \(referenceTimeSeconds) s")
        }
        if let t = timeSeconds {
            guard t.isFinite, t >= referenceTimeSeconds else {
                throw DeviceParameterError(
                    parameter: "--drift-time",
                    message: "must be finite and >= the reference time t0 = \(referenceTimeSeconds) s, got \(t) s")
            }
        }
        try requireNonNegative(nuMean, "--drift-nu")
        try requireNonNegative(nuSigma, "--drift-nu-sigma")
    }
}

/// How the engine corrects drift at read time.
public enum DriftCompensation: String, Sendable, Hashable, Codable, CaseIterable {
    /// Outputs carry the drift.
    case none
    /// Each crossbar's outputs are multiplied by `Σ G(t0) / Σ G(t)` over its devices
    /// (`Drift.globalCompensationFactor(before:after:)`), as aihwkit's global drift
    /// compensation does with a reference read.
    case global
    /// Each output column's outputs are multiplied by its own `Σ G(t0) / Σ G(t)` over that
    /// column's devices (`Drift.columnCompensationFactors`): one reference read per column,
    /// the gain correction a chip applies per TIA.
    case column
}

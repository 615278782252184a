/// Devices stuck at one end of the window and unaffected by programming: a fraction is
/// stuck on (at exactly gMax, `--stuck-on`), another stuck off (at exactly gMin, `--stuck-off`).
/// Stuck devices do not drift. Each device's state is drawn once per chip.
///
/// `validate()` checks both fractions in [0, 1] and their sum `<= 1`.
public struct StuckFaults: Sendable, Hashable, Codable {
    /// Probability that a device is stuck at gMax.
    public var stuckOnFraction: Double = 0
    /// Probability that a device is stuck at gMin.
    public var stuckOffFraction: Double = 0

    public init(stuckOnFraction: Double = 0, stuckOffFraction: Double = 0) {
        self.stuckOnFraction = stuckOnFraction
        self.stuckOffFraction = stuckOffFraction
    }

    /// Whether any device can be stuck.
    public var isActive: Bool { stuckOnFraction > 0 || stuckOffFraction > 0 }

    /// One device's state from one uniform draw `u` in [0, 1):
    /// `u < p_on` → stuck on, `u < p_on + p_off` → stuck off, else programmable.
    public func draw(using rng: inout RandomStream) -> DeviceState {
        state(forUniform: rng.nextUniform())
    }

    @inline(__always)
    func state(forUniform u: Double) -> DeviceState {
        if u < stuckOnFraction { return .stuckOn }
        if u < stuckOnFraction + stuckOffFraction { return .stuckOff }
        return .programmable
    }

    public func validate() throws(DeviceParameterError) {
        for (flag, p) in [("--stuck-on", stuckOnFraction), ("--stuck-off", stuckOffFraction)] {
            guard (0...1).contains(p) else {  // also rejects NaN
                throw DeviceParameterError(parameter: flag, message: "must be in [0, 1], got \(p)")
            }
        }
        guard stuckOnFraction + stuckOffFraction <= 1 else {
            throw DeviceParameterError(
                parameter: "--stuck-off",
                message: "--stuck-on + --stuck-off must be <= 1, got \(stuckOnFraction) + \(stuckOffFraction)")
        }
    }
}

/// What programming does to one device.
public enum DeviceState: Sendable, Hashable, Codable {
    /// Follows its target (with levels, variation and drift).
    case programmable
    /// Sits at exactly gMax.
    case stuckOn
    /// Sits at exactly gMin.
    case stuckOff
}

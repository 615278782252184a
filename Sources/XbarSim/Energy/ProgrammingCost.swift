import XbarSimDevice

/// Energy and time of programming a chip's devices with write-verify (`--write-verify N`):
/// program pulses and verify reads (`ProgrammingCounts`), a one-off cost per chip, not per image.
///
///     E = pulses·E_pulse + reads·E_read,   t = pulses·t_pulse + reads·t_read
///
/// `t` is serial (one device at a time), an upper bound: a chip programs many crossbars, and a
/// crossbar can verify a whole row at once. Defaults: a SET/RESET pulse of about 2 V at 50 µA for
/// 100 ns (10 pJ, 100 ns; RRAM pulses in program-and-verify schemes are 10-100 ns at 1-3 V, e.g.
/// Alibart et al., Nanotechnology 23, 075201, 2012) and a verify read of 0.2 V across at most
/// 100 µS for 100 ns plus its sense amplifier (1 pJ, 100 ns). Assumptions, not measurements.
public struct ProgrammingCostModel: Sendable, Hashable, Codable {
    public var pulseEnergyJoules = 10e-12
    public var pulseSeconds = 100e-9
    public var verifyReadEnergyJoules = 1e-12
    public var verifyReadSeconds = 100e-9

    public init() {}

    public func cost(_ counts: ProgrammingCounts) -> ProgrammingCost {
        ProgrammingCost(
            programPulses: counts.programPulses, verifyReads: counts.verifyReads, devices: counts.devices,
            devicesOutsideTolerance: counts.devicesOutsideTolerance,
            energyJoules: Double(counts.programPulses) * pulseEnergyJoules + Double(counts.verifyReads) * verifyReadEnergyJoules,
            serialSeconds: Double(counts.programPulses) * pulseSeconds + Double(counts.verifyReads) * verifyReadSeconds)
    }
}

/// What programming one chip cost (`ProgrammingCostModel.cost`).
public struct ProgrammingCost: Sendable, Hashable, Codable {
    public var programPulses: Int
    public var verifyReads: Int
    public var devices: Int
    public var devicesOutsideTolerance: Int
    public var energyJoules: Double
    public var serialSeconds: Double
}

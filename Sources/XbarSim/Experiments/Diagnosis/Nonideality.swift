import XbarSimAnalog
import XbarSimCircuit
import XbarSimCrossbar
import XbarSimDevice

/// One group of a chip's non-idealities, switched on alone over the ideal chip by
/// `xbarsim diagnose`'s attribution (`Diagnosis`).
///
/// The groups partition every parameter that makes a chip differ from the float network;
/// what stays in the ideal chip (`AnalogConfig.withoutNonidealities`) is structure that an
/// ideal chip computes exactly: mapping scheme, scaling, tiles, mode, headroom, `G_max`,
/// input voltage, pooling conductance, fault scope, digital ops and calibration images.
public enum Nonideality: String, Sendable, Hashable, CaseIterable, Codable {
    /// `G_min > 0` (`--g-min`): targets below `G_min/2` get no device, the others up to `G_min` round to it.
    case window
    /// Programmable levels (`--levels`), uniform in `[0, G_max]` when alone.
    case levels
    /// Programming variation (`--variation`, `--variation-distribution`).
    case variation
    /// Read noise (`--read-noise`).
    case readNoise = "read-noise"
    /// Stuck-on/off devices (`--stuck-on`, `--stuck-off`, in `--stuck-scope`).
    case stuck
    /// Conductance drift and its compensation (`--drift-*`).
    case drift
    /// Wire and driver resistances with their solver (`--wire-resistance`, `--ir-drop`, ...).
    case irDrop = "ir-drop"
    /// DAC and ADC resolution (`--dac-bits`, `--adc-bits`): the network input's DAC, digital
    /// periphery and, in digitized mode, every crossbar.
    case converters
    /// Op-amp rails and finite open-loop gain (`--rail`, `--opamp-gain`).
    case opAmp = "op-amp"
    /// Offsets and gain errors of the analog modules (`--limiter-offset`,
    /// `--multiplier-gain-error`, `--maxpool-offset`) and the ReLU output limiter (`--relu-limit`).
    case circuits

    /// `ideal` with this group's parameters taken from `full`.
    public func switchOn(from full: AnalogConfig, in ideal: AnalogConfig) -> AnalogConfig {
        var c = ideal
        switch self {
        case .window: c.device.window = full.device.window
        case .levels: c.device.levels = full.device.levels
        case .variation: c.device.variation = full.device.variation
        case .readNoise: c.device.readNoise = full.device.readNoise
        case .stuck:
            c.device.stuck = full.device.stuck
            c.faultScope = full.faultScope
        case .drift: c.device.drift = full.device.drift
        case .irDrop: c.circuit = full.circuit
        case .converters:
            c.periphery.dac = full.periphery.dac
            c.periphery.adc = full.periphery.adc
        case .opAmp: c.periphery.opAmp = full.periphery.opAmp
        case .circuits:
            c.periphery.limiterOffsetVolts = full.periphery.limiterOffsetVolts
            c.periphery.multiplierGainError = full.periphery.multiplierGainError
            c.periphery.maxPoolOffsetVolts = full.periphery.maxPoolOffsetVolts
            c.periphery.reluLimitVolts = full.periphery.reluLimitVolts
        }
        return c
    }

    /// Whether `full` has this group switched on (it differs from its ideal chip there).
    public func isActive(in full: AnalogConfig) -> Bool {
        let ideal = full.withoutNonidealities
        return switchOn(from: full, in: ideal) != ideal
    }
}

extension AnalogConfig {
    /// This chip with every `Nonideality` off: continuous devices in `[0, G_max]` without
    /// variation, read noise, faults or drift, ideal wires, converters and op-amps, and exact
    /// analog modules. Everything else (mapping, scaling, tiles, mode, ...) is kept, so the
    /// chip computes the float network up to rounding.
    public var withoutNonidealities: AnalogConfig {
        var c = self
        c.device.window = ConductanceWindow(gMinSiemens: 0, gMaxSiemens: device.window.gMaxSiemens)
        c.device.levels = .continuous
        c.device.variation.relativeSigma = 0
        c.device.readNoise = ReadNoise()
        c.device.stuck = StuckFaults()
        c.device.drift = Drift()
        c.circuit.wires = .ideal
        c.circuit.irDrop = .off
        c.periphery.dac = DAC()
        c.periphery.adc = ADC()
        c.periphery.opAmp = .ideal
        c.periphery.limiterOffsetVolts = 0
        c.periphery.multiplierGainError = 0
        c.periphery.maxPoolOffsetVolts = 0
        c.periphery.reluLimitVolts = nil
        return c
    }
}

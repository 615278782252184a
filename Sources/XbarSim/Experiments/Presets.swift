import XbarSimAnalog
import XbarSimCrossbar
import XbarSimDevice

/// Named starting points for a simulated chip; explicit parameters override them.
public enum Preset: String, Sendable, CaseIterable, Codable {
    /// Ideal devices and periphery: continuous conductances, no noise, no faults,
    /// unlimited rails, infinite op-amp gain. Reproduces the float network.
    case ideal
    /// The reference design as its netlist generator builds it: conductance equals the
    /// weight in siemens (R = 1/|w|), zero weights get no device, inputs mapped to
    /// ±2.5 mV, op-amps as ideal VCVS with gain 1e8, unlimited tiles.
    case paper
    /// A realistic RRAM chip (values and sources in docs/devices.md).
    case rram

    public var config: AnalogConfig {
        var c = AnalogConfig()
        switch self {
        case .ideal:
            c.device = .ideal
            // G_min = 0: every weight, however small, is representable (no sub-G_min rounding).
            c.device.window = ConductanceWindow(gMinSiemens: 0, gMaxSiemens: 100e-6)
        case .paper:
            c.device = .ideal
            c.device.window = ConductanceWindow(gMinSiemens: 0, gMaxSiemens: 1e3)
            c.scaling = .fixed(siemensPerUnit: 1)
            c.periphery.inputVoltageVolts = 2.5e-3
            c.periphery.opAmp = OpAmp(railVolts: nil, openLoopGain: 1e8)
        case .rram:
            c.device.window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
            c.device.levels = .uniform(count: 64)
            c.device.variation = ProgrammingVariation(distribution: .gaussian, relativeSigma: 0.05)
            c.device.readNoise = ReadNoise(relativeSigma: 0.02)
            c.device.stuck = StuckFaults(stuckOnFraction: 0.001, stuckOffFraction: 0.005)
            // Faults left in the weight arrays only: the BN stages' few thousand devices
            // are assumed tested and rebuilt from spares (docs/devices.md, "Stuck faults").
            c.faultScope = .weights
            c.device.drift = Drift(timeSeconds: 3600, referenceTimeSeconds: 20, nuMean: 0.005, nuSigma: 0.002,
                                   compensation: .global)
            c.scaling = .perColumn
            // 10 % headroom (2σ of the variation): per-column scaling puts every column's
            // largest weight, and every BN-stage device, at the top of the window otherwise.
            c.mappingHeadroom = 0.1
            c.tile = TileSize(rows: 128, columns: 128)
            c.periphery.inputVoltageVolts = 0.1
            c.periphery.opAmp = OpAmp(railVolts: 1.5, openLoopGain: 1e4)
            c.periphery.dac = DAC(bits: 8)
            c.periphery.adc = ADC(bits: 8)
        }
        return c
    }
}

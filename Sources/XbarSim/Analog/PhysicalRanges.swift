import XbarSimCircuit
import XbarSimCrossbar
import XbarSimDevice

/// The physically meaningful range of one chip parameter, as documented in `docs/devices.md`
/// (the table "Accepted ranges"). `AnalogConfig.validate()` rejects a value outside it with a
/// message naming the flag, so that an absurd value (`--variation 10`, `--input-voltage 1e308`)
/// fails before any work instead of running to chance accuracy, or (`--read-noise 1e308`,
/// whose variance `σ²G²` overflows to infinity and then to NaN in the noise kernels) silently
/// turning a non-ideality off.
public struct PhysicalRange: Sendable {
    /// The flag, e.g. `"--read-noise"`.
    public var flag: String
    public var low: Double
    public var high: Double
    /// Unit as written in messages and the docs (`""` for dimensionless).
    public var unit: String
    /// What the bounds stand for, in a few words.
    public var reason: String
    /// The value in `config`; nil when the parameter is off (0 / ideal / unlimited), which is
    /// always accepted.
    public var value: @Sendable (AnalogConfig) -> Double?

    public func check(_ config: AnalogConfig) throws(DeviceParameterError) {
        guard let v = value(config) else { return }
        guard v.isFinite, v >= low, v <= high else {  // also rejects NaN
            let u = unit.isEmpty ? "" : " \(unit)"
            throw DeviceParameterError(
                parameter: flag,
                message: "must be in \(formatBound(low))...\(formatBound(high))\(u) (\(reason)), got \(v.isFinite ? formatBound(v) : "\(v)")\(u)")
        }
    }
}

private func formatBound(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return "\(x)"
}

extension PhysicalRange {
    /// Every bounded chip parameter, in the order of `docs/devices.md`. Parameters not listed
    /// are bounded elsewhere (`--stuck-on`/`--stuck-off` in [0, 1], `--headroom` 0...10,
    /// converter bits 2...24, `--ir-drop-tolerance` in (0, 1)).
    public static let all: [PhysicalRange] = [
        PhysicalRange(flag: "--g-min", low: 0, high: 1e3, unit: "S", reason: "a device conductance, 0 to 1 kS",
                      value: { $0.device.window.gMinSiemens }),
        PhysicalRange(flag: "--g-max", low: 1e-12, high: 1e3, unit: "S", reason: "a device conductance, 1 pS to 1 kS",
                      value: { $0.device.window.gMaxSiemens }),
        PhysicalRange(flag: "--levels", low: 2, high: 1_048_576, unit: "", reason: "2 to 2^20 programmable levels",
                      value: { c in
                          if case .uniform(let n) = c.device.levels { return Double(n) }
                          return nil
                      }),
        PhysicalRange(flag: "--variation", low: 0, high: 1, unit: "", reason: "relative sigma; 1 = 100 % of the target",
                      value: { $0.device.variation.relativeSigma }),
        PhysicalRange(flag: "--read-noise", low: 0, high: 1, unit: "", reason: "relative sigma; 1 = 100 % of the conductance",
                      value: { $0.device.readNoise.relativeSigma }),
        PhysicalRange(flag: "--drift-time", low: 20, high: 1e10, unit: "s", reason: "from t0 = 20 s to about 300 years",
                      value: { $0.device.drift.timeSeconds }),
        PhysicalRange(flag: "--drift-nu", low: 0, high: 1, unit: "", reason: "drift exponent; measured PCM/RRAM values are below 0.1",
                      value: { $0.device.drift.nuMean }),
        PhysicalRange(flag: "--drift-nu-sigma", low: 0, high: 1, unit: "", reason: "spread of the drift exponent",
                      value: { $0.device.drift.nuSigma }),
        PhysicalRange(flag: "--scaling", low: 1e-12, high: 1e3, unit: "S per unit", reason: "fixed siemens per unit weight",
                      value: { c in
                          if case .fixed(let s) = c.scaling { return s }
                          return nil
                      }),
        PhysicalRange(flag: "--tile", low: 2, high: 65_536, unit: "", reason: "rows and columns of one crossbar, 2 to 65,536",
                      value: { c in c.tile.rows.map { r in Double(max(r, c.tile.columns ?? r)) } }),
        PhysicalRange(flag: "--rail", low: 1e-3, high: 100, unit: "V", reason: "op-amp output rails, 1 mV to 100 V",
                      value: { $0.periphery.opAmp.railVolts }),
        PhysicalRange(flag: "--opamp-gain", low: 1, high: 1e12, unit: "", reason: "open-loop gain, 1 to 1e12 V/V",
                      value: { $0.periphery.opAmp.openLoopGain }),
        PhysicalRange(flag: "--input-voltage", low: 1e-6, high: 10, unit: "V", reason: "read voltage, 1 µV to 10 V",
                      value: { $0.periphery.inputVoltageVolts }),
        PhysicalRange(flag: "--limiter-offset", low: -1, high: 1, unit: "V", reason: "clamp-level error of a diode limiter",
                      value: { $0.periphery.limiterOffsetVolts }),
        PhysicalRange(flag: "--multiplier-gain-error", low: -0.5, high: 0.5, unit: "", reason: "relative gain error, ±50 %",
                      value: { $0.periphery.multiplierGainError }),
        PhysicalRange(flag: "--maxpool-offset", low: -1, high: 1, unit: "V", reason: "output offset of a diode max circuit",
                      value: { $0.periphery.maxPoolOffsetVolts }),
        PhysicalRange(flag: "--relu-limit", low: 1e-3, high: 10, unit: "V",
                      reason: "ReLU output limit, a memristor threshold voltage V_p",
                      value: { $0.periphery.reluLimitVolts }),
        PhysicalRange(flag: "--calibration-images", low: 1, high: Double(AnalogConfig.maximumCalibrationImages), unit: "",
                      reason: "training images in data_batch_1.bin, which calibration reads",
                      value: { Double($0.calibrationImages) }),
        PhysicalRange(flag: "--row-wire-resistance", low: 1e-9, high: 1e4, unit: "ohms",
                      reason: "one cell segment of a word line (--wire-resistance sets both)",
                      value: { c in c.circuit.wires.rowWireResistanceOhms == 0 ? nil : c.circuit.wires.rowWireResistanceOhms }),
        PhysicalRange(flag: "--column-wire-resistance", low: 1e-9, high: 1e4, unit: "ohms",
                      reason: "one cell segment of a bit line (--wire-resistance sets both)",
                      value: { c in c.circuit.wires.columnWireResistanceOhms == 0 ? nil : c.circuit.wires.columnWireResistanceOhms }),
        PhysicalRange(flag: "--source-resistance", low: 1e-9, high: 1e6, unit: "ohms", reason: "output resistance of a row driver",
                      value: { c in c.circuit.wires.sourceResistanceOhms == 0 ? nil : c.circuit.wires.sourceResistanceOhms }),
        PhysicalRange(flag: "--ir-drop-tolerance", low: 1e-12, high: 0.5, unit: "", reason: "relative residual of the fast solver",
                      value: { $0.circuit.fastTolerance }),
        PhysicalRange(flag: "--ir-compensation", low: 1, high: Double(IRCompensation.maxIterations), unit: "iterations",
                      reason: "fixed-point iterations of the pre-distortion, each one circuit solve per tile",
                      value: { c in c.irCompensation.iterations == 0 ? nil : Double(c.irCompensation.iterations) }),
        PhysicalRange(flag: "--write-verify", low: 1, high: Double(WriteVerify.maxIterations), unit: "rounds",
                      reason: "program-and-verify rounds after the first programming",
                      value: { c in c.device.writeVerify.iterations == 0 ? nil : Double(c.device.writeVerify.iterations) }),
        PhysicalRange(flag: "--write-verify-tolerance", low: 1e-4, high: 1, unit: "",
                      reason: "relative half-width of the verify band",
                      value: { $0.device.writeVerify.tolerance }),
    ]
}

extension AnalogConfig {
    /// Calibration reads the first training batch file, which holds 10,000 images.
    public static let maximumCalibrationImages = 10_000

    /// Checks every parameter against its documented physical range (`PhysicalRange.all`).
    public func validatePhysicalRanges() throws(DeviceParameterError) {
        for range in PhysicalRange.all { try range.check(self) }
    }

    /// This config with every `-0` turned into `+0` (a negative zero means the same as zero
    /// but would print, and hash into sweep keys, differently).
    public func normalizingNegativeZeros() -> AnalogConfig {
        func n(_ x: Double) -> Double { x + 0 }
        func n(_ x: Double?) -> Double? { x.map { $0 + 0 } }
        var c = self
        c.device.window.gMinSiemens = n(c.device.window.gMinSiemens)
        c.device.window.gMaxSiemens = n(c.device.window.gMaxSiemens)
        c.device.variation.relativeSigma = n(c.device.variation.relativeSigma)
        c.device.readNoise.relativeSigma = n(c.device.readNoise.relativeSigma)
        c.device.stuck.stuckOnFraction = n(c.device.stuck.stuckOnFraction)
        c.device.stuck.stuckOffFraction = n(c.device.stuck.stuckOffFraction)
        c.device.drift.timeSeconds = n(c.device.drift.timeSeconds)
        c.device.drift.nuMean = n(c.device.drift.nuMean)
        c.device.drift.nuSigma = n(c.device.drift.nuSigma)
        c.mappingHeadroom = n(c.mappingHeadroom)
        c.poolingConductanceSiemens = n(c.poolingConductanceSiemens)
        c.periphery.inputVoltageVolts = n(c.periphery.inputVoltageVolts)
        c.periphery.limiterOffsetVolts = n(c.periphery.limiterOffsetVolts)
        c.periphery.multiplierGainError = n(c.periphery.multiplierGainError)
        c.periphery.opAmp.railVolts = n(c.periphery.opAmp.railVolts)
        c.periphery.opAmp.openLoopGain = n(c.periphery.opAmp.openLoopGain)
        c.circuit.wires.rowWireResistanceOhms = n(c.circuit.wires.rowWireResistanceOhms)
        c.circuit.wires.columnWireResistanceOhms = n(c.circuit.wires.columnWireResistanceOhms)
        c.circuit.wires.sourceResistanceOhms = n(c.circuit.wires.sourceResistanceOhms)
        return c
    }
}

import ArgumentParser
import XbarSim

extension Preset: ExpressibleByArgument {}
extension MappingScheme: ExpressibleByArgument {}
extension SignalMode: ExpressibleByArgument {}
extension ProgrammingVariation.Distribution: ExpressibleByArgument {}
extension DriftCompensation: ExpressibleByArgument {}
extension FaultScope: ExpressibleByArgument {}
extension IRDropMode: ExpressibleByArgument {}
extension PostCalibration: ExpressibleByArgument {}
extension IRCompensation.WindowPolicy: ExpressibleByArgument {}

/// Every parameter of a simulated chip. A preset sets them all; each flag given overrides it.
struct ChipOptions: ParsableArguments {
    @Option(help: "Starting point for every parameter below.")
    var preset: Preset = .ideal

    // Device
    @Option(name: .customLong("g-min"), parsing: .unconditional, help: ArgumentHelp("Lowest programmable conductance (e.g. 1uS, 1e-6).", valueName: "conductance"))
    var gMin: String?
    @Option(name: .customLong("g-max"), parsing: .unconditional, help: ArgumentHelp("Highest programmable conductance (e.g. 100uS).", valueName: "conductance"))
    var gMax: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Programmable levels, uniform in conductance; 0 for continuous.", valueName: "n"))
    var levels: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Programming variation, relative sigma (device to device, per chip).", valueName: "sigma"))
    var variation: Double?
    @Option(help: "Distribution of the programming variation.")
    var variationDistribution: ProgrammingVariation.Distribution?
    @Option(parsing: .unconditional, help: ArgumentHelp("Read noise, relative sigma (cycle to cycle, per inference).", valueName: "sigma"))
    var readNoise: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Fraction of devices stuck at G_max.", valueName: "fraction"))
    var stuckOn: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Fraction of devices stuck at G_min.", valueName: "fraction"))
    var stuckOff: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Programming headroom h: the largest weight maps to G_max/(1+h).", valueName: "h"))
    var headroom: Double?
    @Option(name: .customLong("pooling-conductance"), parsing: .unconditional, help: ArgumentHelp(
        "Conductance of the global-average-pooling devices (e.g. 10uS; 0: mapped like every crossbar).",
        valueName: "conductance"))
    var poolingConductance: String?
    @Option(help: "Crossbars that get stuck faults: all, weights (conv/FC/GAP) or batchnorm (BN stages only).")
    var stuckScope: FaultScope?
    @Option(parsing: .unconditional, help: ArgumentHelp("Read time after programming for drift, seconds (0: no drift).", valueName: "seconds"))
    var driftTime: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Mean drift exponent nu.", valueName: "nu"))
    var driftNu: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Device-to-device sigma of nu.", valueName: "sigma"))
    var driftNuSigma: Double?
    @Option(help: "Drift compensation.")
    var driftCompensation: DriftCompensation?
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Write-verify: program-and-verify rounds after the first programming; each reads the device and re-programs it "
            + "if outside --write-verify-tolerance (0: off).", valueName: "rounds"))
    var writeVerify: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Relative half-width of the write-verify band (default 0.02).",
                                                       valueName: "fraction"))
    var writeVerifyTolerance: Double?

    // Mapping and tiles
    @Option(help: ArgumentHelp(
        "Weight-to-conductance scheme: paper (+x and -x rows, one TIA per output), differential (G_min-offset pairs, "
            + "two TIAs and a subtractor), inverted-output (+x rows only, positive and negative columns, two TIAs and "
            + "one inverter per output).", valueName: "paper|differential|inverted-output"))
    var mapping: MappingScheme?
    @Option(parsing: .unconditional, help: ArgumentHelp("Conductance scaling: layer, column, or fixed siemens per unit weight.", valueName: "layer|column|S"))
    var scaling: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Largest crossbar, physical rows x columns, or unlimited.", valueName: "RxC|unlimited"))
    var tile: String?

    // Periphery
    @Option(help: "analog: voltages flow between layers; digitized: DAC/ADC at every crossbar.")
    var mode: SignalMode?
    @Option(parsing: .unconditional, help: ArgumentHelp("DAC bits (0: ideal).", valueName: "bits"))
    var dacBits: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("ADC bits per tile (0: ideal).", valueName: "bits"))
    var adcBits: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Op-amp output rails, volts (0: unlimited).", valueName: "volts"))
    var rail: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Op-amp open-loop gain (0: ideal).", valueName: "gain"))
    var opampGain: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Voltage of the network input's largest magnitude.", valueName: "volts"))
    var inputVoltage: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Clamp-level error of the diode limiters, volts.", valueName: "volts"))
    var limiterOffset: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Relative gain error of the analog multipliers.", valueName: "error"))
    var multiplierGainError: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Training images that set the DAC/ADC ranges.", valueName: "n"))
    var calibrationImages: Int?
    @Option(help: ArgumentHelp(
        "Post-programming calibration on --calibration-images training images: none, column (per-column TIA gain trim and "
            + "bias-row offset), bn (BN statistics re-estimated from the chip's activations, BN devices reprogrammed) or all.",
        valueName: "mode"))
    var calibrate: PostCalibration?
    @Option(help: ArgumentHelp("Output offset of the diode max-pooling circuits, volts.", valueName: "volts"))
    var maxpoolOffset: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Output limiter after every analog ReLU at this voltage, e.g. a memristor's threshold V_p (0: none).",
        valueName: "volts"))
    var reluLimit: Double?
    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Elementwise ops to run in digital periphery (ADC, function, DAC), by op name or type (relu, hardswish, clamp, ...). "
            + "Functions without an analog circuit (sigmoid, tanh, silu, gelu, ...) always do.", valueName: "op"))
    var digital: [String] = []

    // Wires (IR drop)
    @Option(parsing: .unconditional, help: ArgumentHelp("Resistance of one cell segment of every word and bit line, ohms (default solver: --ir-drop fast).",
                               valueName: "ohms"))
    var wireResistance: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Word-line (row) resistance per cell segment, ohms; overrides --wire-resistance.", valueName: "ohms"))
    var rowWireResistance: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Bit-line (column) resistance per cell segment, ohms; overrides --wire-resistance.", valueName: "ohms"))
    var columnWireResistance: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Output resistance of each row's input driver, ohms.", valueName: "ohms"))
    var sourceResistance: Double?
    @Option(help: "IR-drop solver: off (ideal wires), fast (iterative, to --ir-drop-tolerance) or exact (direct). Default: fast when a wire or source resistance is set, else off.")
    var irDrop: IRDropMode?
    @Option(parsing: .unconditional, help: ArgumentHelp("Relative residual at which the fast IR-drop solver stops.", valueName: "tolerance"))
    var irDropTolerance: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "IR-drop-aware programming: fixed-point iterations pre-distorting the target conductances with the tile solve "
            + "so the effective weights approach the ideal ones (0: off; needs --ir-drop fast|exact).", valueName: "iterations"))
    var irCompensation: Int?
    @Option(help: ArgumentHelp(
        "Where a pre-distorted target leaves the window: clip (the device, leaving a residual) or rescale (lower the "
            + "column's siemens per unit, i.e. raise its TIA feedback, until its largest target fits).",
        valueName: "clip|rescale"))
    var irCompensationWindow: IRCompensation.WindowPolicy?

    /// The preset with every given flag applied.
    func config() throws -> AnalogConfig {
        var c = preset.config
        if let gMin { c.device.window.gMinSiemens = try parseConductance(gMin, flag: "--g-min") }
        if let gMax { c.device.window.gMaxSiemens = try parseConductance(gMax, flag: "--g-max") }
        if let levels {
            guard levels == 0 || levels >= 2 else {
                throw ValidationError("--levels: must be 0 (continuous) or at least 2, got \(levels)")
            }
            c.device.levels = levels == 0 ? .continuous : .uniform(count: levels)
        }
        if let variation { c.device.variation.relativeSigma = variation }
        if let variationDistribution { c.device.variation.distribution = variationDistribution }
        if let readNoise { c.device.readNoise.relativeSigma = readNoise }
        if let stuckOn { c.device.stuck.stuckOnFraction = stuckOn }
        if let stuckOff { c.device.stuck.stuckOffFraction = stuckOff }
        if let stuckScope { c.faultScope = stuckScope }
        if let headroom { c.mappingHeadroom = headroom }
        if let poolingConductance {
            let g = try parseConductance(poolingConductance, flag: "--pooling-conductance")
            c.poolingConductanceSiemens = g == 0 ? nil : g
        }
        if let driftTime { c.device.drift.timeSeconds = driftTime == 0 ? nil : driftTime }
        if let driftNu { c.device.drift.nuMean = driftNu }
        if let driftNuSigma { c.device.drift.nuSigma = driftNuSigma }
        if let driftCompensation { c.device.drift.compensation = driftCompensation }
        if let writeVerify { c.device.writeVerify.iterations = writeVerify }
        if let writeVerifyTolerance { c.device.writeVerify.tolerance = writeVerifyTolerance }
        if let mapping { c.mapping = mapping }
        if let scaling {
            guard let s = WeightScaling(argument: scaling) else {
                throw ValidationError("--scaling: expected layer, column or a positive number of siemens per unit, got '\(scaling)'")
            }
            c.scaling = s
        }
        if let tile {
            guard let t = TileSize(argument: tile) else {
                throw ValidationError("--tile: expected ROWSxCOLUMNS (e.g. 128x128) or unlimited, got '\(tile)'")
            }
            c.tile = t
        }
        if let mode { c.mode = mode }
        if let dacBits { c.periphery.dac.bits = dacBits == 0 ? nil : dacBits }
        if let adcBits { c.periphery.adc.bits = adcBits == 0 ? nil : adcBits }
        if let rail { c.periphery.opAmp.railVolts = rail == 0 ? nil : rail }
        if let opampGain { c.periphery.opAmp.openLoopGain = opampGain == 0 ? nil : opampGain }
        if let inputVoltage { c.periphery.inputVoltageVolts = inputVoltage }
        if let limiterOffset { c.periphery.limiterOffsetVolts = limiterOffset }
        if let multiplierGainError { c.periphery.multiplierGainError = multiplierGainError }
        if let calibrationImages { c.calibrationImages = calibrationImages }
        if let calibrate { c.postCalibration = calibrate }
        if let maxpoolOffset { c.periphery.maxPoolOffsetVolts = maxpoolOffset }
        if let reluLimit { c.periphery.reluLimitVolts = reluLimit == 0 ? nil : reluLimit }
        if !digital.isEmpty { c.digitalOps = digital }
        if let wireResistance {
            guard wireResistance.isFinite, wireResistance >= 0 else {
                throw ValidationError("--wire-resistance: must be a finite resistance >= 0 ohms, got \(wireResistance)")
            }
            c.circuit.wires.rowWireResistanceOhms = wireResistance
            c.circuit.wires.columnWireResistanceOhms = wireResistance
        }
        if let rowWireResistance { c.circuit.wires.rowWireResistanceOhms = rowWireResistance }
        if let columnWireResistance { c.circuit.wires.columnWireResistanceOhms = columnWireResistance }
        if let sourceResistance { c.circuit.wires.sourceResistanceOhms = sourceResistance }
        if let irDrop {
            c.circuit.irDrop = irDrop
        } else if !c.circuit.wires.isIdeal && c.circuit.irDrop == .off {
            c.circuit.irDrop = .fast
        }
        if let irDropTolerance { c.circuit.fastTolerance = irDropTolerance }
        if let irCompensation { c.irCompensation.iterations = irCompensation }
        if let irCompensationWindow { c.irCompensation.window = irCompensationWindow }
        c = c.normalizingNegativeZeros()
        do {
            try c.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        return c
    }

    func validate() throws { _ = try config() }

    /// `config()` for a command that builds chips without post-programming calibration
    /// (`diagnose`, `report`, `spice`): `--calibrate` other than `none` is an error naming the flag
    /// rather than silently ignored; `spice` (`netlists: true`) also refuses per-column drift
    /// compensation, which its netlists do not carry.
    func uncalibratedConfig(command: String, netlists: Bool = false) throws -> AnalogConfig {
        let c = try config()
        guard c.postCalibration == .none else {
            throw ValidationError("--calibrate: xbarsim \(command) does not calibrate chips; use eval or sweep")
        }
        if netlists, c.device.drift.compensation == .column, c.device.drift.timeSeconds != nil {
            throw ValidationError("--drift-compensation: xbarsim \(command) netlists carry global compensation only, not column")
        }
        return c
    }
}

/// `XbarSim.parseConductance`, with its error shown as a usage error.
func parseConductance(_ text: String, flag: String) throws -> Double {
    do { return try XbarSim.parseConductance(text, flag: flag) } catch { throw ValidationError("\(error)") }
}

import XbarSimGraph
import XbarSimCircuit
import XbarSimCrossbar
import XbarSimDevice

/// Where signals are converted.
public enum SignalMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Voltages flow from layer to layer with no conversion (the reference design);
    /// only the network input passes a DAC.
    case analog
    /// Every crossbar has input DACs and a per-tile ADC; partial sums are added digitally.
    case digitized
}

/// Converters, amplifiers and the analog modules between crossbars.
public struct Periphery: Sendable, Hashable, Codable {
    /// The network input's largest magnitude is driven at this voltage (analog mode
    /// sets the volts-per-unit of every signal from it). Reference design: 2.5 mV.
    public var inputVoltageVolts: Double = 0.1
    public var dac = DAC()
    public var adc = ADC()
    /// Every op-amp: TIAs, BN stages, summers, activation adders.
    public var opAmp = OpAmp.ideal
    /// Error of the diode limiters' clamp levels (ReLU floor, hard-sigmoid floor and ceiling), volts.
    public var limiterOffsetVolts: Double = 0
    /// Relative gain error of the analog multipliers (SE scaling, hard-swish).
    public var multiplierGainError: Double = 0
    /// Output offset of the diode max-pooling circuits, volts (residual diode drop and op-amp offset).
    public var maxPoolOffsetVolts: Double = 0
    /// Output limiter after every analog ReLU, volts; nil for none. The memristive
    /// ShuffleNetV2 limits the ReLU's output to the memristor threshold voltage `V_p`
    /// (docs/shufflenetv2.md): `y = min(max(x, δ), V_p + δ)` in volts (`δ` = the limiters'
    /// clamp-level error), then the rails.
    public var reluLimitVolts: Double?

    public init() {}

    public func validate() throws(CrossbarParameterError) {
        guard inputVoltageVolts > 0, inputVoltageVolts.isFinite else {
            throw CrossbarParameterError(parameter: "--input-voltage", message: "must be positive, got \(inputVoltageVolts)")
        }
        try dac.validate()
        try adc.validate()
        try opAmp.validate()
        guard limiterOffsetVolts.isFinite else {
            throw CrossbarParameterError(parameter: "--limiter-offset", message: "must be finite")
        }
        guard maxPoolOffsetVolts.isFinite, abs(maxPoolOffsetVolts) <= 1 else {
            throw CrossbarParameterError(parameter: "--maxpool-offset", message: "must be in -1...1 V, got \(maxPoolOffsetVolts)")
        }
        if let v = reluLimitVolts, !(v.isFinite && v > 0) {
            throw CrossbarParameterError(parameter: "--relu-limit", message: "must be a positive voltage, got \(v)")
        }
        guard multiplierGainError.isFinite, multiplierGainError > -1 else {
            throw CrossbarParameterError(parameter: "--multiplier-gain-error", message: "must be > -1, got \(multiplierGainError)")
        }
    }
}

/// Everything that defines a simulated chip, except the random seed.
public struct AnalogConfig: Sendable, Hashable, Codable {
    public var device = DeviceModel()
    public var mapping = MappingScheme.paper
    public var scaling = WeightScaling.perLayer
    public var tile = TileSize.unlimited
    public var mode = SignalMode.analog
    public var periphery = Periphery()
    /// Wire and driver resistances of every tile and how IR drop is solved.
    public var circuit = CircuitModel()
    /// Training images used to set DAC/ADC ranges (digitized mode) and, with
    /// `postCalibration`, fed through the programmed chip to calibrate it.
    public var calibrationImages = 256
    /// Post-programming calibration (`--calibrate`): per-column TIA gain/offset trim, BN
    /// re-estimation, both or none (`ChipCalibration`, `docs/remedies.md`).
    public var postCalibration = PostCalibration.none
    /// IR-drop-aware programming (`--ir-compensation N`): targets pre-distorted with the tiles'
    /// circuit solve so the effective weights approach the ideal ones (`IRCompensation`); only
    /// acts when tiles are solved (`circuit.irDrop` fast or exact).
    public var irCompensation = IRCompensation()
    /// Crossbars that get stuck-at faults (`--stuck-scope`).
    public var faultScope = FaultScope.all
    /// Programming headroom `h` (`--headroom`): scaled weights reach `G_max/(1+h)`, not
    /// `G_max`, so a device's programming variation is not clipped at `G_max` on one side.
    public var mappingHeadroom = 0.0
    /// Conductance of the global-average-pooling devices (`--pooling-conductance`), siemens;
    /// nil: mapped like every crossbar (`mappingHeadroom` below `G_max`). Every GAP weight is
    /// `1/N`, so each GAP column carries `N` equal devices; placing them low in the window cuts
    /// their column current and so their IR drop (`docs/ir-drop.md`).
    public var poolingConductanceSiemens: Double?
    /// Elementwise ops moved to digital periphery on purpose (`--digital`), by op name or
    /// type name (`relu`, `hardswish`, ...); functions without an analog circuit always are.
    public var digitalOps: [String] = []

    /// Checks that every `digitalOps` entry names an elementwise op of `graph` or the type of one.
    public func validateDigitalOps(graph: Graph) throws {
        for name in digitalOps {
            let matches = graph.ops.filter { $0.name == name || $0.kind.typeName == name }
            guard !matches.isEmpty else {
                let types = Set(graph.ops.filter(\.kind.isElementwise).map(\.kind.typeName)).sorted()
                throw CrossbarParameterError(
                    parameter: "--digital",
                    message: "'\(name)' is neither an op name nor an op type of the model (elementwise types here: \(types.joined(separator: ", ")))")
            }
            if let bad = matches.first(where: { !$0.kind.isElementwise }) {
                throw CrossbarParameterError(
                    parameter: "--digital",
                    message: "'\(name)' names \(bad.name) (\(bad.kind.typeName)); only elementwise ops can move to digital periphery")
            }
        }
    }

    /// True when `op` runs in digital periphery because `digitalOps` names it or its type.
    public func runsDigitally(_ op: Op) -> Bool {
        digitalOps.contains(op.name) || digitalOps.contains(op.kind.typeName)
    }

    /// The config for the global-average-pooling crossbars: with `poolingConductanceSiemens`
    /// set, the headroom that maps their (equal) weights to exactly that conductance
    /// (paper, inverted-output: `G_max/(1+h)`; differential: `G_min + (G_max − G_min)/(1+h)`).
    public func forPooling() -> AnalogConfig {
        guard let g = poolingConductanceSiemens else { return self }
        let (gMin, gMax) = (device.window.gMinSiemens, device.window.gMaxSiemens)
        var c = self
        switch mapping {
        case .paper, .invertedOutput: c.mappingHeadroom = gMax / g - 1
        case .differential: c.mappingHeadroom = (gMax - gMin) / (g - gMin) - 1
        }
        return c
    }

    /// This config with stuck faults removed unless `scope` includes the crossbar.
    public func forCrossbar(batchNormStage: Bool) -> AnalogConfig {
        guard !faultScope.includes(batchNormStage: batchNormStage) else { return self }
        var c = self
        c.device.stuck = StuckFaults(stuckOnFraction: 0, stuckOffFraction: 0)
        return c
    }

    public init() {}

    /// Checks every parameter; the error names the command-line flag.
    public func validate() throws {
        guard mappingHeadroom.isFinite, mappingHeadroom >= 0, mappingHeadroom <= 10 else {
            throw DeviceParameterError(parameter: "--headroom", message: "must be in 0...10, got \(mappingHeadroom)")
        }
        try device.validate()
        if let g = poolingConductanceSiemens {
            let (gMin, gMax) = (device.window.gMinSiemens, device.window.gMaxSiemens)
            let low = mapping == .differential ? "> G_min" : ">= G_min"
            guard g.isFinite, g <= gMax, mapping == .differential ? g > gMin : g >= gMin else {
                throw DeviceParameterError(
                    parameter: "--pooling-conductance",
                    message: "must be \(low) (\(gMin) S) and <= G_max (\(gMax) S), got \(g) S")
            }
        }
        try tile.validate()
        try periphery.validate()
        try circuit.validate()
        try irCompensation.validate()
        if case .fixed(let s) = scaling, !(s > 0 && s.isFinite) {
            throw CrossbarParameterError(parameter: "--scaling", message: "fixed siemens per unit must be positive, got \(s)")
        }
        guard calibrationImages > 0 else {
            throw CrossbarParameterError(parameter: "--calibration-images", message: "must be positive, got \(calibrationImages)")
        }
        try validatePhysicalRanges()    // docs/devices.md, "Accepted ranges"
    }
}

extension AnalogConfig {
    /// Decodes every field that is present and keeps the default for the others, so
    /// configurations stored by earlier versions (sweep manifests, reports) still load
    /// after a field is added.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        device = try c.decodeIfPresent(DeviceModel.self, forKey: .device) ?? device
        mapping = try c.decodeIfPresent(MappingScheme.self, forKey: .mapping) ?? mapping
        scaling = try c.decodeIfPresent(WeightScaling.self, forKey: .scaling) ?? scaling
        tile = try c.decodeIfPresent(TileSize.self, forKey: .tile) ?? tile
        mode = try c.decodeIfPresent(SignalMode.self, forKey: .mode) ?? mode
        periphery = try c.decodeIfPresent(Periphery.self, forKey: .periphery) ?? periphery
        circuit = try c.decodeIfPresent(CircuitModel.self, forKey: .circuit) ?? circuit
        calibrationImages = try c.decodeIfPresent(Int.self, forKey: .calibrationImages) ?? calibrationImages
        postCalibration = try c.decodeIfPresent(PostCalibration.self, forKey: .postCalibration) ?? postCalibration
        irCompensation = try c.decodeIfPresent(IRCompensation.self, forKey: .irCompensation) ?? irCompensation
        faultScope = try c.decodeIfPresent(FaultScope.self, forKey: .faultScope) ?? faultScope
        mappingHeadroom = try c.decodeIfPresent(Double.self, forKey: .mappingHeadroom) ?? mappingHeadroom
        poolingConductanceSiemens = try c.decodeIfPresent(Double.self, forKey: .poolingConductanceSiemens)
        digitalOps = try c.decodeIfPresent([String].self, forKey: .digitalOps) ?? []
    }
}

extension Periphery {
    /// Decodes the fields present and keeps defaults for the others (older manifests).
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputVoltageVolts = try c.decodeIfPresent(Double.self, forKey: .inputVoltageVolts) ?? inputVoltageVolts
        dac = try c.decodeIfPresent(DAC.self, forKey: .dac) ?? dac
        adc = try c.decodeIfPresent(ADC.self, forKey: .adc) ?? adc
        opAmp = try c.decodeIfPresent(OpAmp.self, forKey: .opAmp) ?? opAmp
        limiterOffsetVolts = try c.decodeIfPresent(Double.self, forKey: .limiterOffsetVolts) ?? limiterOffsetVolts
        multiplierGainError = try c.decodeIfPresent(Double.self, forKey: .multiplierGainError) ?? multiplierGainError
        maxPoolOffsetVolts = try c.decodeIfPresent(Double.self, forKey: .maxPoolOffsetVolts) ?? maxPoolOffsetVolts
        reluLimitVolts = try c.decodeIfPresent(Double.self, forKey: .reluLimitVolts)
    }
}

import XbarSimAnalog

/// The standard figures of the field, one command each (`xbarsim sweep --preset-sweep NAME`):
/// accuracy against one non-ideality, every other parameter from `--preset` (default `ideal`)
/// and the flags, except the few `fixed` ones each figure needs.
public enum SweepPreset: String, Sendable, CaseIterable, Codable {
    /// Programming (device-to-device) variation, relative σ 0 ... 0.2.
    case variation
    /// Programmable levels per device, 4 ... 256 (uniform in conductance).
    case levels
    /// Wire resistance per crossbar segment, on 128x128 tiles (needs the IR-drop parameter).
    case wireResistance = "wire-resistance"
    /// ADC resolution, 3 ... 10 bits, digitized mode on 128x128 tiles (ideal DAC).
    case adcBits = "adc-bits"
    /// Stuck-on and stuck-off rates, 1e-4 ... 1e-2, each varied alone.
    case stuck
    /// Read time after programming, 1 min ... 1 year, PCM-like drift (ν = 0.05 ± 0.02),
    /// with and without global drift compensation.
    case drift

    /// Parameters set on top of the base (name, value in flag syntax).
    public var fixed: [(String, String)] {
        switch self {
        case .variation, .levels, .stuck: []
        case .wireResistance: [("tile", "128x128")]
        case .adcBits: [("mode", "digitized"), ("tile", "128x128"), ("dac-bits", "0")]
        case .drift: [("drift-nu", "0.05"), ("drift-nu-sigma", "0.02")]
        }
    }

    /// The `--vary` specifications.
    public var vary: [String] {
        switch self {
        case .variation: ["variation=0:0.2:0.02"]
        case .levels: ["levels=4,8,16,32,64,128,256"]
        case .wireResistance: ["wire-resistance=0,0.5,1,2,5,10"]
        case .adcBits: ["adc-bits=3:10:1"]
        case .stuck: ["stuck-on=0.0001,0.0003,0.001,0.003,0.01", "stuck-off=0.0001,0.0003,0.001,0.003,0.01"]
        case .drift: ["drift-time=60,3600,86400,2592000,31536000", "drift-compensation=none,global"]
        }
    }

    public var design: SweepDesign { self == .stuck ? .oneAtATime : .grid }

    /// Applies `fixed` to `base` (with the flags' validation).
    public func apply(to base: AnalogConfig) throws -> AnalogConfig {
        var c = base
        for (name, value) in fixed {
            guard let p = ChipParameter.named(name) else {
                throw SettingsError(parameter: "--preset-sweep", message: "\(rawValue) needs the parameter '\(name)', which this build lacks")
            }
            try p.apply(value, &c)
        }
        try c.validate()
        return c
    }
}

import Foundation
import XbarSimAnalog
import XbarSimCrossbar
import XbarSimDevice

/// One chip parameter that a sweep can vary, named as its `xbarsim eval` flag without the
/// dashes (`variation`, `adc-bits`, ...), applied to an `AnalogConfig` with the flag's meaning
/// (`levels 0` is continuous, `adc-bits 0` ideal, `drift-time 0` no drift, conductances take
/// units such as `1uS`).
///
/// `apply` only parses; ranges are checked by `AnalogConfig.validate()`, whose errors name the
/// flag and the value (`--variation: must be >= 0, got -0.1`), exactly as for `eval`.
///
/// Adding a parameter is one entry in `ChipParameter.all`, e.g. (once `ChipOptions` has it):
///
///     .real("wire-resistance", \.tileCircuit.wireResistanceOhms),
public struct ChipParameter: Sendable {
    public enum Kind: Sendable, Equatable {
        /// A real number (ranges `start:stop:step` allowed).
        case real
        /// An integer (ranges allowed; every value must be whole).
        case integer
        /// One of a few words or a structured value (lists only).
        case choice([String])
    }

    /// The flag without dashes, e.g. `"read-noise"`.
    public var name: String
    public var kind: Kind
    /// Sets the parameter from its command-line text; throws on text that does not parse.
    public var apply: @Sendable (String, inout AnalogConfig) throws -> Void
    /// The parameter's value in `config`, written as the flag would take it (`0` for "off").
    public var read: @Sendable (AnalogConfig) -> String

    /// The command-line flag, e.g. `"--read-noise"`.
    public var flag: String { "--" + name }

    /// Whether the values are numbers (ranges and numeric plot axes are possible).
    public var isNumeric: Bool {
        if case .choice = kind { return false }
        return true
    }

    public init(
        name: String, kind: Kind, apply: @escaping @Sendable (String, inout AnalogConfig) throws -> Void,
        read: @escaping @Sendable (AnalogConfig) -> String
    ) {
        self.name = name
        self.kind = kind
        self.apply = apply
        self.read = read
    }

    /// The parameter called `name`, or nil.
    public static func named(_ name: String) -> ChipParameter? { all.first { $0.name == name } }

    /// The known names, in table order.
    public static var names: [String] { all.map(\.name) }

    /// Every parameter a sweep can vary, in the order of `xbarsim eval --help`.
    public static let all: [ChipParameter] = [
        conductance("g-min", \.device.window.gMinSiemens),
        conductance("g-max", \.device.window.gMaxSiemens),
        ChipParameter(
            name: "levels", kind: .integer,
            apply: { text, c in
                let n = try integer(text, "levels")
                c.device.levels = n == 0 ? .continuous : .uniform(count: n)
            },
            read: { c in
                if case .uniform(let n) = c.device.levels { return "\(n)" }
                return "0"
            }),
        real("variation", \.device.variation.relativeSigma),
        choice("variation-distribution", \.device.variation.distribution),
        real("read-noise", \.device.readNoise.relativeSigma),
        real("stuck-on", \.device.stuck.stuckOnFraction),
        real("stuck-off", \.device.stuck.stuckOffFraction),
        choice("stuck-scope", \.faultScope),
        real("headroom", \.mappingHeadroom),
        optionalConductance("pooling-conductance", \.poolingConductanceSiemens),
        optionalReal("drift-time", \.device.drift.timeSeconds),
        real("drift-nu", \.device.drift.nuMean),
        real("drift-nu-sigma", \.device.drift.nuSigma),
        choice("drift-compensation", \.device.drift.compensation),
        ChipParameter(
            name: "write-verify", kind: .integer,
            apply: { text, c in c.device.writeVerify.iterations = try integer(text, "write-verify") },
            read: { "\($0.device.writeVerify.iterations)" }),
        real("write-verify-tolerance", \.device.writeVerify.tolerance),
        choice("mapping", \.mapping),
        parsed("scaling", words: ["layer", "column", "S"], \.scaling, WeightScaling.init(argument:), \.description,
               expected: "layer, column or a positive number of siemens per unit"),
        parsed("tile", words: ["RxC", "unlimited"], \.tile, TileSize.init(argument:), \.description,
               expected: "ROWSxCOLUMNS (e.g. 128x128) or unlimited"),
        choice("mode", \.mode),
        optionalInteger("dac-bits", \.periphery.dac.bits),
        optionalInteger("adc-bits", \.periphery.adc.bits),
        optionalReal("rail", \.periphery.opAmp.railVolts),
        optionalReal("opamp-gain", \.periphery.opAmp.openLoopGain),
        real("input-voltage", \.periphery.inputVoltageVolts),
        real("limiter-offset", \.periphery.limiterOffsetVolts),
        real("maxpool-offset", \.periphery.maxPoolOffsetVolts),
        optionalReal("relu-limit", \.periphery.reluLimitVolts),
        real("multiplier-gain-error", \.periphery.multiplierGainError),
        ChipParameter(
            name: "wire-resistance", kind: .real,
            apply: { text, c in
                let ohms = try number(text, "wire-resistance")
                c.circuit.wires.rowWireResistanceOhms = ohms
                c.circuit.wires.columnWireResistanceOhms = ohms
                // As the flag: the fast solver switches on when a resistance is set.
                if !c.circuit.wires.isIdeal && c.circuit.irDrop == .off { c.circuit.irDrop = .fast }
            },
            read: { formatNumber($0.circuit.wires.rowWireResistanceOhms) }),
        choice("ir-drop", \.circuit.irDrop),
        ChipParameter(
            name: "ir-compensation", kind: .integer,
            apply: { text, c in c.irCompensation.iterations = try integer(text, "ir-compensation") },
            read: { "\($0.irCompensation.iterations)" }),
        choice("ir-compensation-window", \.irCompensation.window),
        ChipParameter(
            name: "calibration-images", kind: .integer,
            apply: { text, c in c.calibrationImages = try integer(text, "calibration-images") },
            read: { "\($0.calibrationImages)" }),
        choice("calibrate", \.postCalibration),
    ]

    // MARK: Builders

    /// A real-valued field.
    public static func real(_ name: String, _ path: WritableKeyPath<AnalogConfig, Double> & Sendable) -> ChipParameter {
        ChipParameter(
            name: name, kind: .real, apply: { text, c in c[keyPath: path] = try number(text, name) },
            read: { formatNumber($0[keyPath: path]) })
    }

    /// A real-valued field where 0 means "off" (nil).
    public static func optionalReal(_ name: String, _ path: WritableKeyPath<AnalogConfig, Double?> & Sendable) -> ChipParameter {
        ChipParameter(
            name: name, kind: .real,
            apply: { text, c in
                let v = try number(text, name)
                c[keyPath: path] = v == 0 ? nil : v
            },
            read: { $0[keyPath: path].map(formatNumber) ?? "0" })
    }

    /// An integer field where 0 means "ideal" (nil).
    public static func optionalInteger(_ name: String, _ path: WritableKeyPath<AnalogConfig, Int?> & Sendable) -> ChipParameter {
        ChipParameter(
            name: name, kind: .integer,
            apply: { text, c in
                let v = try integer(text, name)
                c[keyPath: path] = v == 0 ? nil : v
            },
            read: { $0[keyPath: path].map { "\($0)" } ?? "0" })
    }

    /// A conductance field where 0 means "not set" (nil), given with or without a unit.
    public static func optionalConductance(
        _ name: String, _ path: WritableKeyPath<AnalogConfig, Double?> & Sendable
    ) -> ChipParameter {
        ChipParameter(
            name: name, kind: .real,
            apply: { text, c in
                let g = try parseConductance(text, flag: "--" + name)
                c[keyPath: path] = g == 0 ? nil : g
            },
            read: { $0[keyPath: path].map(formatNumber) ?? "0" })
    }

    /// A structured value parsed from its text (`words` describe the forms it takes) and
    /// written back with `describe`; `expected` completes "expected ..., got '...'".
    public static func parsed<T: Sendable>(
        _ name: String, words: [String], _ path: WritableKeyPath<AnalogConfig, T> & Sendable,
        _ parse: @escaping @Sendable (String) -> T?, _ describe: @escaping @Sendable (T) -> String, expected: String
    ) -> ChipParameter {
        ChipParameter(
            name: name, kind: .choice(words),
            apply: { text, c in
                guard let v = parse(text) else {
                    throw DeviceParameterError(parameter: "--" + name, message: "expected \(expected), got '\(text)'")
                }
                c[keyPath: path] = v
            },
            read: { describe($0[keyPath: path]) })
    }

    /// A conductance in siemens, given with or without a unit (`1uS`, `1e-6`).
    public static func conductance(_ name: String, _ path: WritableKeyPath<AnalogConfig, Double> & Sendable) -> ChipParameter {
        ChipParameter(
            name: name, kind: .real, apply: { text, c in c[keyPath: path] = try parseConductance(text, flag: "--" + name) },
            read: { formatNumber($0[keyPath: path]) })
    }

    /// A field whose values are an enum's raw values.
    public static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ path: WritableKeyPath<AnalogConfig, E> & Sendable
    ) -> ChipParameter where E.RawValue == String {
        let words = E.allCases.map(\.rawValue)
        return ChipParameter(
            name: name, kind: .choice(words),
            apply: { text, c in
                guard let v = E(rawValue: text) else {
                    throw DeviceParameterError(
                        parameter: "--" + name, message: "expected one of \(words.joined(separator: ", ")), got '\(text)'")
                }
                c[keyPath: path] = v
            },
            read: { $0[keyPath: path].rawValue })
    }

    static func number(_ text: String, _ name: String) throws -> Double {
        guard let v = Double(text.trimmingCharacters(in: .whitespaces)) else {
            throw DeviceParameterError(parameter: "--" + name, message: "expected a number, got '\(text)'")
        }
        guard v.isFinite else { throw DeviceParameterError(parameter: "--" + name, message: "must be finite, got \(text)") }
        return v + 0  // -0 is 0

    }

    static func integer(_ text: String, _ name: String) throws -> Int {
        guard let v = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw DeviceParameterError(parameter: "--" + name, message: "expected a whole number, got '\(text)'")
        }
        return v
    }
}

/// Parses a conductance with an optional unit: `1e-6`, `1uS`, `1µS`, `100 uS`, `2mS`, `5nS`, `0.2S`.
public func parseConductance(_ text: String, flag: String) throws -> Double {
    let t = text.replacingOccurrences(of: " ", with: "")
    let units: [(String, Double)] = [("uS", 1e-6), ("µS", 1e-6), ("mS", 1e-3), ("nS", 1e-9), ("S", 1)]
    for (suffix, factor) in units where t.hasSuffix(suffix) {
        if let v = Double(t.dropLast(suffix.count)), v.isFinite { return v * factor }
    }
    if let v = Double(t), v.isFinite { return v }
    throw DeviceParameterError(parameter: flag, message: "expected a conductance such as 1uS, 100uS or 1e-6 (siemens), got '\(text)'")
}

/// A number as `%.12g` writes it (so 0.1 + 0.2 prints as 0.3), without a trailing `.0`.
public func formatNumber(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(format: "%.12g", value)
}

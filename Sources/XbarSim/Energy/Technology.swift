import Foundation
import XbarSimSupport

/// The technology numbers energy and latency are computed from: timing of devices,
/// op-amps and converters, their power and energy per conversion.
///
/// Every field names its unit. Defaults (``Technology/default``) describe a realistic
/// mixed-signal chip; ``Technology/paper`` the reference design's own assumptions. The
/// source of every value is tabulated in `docs/energy.md`; `docs/technology-default.json`
/// holds the defaults as a file to copy and edit (`xbarsim report --tech FILE`, where a
/// file may give any subset of the fields).
public struct Technology: Sendable, Hashable, Codable {
    /// Time a memristor takes to respond to a new input voltage (reference design: 100 ps).
    public var deviceResponseSeconds: Double = 100e-12
    /// How long the row voltages of one crossbar read are applied (read energy is
    /// `V²·G` over this time). A read also lasts at least device response + op-amp settling.
    public var readPulseSeconds: Double = 10e-9
    /// Settling time of one op-amp stage (TIA, summer, adder) to the output accuracy.
    public var opAmpSettlingSeconds: Double = 2e-9
    /// Quiescent power of one op-amp.
    public var opAmpStaticPowerWatts: Double = 300e-6
    /// When true, an op-amp draws power only while its own stage computes; when false
    /// (default) every op-amp is biased for as long as an image occupies the chip.
    public var opAmpPowerGating: Bool = false
    /// Quiescent power of one analog multiplier (SE scaling, hard-swish).
    public var multiplierStaticPowerWatts: Double = 500e-6
    /// Delay of one analog multiplier.
    public var multiplierDelaySeconds: Double = 2e-9
    /// Energy of one DAC conversion (digitized mode, and the network input).
    public var dacEnergyPerConversionJoules: Double = 0.5e-12
    public var dacConversionSeconds: Double = 1e-9
    /// Energy of one ADC conversion (digitized mode: one per column per row tile and read).
    public var adcEnergyPerConversionJoules: Double = 12.5e-12
    public var adcConversionSeconds: Double = 0.78e-9
    /// Power of a CMOS circuit doing one memristor's multiply (the reference design's comparison, 60 µW).
    public var cmosEquivalentCellPowerWatts: Double = 60e-6
    /// Supply rails `±V` of the op-amps driving crossbar rows (the previous stage's output,
    /// the paper scheme's input inverters, bias references): a driver sourcing or sinking
    /// `|I|` draws `|I|·V` from its rails (`docs/energy.md`, "Driver and TIA supply energy").
    public var driverSupplyVolts: Double = 1.8
    /// Supply rails `±V` of the TIAs sinking the crossbar column currents.
    public var tiaSupplyVolts: Double = 1.8

    public init() {}

    /// Realistic defaults (sources in `docs/energy.md`).
    public static let `default` = Technology()

    /// The reference design's assumptions: 100 ps device response and nothing else on
    /// the critical path (read pulse = response, op-amps and multipliers settle at
    /// once), op-amps at the "mW level" the paper quotes.
    public static let paper: Technology = {
        var t = Technology()
        t.readPulseSeconds = 100e-12
        t.opAmpSettlingSeconds = 0
        t.multiplierDelaySeconds = 0
        t.opAmpStaticPowerWatts = 1e-3
        t.multiplierStaticPowerWatts = 1e-3
        return t
    }()

    /// Duration of one crossbar read: `max(readPulse, deviceResponse + opAmpSettling)`.
    public var crossbarReadSeconds: Double {
        max(readPulseSeconds, deviceResponseSeconds + opAmpSettlingSeconds)
    }

    /// Duration of one crossbar read whose signal path has `opAmpStages` op-amps in series
    /// (input inverter, TIAs, subtractor or output inverter, gain stage), all settling within
    /// the read: `max(readPulse, deviceResponse + opAmpStages·opAmpSettling)`.
    public func crossbarReadSeconds(opAmpStages: Int) -> Double {
        max(readPulseSeconds, deviceResponseSeconds + Double(max(1, opAmpStages)) * opAmpSettlingSeconds)
    }

    /// Numeric fields by their JSON / `--tech-set` name.
    static var numericFields: [(String, WritableKeyPath<Technology, Double>)] { [
        ("deviceResponseSeconds", \.deviceResponseSeconds),
        ("readPulseSeconds", \.readPulseSeconds),
        ("opAmpSettlingSeconds", \.opAmpSettlingSeconds),
        ("opAmpStaticPowerWatts", \.opAmpStaticPowerWatts),
        ("multiplierStaticPowerWatts", \.multiplierStaticPowerWatts),
        ("multiplierDelaySeconds", \.multiplierDelaySeconds),
        ("dacEnergyPerConversionJoules", \.dacEnergyPerConversionJoules),
        ("dacConversionSeconds", \.dacConversionSeconds),
        ("adcEnergyPerConversionJoules", \.adcEnergyPerConversionJoules),
        ("adcConversionSeconds", \.adcConversionSeconds),
        ("cmosEquivalentCellPowerWatts", \.cmosEquivalentCellPowerWatts),
        ("driverSupplyVolts", \.driverSupplyVolts),
        ("tiaSupplyVolts", \.tiaSupplyVolts),
    ] }
    static var boolFields: [(String, WritableKeyPath<Technology, Bool>)] { [("opAmpPowerGating", \.opAmpPowerGating)] }

    /// Every field name a file or `--tech-set` may use.
    public static var fieldNames: [String] { numericFields.map(\.0) + boolFields.map(\.0) }

    /// Checks every value is finite, non-negative and at most 1e3; `source` names the file or flag.
    public func validate(source: String = "technology") throws(TechnologyError) {
        for (name, path) in Self.numericFields {
            let v = self[keyPath: path]
            guard v.isFinite, v >= 0 else {
                throw TechnologyError(source: source, field: name, message: "must be a finite value >= 0, got \(v)")
            }
            // Seconds, watts and joules of one component: 1e3 (a kilowatt op-amp, a 1,000 s read)
            // is far past any device and keeps every product of them finite.
            guard v <= 1e3 else {
                throw TechnologyError(source: source, field: name, message: "must be at most 1e3 (SI units), got \(v)")
            }
        }
        // Op-amp supplies: 0 leaves their supply energy out; above 100 V is no op-amp supply.
        for (name, v) in [("driverSupplyVolts", driverSupplyVolts), ("tiaSupplyVolts", tiaSupplyVolts)] where v > 100 {
            throw TechnologyError(source: source, field: name, message: "must be at most 100 V (an op-amp supply rail), got \(v)")
        }
        guard deviceResponseSeconds + opAmpSettlingSeconds + readPulseSeconds > 0 else {
            throw TechnologyError(source: source, field: "readPulseSeconds",
                                  message: "a crossbar read must take some time (read pulse, device response or settling > 0)")
        }
    }

    /// Sets one field from text (`--tech-set name=value`).
    public mutating func set(_ field: String, to text: String, source: String) throws(TechnologyError) {
        if let (_, path) = Self.numericFields.first(where: { $0.0 == field }) {
            guard let v = Double(text) else {
                throw TechnologyError(source: source, field: field, message: "expected a number, got '\(text)'")
            }
            self[keyPath: path] = v
        } else if let (_, path) = Self.boolFields.first(where: { $0.0 == field }) {
            guard let v = Bool(text) else {
                throw TechnologyError(source: source, field: field, message: "expected true or false, got '\(text)'")
            }
            self[keyPath: path] = v
        } else {
            throw TechnologyError(source: source, field: field,
                                  message: "unknown field; known: \(Self.fieldNames.joined(separator: ", "))")
        }
        try validate(source: source)
    }

    /// This technology with the fields of a JSON object applied (a subset is fine).
    /// Unknown fields, wrong types and out-of-range values are errors naming `source` and the field.
    public func applying(json data: Data, source: String) throws(TechnologyError) -> Technology {
        let fields: [String: JSONScalar]
        do {
            fields = try JSONDecoder().decode([String: JSONScalar].self, from: data)
        } catch {
            throw TechnologyError(source: source, field: nil, message: "expected a JSON object of technology fields (\(error))")
        }
        var t = self
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("_") { continue }  // comments, e.g. "_source"
            if let (_, path) = Self.numericFields.first(where: { $0.0 == key }) {
                guard case .number(let v) = value else {
                    throw TechnologyError(source: source, field: key, message: "expected a number, got \(value)")
                }
                t[keyPath: path] = v
            } else if let (_, path) = Self.boolFields.first(where: { $0.0 == key }) {
                guard case .bool(let v) = value else {
                    throw TechnologyError(source: source, field: key, message: "expected true or false, got \(value)")
                }
                t[keyPath: path] = v
            } else {
                throw TechnologyError(source: source, field: key,
                                      message: "unknown field; known: \(Self.fieldNames.joined(separator: ", "))")
            }
        }
        try t.validate(source: source)
        return t
    }

    /// This technology with the fields of the JSON file at `path` applied.
    public func applying(file path: String) throws(TechnologyError) -> Technology {
        if FileManager.default.fileExists(atPath: path), !isRegularFile(path) {
            throw TechnologyError(source: path, field: nil, message: "not a regular file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TechnologyError(source: path, field: nil, message: "cannot read the file")
        }
        return try applying(json: data, source: path)
    }
}

extension Technology {
    struct FieldKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes the fields present; a field missing (a report written before it existed) keeps
    /// its default.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: FieldKey.self)
        for (name, path) in Self.numericFields {
            if let v = try c.decodeIfPresent(Double.self, forKey: FieldKey(stringValue: name)) { self[keyPath: path] = v }
        }
        for (name, path) in Self.boolFields {
            if let v = try c.decodeIfPresent(Bool.self, forKey: FieldKey(stringValue: name)) { self[keyPath: path] = v }
        }
    }
}

/// A bad technology file or override: names the file (or flag) and the field.
public struct TechnologyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file path or command-line flag the value came from.
    public var source: String
    public var field: String?
    public var message: String

    public init(source: String, field: String?, message: String) {
        self.source = source
        self.field = field
        self.message = message
    }

    public var description: String {
        if let field { return "\(source): field '\(field)': \(message)" }
        return "\(source): \(message)"
    }
}

/// One value of a technology file: a number, a boolean, or anything else (kept for the message).
enum JSONScalar: Decodable, CustomStringConvertible {
    case number(Double)
    case bool(Bool)
    case other(String)

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .other("\"\(s)\"")
        } else {
            self = .other("a JSON array, object or null")
        }
    }

    var description: String {
        switch self {
        case .number(let d): "\(d)"
        case .bool(let b): "\(b)"
        case .other(let s): s
        }
    }
}

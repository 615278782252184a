/// How signed weights become pairs of (positive-only) conductances.
///
/// Both schemes realise `w = (G⁺ − G⁻) / s` with `s` in siemens per unit weight:
///
/// - ``paper``: the reference design. Each input drives two rows, `+x` and `−x`.
///   A positive weight is one device on the *inverted* (`−x`) row, a negative weight
///   one device on the direct (`+x`) row, and a zero weight no device at all. The
///   column current is `−Σ x·w·s`; the one trans-impedance amplifier (TIA) per column
///   inverts it back, so `V = R_f·s·Σ x·w`. Half the op-amps of ``differential``.
/// - ``differential``: the usual design. Each weight is a pair of devices in two
///   columns, `G⁺ = G_min + s·max(w, 0)` and `G⁻ = G_min + s·max(−w, 0)`; each column has
///   its own TIA and a third op-amp subtracts them. Every weight costs two devices,
///   zero weights included (the `G_min` offsets cancel in the subtraction).
public enum MappingScheme: String, Sendable, Hashable, Codable, CaseIterable {
    case paper
    case differential

    /// Physical rows per logical input (paper: `+x` and `−x`).
    public var rowsPerInput: Int { self == .paper ? 2 : 1 }
    /// Physical columns per logical output (differential: `G⁺` and `G⁻` columns).
    public var columnsPerOutput: Int { self == .paper ? 1 : 2 }
    /// Op-amps per logical output: TIAs plus the differential subtractor.
    public var opAmpsPerOutput: Int { self == .paper ? 1 : 3 }
}

/// How the weight-to-conductance factor `s` (siemens per unit weight) is chosen.
public enum WeightScaling: Sendable, Hashable, Codable {
    /// One `s` per crossbar: the layer's largest |weight| maps to `G_max`.
    case perLayer
    /// One `s` per output column (each TIA has its own feedback resistor `R_f = 1/s`).
    case perColumn
    /// A fixed factor, e.g. `1` S per unit for the reference design's
    /// "conductance equals the weight in siemens".
    case fixed(siemensPerUnit: Double)

    /// Parses `layer`, `column` or a number (fixed siemens per unit).
    public init?(argument: String) {
        switch argument {
        case "layer", "per-layer": self = .perLayer
        case "column", "per-column": self = .perColumn
        default:
            guard let v = Double(argument), v > 0, v.isFinite else { return nil }
            self = .fixed(siemensPerUnit: v)
        }
    }

    public var description: String {
        switch self {
        case .perLayer: "layer"
        case .perColumn: "column"
        case .fixed(let s): "\(s)"
        }
    }
}

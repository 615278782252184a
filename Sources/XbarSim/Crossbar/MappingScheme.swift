/// How signed weights become pairs of (positive-only) conductances.
///
/// Every scheme realises `w = (G⁺ − G⁻) / s` with `s` in siemens per unit weight:
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
/// - ``invertedOutput`` (`--mapping inverted-output`): the memristive ShuffleNetV2 design
///   (inverters moved behind the crossbar). Inputs are driven as `+x` only; each output has
///   a positive-weight column and a negative-weight column on the same rows, devices placed
///   as in ``paper`` (one device per non-zero weight, in the column of its sign). TIA_a reads
///   the negative column, `V_a = −R_f·I⁻`; `V_a` drives a resistor `R_f` into the virtual
///   ground of TIA_b, which also collects the positive column: `V_b = −R_f·(I⁺ − I⁻)`; one
///   inverter gives `y = R_f·(I⁺ − I⁻)`. Two TIAs and one inverter per output, one row per input.
public enum MappingScheme: String, Sendable, Hashable, Codable, CaseIterable {
    case paper
    case differential
    case invertedOutput = "inverted-output"

    /// Physical rows per logical input (paper: `+x` and `−x`).
    public var rowsPerInput: Int { self == .paper ? 2 : 1 }
    /// Physical columns per logical output (differential, inverted-output: `G⁺` and `G⁻` columns).
    public var columnsPerOutput: Int { self == .paper ? 1 : 2 }
    /// Op-amps per logical output: TIAs plus the differential subtractor or the output inverter.
    public var opAmpsPerOutput: Int { self == .paper ? 1 : 3 }
    /// Whether a device sits only where a weight is non-zero (paper, inverted-output: the
    /// conductance span is `G_max`, targets below `G_min` rounded) rather than a `G_min`-offset
    /// pair for every weight (differential).
    public var placesDevicesPerNonZeroWeight: Bool { self != .differential }
    /// Inverters behind the crossbar per logical output (inverted-output: one).
    public var invertersPerOutput: Int { self == .invertedOutput ? 1 : 0 }
    /// Subtractors per logical output (differential: one).
    public var subtractorsPerOutput: Int { self == .differential ? 1 : 0 }
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

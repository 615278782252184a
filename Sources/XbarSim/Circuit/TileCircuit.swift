import XbarSimDevice

/// Resistances of a crossbar tile's wires and drivers (the IR-drop parameters).
///
/// Zero everywhere is the ideal crossbar (`I_c = Σ_r G_rc·V_r` exactly).
public struct WireParameters: Sendable, Hashable, Codable {
    /// Resistance of one cell segment of a word line (row), ohms.
    public var rowWireResistanceOhms: Double
    /// Resistance of one cell segment of a bit line (column), ohms.
    public var columnWireResistanceOhms: Double
    /// Output resistance of each row's input driver (DAC or previous stage), ohms.
    public var sourceResistanceOhms: Double

    public init(rowWireResistanceOhms: Double = 0, columnWireResistanceOhms: Double = 0, sourceResistanceOhms: Double = 0) {
        self.rowWireResistanceOhms = rowWireResistanceOhms
        self.columnWireResistanceOhms = columnWireResistanceOhms
        self.sourceResistanceOhms = sourceResistanceOhms
    }

    public static let ideal = WireParameters()

    /// True when every resistance is zero (no IR drop at all).
    public var isIdeal: Bool {
        rowWireResistanceOhms == 0 && columnWireResistanceOhms == 0 && sourceResistanceOhms == 0
    }

    public func validate() throws(DeviceParameterError) {
        for (value, flag) in [
            (rowWireResistanceOhms, "--row-wire-resistance"), (columnWireResistanceOhms, "--column-wire-resistance"),
            (sourceResistanceOhms, "--source-resistance"),
        ] {
            guard value.isFinite, value >= 0 else {
                throw DeviceParameterError(parameter: flag, message: "must be a finite resistance >= 0 ohms, got \(value)")
            }
        }
    }
}

/// The electrical model of one physical crossbar tile: the circuit that the IR-drop
/// solvers solve and that the SPICE netlists describe. Both must follow it exactly.
///
/// ```
///  V_0 ─[R_s + R_row]─ w(0,0) ─[R_row]─ w(0,1) ─ … ─ w(0,C−1)      (far end open)
///                        │G_00           │G_01
///                      b(0,0)          b(0,1)                       (top end open)
///                        │R_col          │R_col
///  V_1 ─[R_s + R_row]─ w(1,0) ─[R_row]─ w(1,1) ─ …
///                        │G_10           │G_11
///                      b(1,0)          b(1,1)
///                        ⋮               ⋮
///                      b(R−1,0)        b(R−1,1)
///                        │R_col          │R_col
///                      t_0 (TIA 0)     t_1 (TIA 1)
/// ```
///
/// - Row `r` is driven by an ideal source `V_r` through the driver's source resistance
///   `R_s` and one row-wire segment; each further cell adds one segment `R_row` between
///   `w(r,c)` and `w(r,c+1)`. The far end of a word line is open.
/// - Cell `(r,c)` is a device of conductance `G_rc` between `w(r,c)` and `b(r,c)`;
///   `G_rc = 0` means no device (an open circuit).
/// - Bit line `c` runs from `b(0,c)` (open end) down through segments `R_col` to
///   `b(R−1,c)`, then one more segment `R_col` to the TIA's inverting input `t_c`.
/// - TIA `c` is an op-amp with open-loop gain `A` (nil: ideal) and feedback resistor
///   `R_f,c` from `t_c` to its output: `V_out = −A·v(t_c)`. Seen from the bit line, `t_c`
///   is a resistance `R_f/(1+A)` to ground (exactly 0 V for an ideal op-amp). The
///   column current `I_c` is the current flowing from `b(R−1,c)` into `t_c`, and
///   `V_out,c = −A/(1+A)·R_f,c·I_c` (ideal: `−R_f,c·I_c`). Rails are not part of the
///   linear tile: they clip `V_out` afterwards.
///
/// With every resistance zero and an ideal op-amp, `I_c = Σ_r G_rc·V_r`.
///
/// Batches: input voltages are `[rows, batch]` row-major (index `r·batch + n`, images
/// innermost, as XbarSim's tensors), outputs `[columns, batch]`.
public struct TileCircuit: Sendable, Hashable {
    public var rows: Int
    public var columns: Int
    /// Device conductance of cell `(r, c)` at index `r·columns + c`, siemens; 0 = no device.
    public var conductanceSiemens: [Double]
    public var wires: WireParameters
    /// TIA feedback resistance of each column, ohms.
    public var feedbackOhms: [Double]
    /// Open-loop gain of the TIA op-amps; nil for ideal (exact virtual ground).
    public var openLoopGain: Double?

    public init(
        rows: Int, columns: Int, conductanceSiemens: [Double], wires: WireParameters, feedbackOhms: [Double],
        openLoopGain: Double?
    ) {
        precondition(rows > 0 && columns > 0 && conductanceSiemens.count == rows * columns)
        precondition(feedbackOhms.count == columns)
        self.rows = rows
        self.columns = columns
        self.conductanceSiemens = conductanceSiemens
        self.wires = wires
        self.feedbackOhms = feedbackOhms
        self.openLoopGain = openLoopGain
    }

    public func conductance(row r: Int, column c: Int) -> Double { conductanceSiemens[r * columns + c] }

    /// Resistance from `t_c` to ground as seen by the bit line: `R_f/(1+A)`, 0 when ideal.
    public func terminationOhms(column c: Int) -> Double {
        guard let a = openLoopGain else { return 0 }
        return feedbackOhms[c] / (1 + a)
    }

    /// `V_out,c / I_c`: `−A/(1+A)·R_f,c` (ideal `−R_f,c`).
    public func transimpedanceOhms(column c: Int) -> Double {
        guard let a = openLoopGain else { return -feedbackOhms[c] }
        return -a / (1 + a) * feedbackOhms[c]
    }

    /// Column currents without any wire or source resistance: `I_c = Σ_r G_rc·V_r`
    /// (with a finite-gain TIA, `t_c` is then the only non-ideal element). The reference
    /// every IR-drop result is compared with.
    public func idealColumnCurrents(inputVolts: [Double], batch: Int) -> [Double] {
        precondition(inputVolts.count == rows * batch)
        var out = [Double](repeating: 0, count: columns * batch)
        for c in 0..<columns {
            // With a finite-gain TIA and no wires, each device sees V_r − v(t_c), and
            // v(t_c) = R_t·I_c: I_c = Σ G·V / (1 + R_t·Σ G).
            var sumG = 0.0
            for r in 0..<rows { sumG += conductanceSiemens[r * columns + c] }
            let k = 1 / (1 + terminationOhms(column: c) * sumG)
            for n in 0..<batch {
                var s = 0.0
                for r in 0..<rows { s += conductanceSiemens[r * columns + c] * inputVolts[r * batch + n] }
                out[c * batch + n] = s * k
            }
        }
        return out
    }
}

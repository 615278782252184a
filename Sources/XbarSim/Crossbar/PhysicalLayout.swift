import XbarSimCircuit

/// Which logical signal drives a physical row: `V = sign · x_logicalRow · voltsPerUnit`
/// (bias rows are driven at `x = 1`).
public struct RowDrive: Sendable, Hashable {
    /// Index into `0..<MappedCrossbar.rows` (inputs first, then bias rows).
    public var logicalRow: Int
    /// +1 for a direct row, −1 for an inverted row (paper scheme).
    public var sign: Double
}

/// Which logical output a physical column contributes to, and with which sign after
/// its TIA (and the subtractor in the differential scheme).
public struct ColumnRead: Sendable, Hashable {
    public var output: Int
    /// Sign with which this column's TIA output `V_out = −R_f·I` enters the output (in
    /// units: `y_o = Σ sign·V_out / voltsPerUnit`): `+1` for the paper scheme's one TIA
    /// (the inverted rows already supply the sign); differential: the subtractor forms
    /// `V⁻_out − V⁺_out`, so `G⁺` columns `−1`, `G⁻` columns `+1`.
    public var sign: Double
}

/// One physical tile of a crossbar: its circuit (conductances at read time, wires, TIAs)
/// and how its rows and columns connect to the layer's logical inputs and outputs.
public struct PhysicalTile: Sendable, Hashable {
    public var circuit: TileCircuit
    public var rowDrives: [RowDrive]
    public var columnReads: [ColumnRead]
    /// Logical rows (of `MappedCrossbar.rows`) and outputs this tile covers.
    public var logicalRows: Range<Int>
    public var outputs: Range<Int>
}

/// How a mapped crossbar is laid out on physical tiles.
///
/// - Logical rows (inputs, then bias rows) are split into row tiles of
///   `⌊tileRows / rowsPerInput⌋`; outputs into column tiles of `⌊tileColumns / columnsPerOutput⌋`.
///   Row tiles' column currents add (analog mode: on the wire into one TIA; digitized:
///   after each tile's ADC); column tiles work side by side.
/// - paper: logical row `i` becomes two adjacent physical rows, `2i` direct (`+x_i`,
///   carrying the `G⁻` devices of negative weights) and `2i+1` inverted (`−x_i`,
///   carrying the `G⁺` devices). Output `o` is one column with `R_f = 1/s_o`:
///   `V_out = −R_f·Σ(x·G⁻ − x·G⁺) = x·(G⁺ − G⁻)/s`.
/// - differential: one physical row per logical row (`+x`); output `o` is columns `2o`
///   (`G⁺`) and `2o+1` (`G⁻`), each with its TIA; the subtractor forms `V⁻_out − V⁺_out`.
/// - inverted-output: rows and columns as differential (no `G_min` offset devices). Column
///   `2o+1` (`G⁻`) is read by TIA_a, `V_a = −R_f·I⁻`; column `2o` (`G⁺`) by TIA_b, whose
///   virtual ground also takes `V_a` through a resistor `R_f`: `V_b = −R_f·I⁺ − V_a`, and the
///   inverter gives `y = −V_b = R_f·I⁺ + V_a` (signs `−1` for `G⁺`, `+1` for `G⁻`, as differential).
///   With a finite-gain TIA_b the extra input conductance `1/R_f` is folded into the `G⁺`
///   column's equivalent feedback (`invertedOutputPositiveFeedbackOhms`), so the tile's
///   termination and transimpedance are TIA_b's; `V_a`'s path through TIA_b is the gain
///   factor `γ_b` applied by `EffectiveWeights`.
public enum PhysicalLayout {
    /// The equivalent feedback resistor of the inverted-output scheme's TIA_b, as seen from its
    /// crossbar column: TIA_b has feedback `R_f` and a second input resistor `R_f` (from TIA_a),
    /// so with open-loop gain `A` its virtual ground sits at `R_f/(A+2)` per amp of column
    /// current and its transimpedance is `A·R_f/(A+2)`. A TIA with feedback
    /// `R_f·(1+A)/(A+2)` has both (`TileCircuit.terminationOhms`, `transimpedanceOhms`).
    /// Ideal op-amp (nil): `R_f`.
    public static func invertedOutputPositiveFeedbackOhms(_ feedbackOhms: Double, openLoopGain: Double?) -> Double {
        guard let a = openLoopGain else { return feedbackOhms }
        return feedbackOhms * (1 + a) / (a + 2)
    }

    /// Logical rows per row tile and outputs per column tile (the whole crossbar when unlimited).
    public static func tileExtent(_ mapped: MappedCrossbar, tile: TileSize) -> (rows: Int, outputs: Int) {
        let rows = tile.rows.map { max(1, $0 / mapped.scheme.rowsPerInput) } ?? mapped.rows
        let outputs = tile.columns.map { max(1, $0 / mapped.scheme.columnsPerOutput) } ?? mapped.outputs
        return (max(1, rows), max(1, outputs))
    }

    /// The row ranges (logical rows, bias rows included) of the row tiles.
    public static func rowTiles(_ mapped: MappedCrossbar, tile: TileSize) -> [Range<Int>] {
        let step = tileExtent(mapped, tile: tile).rows
        return stride(from: 0, to: mapped.rows, by: step).map { $0..<min(mapped.rows, $0 + step) }
    }

    /// Physical tiles holding conductances `positiveSiemens`/`negativeSiemens`
    /// (`outputs x rows`, e.g. `ProgrammedCrossbar`'s values at read time).
    public static func tiles(
        _ mapped: MappedCrossbar, positiveSiemens: [Double], negativeSiemens: [Double], tile: TileSize,
        wires: WireParameters, openLoopGain: Double?
    ) -> [PhysicalTile] {
        precondition(positiveSiemens.count == mapped.outputs * mapped.rows && negativeSiemens.count == positiveSiemens.count)
        let outputStep = tileExtent(mapped, tile: tile).outputs
        let rowsPerInput = mapped.scheme.rowsPerInput
        let columnsPerOutput = mapped.scheme.columnsPerOutput
        var result: [PhysicalTile] = []
        for rowRange in rowTiles(mapped, tile: tile) {
            for first in stride(from: 0, to: mapped.outputs, by: outputStep) {
                let outputRange = first..<min(mapped.outputs, first + outputStep)
                let rows = rowRange.count * rowsPerInput
                let columns = outputRange.count * columnsPerOutput
                var g = [Double](repeating: 0, count: rows * columns)
                var drives: [RowDrive] = []
                var reads: [ColumnRead] = []
                var feedback: [Double] = []
                for o in outputRange {
                    let s = mapped.siemensPerUnit[o]
                    switch mapped.scheme {
                    case .paper:
                        reads.append(ColumnRead(output: o, sign: 1))
                        feedback.append(1 / s)
                    case .differential:
                        reads.append(ColumnRead(output: o, sign: -1))
                        reads.append(ColumnRead(output: o, sign: 1))
                        feedback += [1 / s, 1 / s]
                    case .invertedOutput:
                        reads.append(ColumnRead(output: o, sign: -1))
                        reads.append(ColumnRead(output: o, sign: 1))
                        feedback += [Self.invertedOutputPositiveFeedbackOhms(1 / s, openLoopGain: openLoopGain), 1 / s]
                    }
                }
                for l in rowRange {
                    switch mapped.scheme {
                    case .paper:
                        drives.append(RowDrive(logicalRow: l, sign: 1))
                        drives.append(RowDrive(logicalRow: l, sign: -1))
                    case .differential, .invertedOutput:
                        drives.append(RowDrive(logicalRow: l, sign: 1))
                    }
                }
                for (j, o) in outputRange.enumerated() {
                    for (i, l) in rowRange.enumerated() {
                        let gp = positiveSiemens[o * mapped.rows + l]
                        let gn = negativeSiemens[o * mapped.rows + l]
                        switch mapped.scheme {
                        case .paper:
                            g[(2 * i) * columns + j] = gn
                            g[(2 * i + 1) * columns + j] = gp
                        case .differential, .invertedOutput:
                            g[i * columns + 2 * j] = gp
                            g[i * columns + 2 * j + 1] = gn
                        }
                    }
                }
                let circuit = TileCircuit(
                    rows: rows, columns: columns, conductanceSiemens: g, wires: wires, feedbackOhms: feedback,
                    openLoopGain: openLoopGain)
                result.append(PhysicalTile(
                    circuit: circuit, rowDrives: drives, columnReads: reads, logicalRows: rowRange, outputs: outputRange))
            }
        }
        return result
    }
}

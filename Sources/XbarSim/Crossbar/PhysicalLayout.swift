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
public enum PhysicalLayout {
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
                    }
                }
                for l in rowRange {
                    switch mapped.scheme {
                    case .paper:
                        drives.append(RowDrive(logicalRow: l, sign: 1))
                        drives.append(RowDrive(logicalRow: l, sign: -1))
                    case .differential:
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
                        case .differential:
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

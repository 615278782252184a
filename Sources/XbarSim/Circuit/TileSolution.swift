/// A tile's response to a batch of input vectors.
public struct TileSolution: Sendable {
    public var batch: Int
    /// Current from each bit line into its TIA, `[columns, batch]`, amps.
    public var columnCurrentsAmps: [Double]
    /// TIA outputs `V_out,c = transimpedance_c · I_c` (before rails), `[columns, batch]`, volts.
    public var outputVolts: [Double]
    /// Word-line node voltages `w(r,c)`, `[rows, columns, batch]` (only when asked for).
    public var wordLineVolts: [Double]?
    /// Bit-line node voltages `b(r,c)`, `[rows, columns, batch]` (only when asked for).
    public var bitLineVolts: [Double]?
    /// Iterations the solver took (0 for a direct solve) and the largest relative residual
    /// `‖r‖/‖b‖` over the batch when it stopped (0 for a direct solve).
    public var iterations: Int
    public var relativeResidual: Double
}

/// Where a tile's power goes, per image (watts).
public struct TileDissipation: Sendable {
    /// `Σ G_rc·(w_rc − b_rc)²`.
    public var devicePowerWatts: [Double]
    /// Word- and bit-line segments: `Σ (Δv)²/R_row + Σ (Δv)²/R_col` (the bottom bit-line
    /// segment carries `I_c`; the first word-line segment is the `R_row` part of `R_s + R_row`).
    public var wirePowerWatts: [Double]
    /// Drivers' source resistances `R_s`.
    public var sourcePowerWatts: [Double]
    /// Power the input sources deliver, `Σ_r V_r·i_r`; equals the three above plus the
    /// TIA inputs' `Σ_c I_c²·R_f/(1+A)` (energy conservation; tests check it).
    public var suppliedPowerWatts: [Double]

    public init(circuit t: TileCircuit, inputVolts v: [Double], solution s: TileSolution) {
        guard let w = s.wordLineVolts, let b = s.bitLineVolts else {
            preconditionFailure("TileDissipation needs a solution with node voltages")
        }
        let (rows, columns, n) = (t.rows, t.columns, s.batch)
        let wires = t.wires
        var device = [Double](repeating: 0, count: n)
        var wire = [Double](repeating: 0, count: n)
        var source = [Double](repeating: 0, count: n)
        var supplied = [Double](repeating: 0, count: n)
        func node(_ r: Int, _ c: Int, _ k: Int) -> Int { (r * columns + c) * n + k }
        for r in 0..<rows {
            for c in 0..<columns {
                let g = t.conductanceSiemens[r * columns + c]
                for k in 0..<n {
                    let d = w[node(r, c, k)] - b[node(r, c, k)]
                    device[k] += g * d * d
                }
            }
            // Row wires and the driver.
            let seriesIn = wires.sourceResistanceOhms + wires.rowWireResistanceOhms
            for k in 0..<n {
                let vin = v[r * n + k]
                var i: Double
                if seriesIn > 0 {
                    i = (vin - w[node(r, 0, k)]) / seriesIn
                    source[k] += i * i * wires.sourceResistanceOhms
                    wire[k] += i * i * wires.rowWireResistanceOhms
                } else {
                    // Pinned word line: the source feeds every device directly.
                    i = 0
                    for c in 0..<columns { i += t.conductanceSiemens[r * columns + c] * (vin - b[node(r, c, k)]) }
                }
                supplied[k] += vin * i
                if wires.rowWireResistanceOhms > 0 {
                    for c in 0..<(columns - 1) {
                        let d = w[node(r, c, k)] - w[node(r, c + 1, k)]
                        wire[k] += d * d / wires.rowWireResistanceOhms
                    }
                }
            }
        }
        let rc = wires.columnWireResistanceOhms
        if rc > 0 {
            for c in 0..<columns {
                for k in 0..<n {
                    for r in 0..<(rows - 1) {
                        let d = b[node(r, c, k)] - b[node(r + 1, c, k)]
                        wire[k] += d * d / rc
                    }
                    let i = s.columnCurrentsAmps[c * n + k]
                    wire[k] += i * i * rc
                }
            }
        }
        devicePowerWatts = device
        wirePowerWatts = wire
        sourcePowerWatts = source
        suppliedPowerWatts = supplied
    }
}

import XbarSimCircuit

extension SpiceCircuitBuilder {
    /// Writes a tile's array exactly as `TileCircuit` defines it: row `r` from the ideal
    /// driver node `driverNodes[r]` through `R_s + R_row` into `w(r,0)`, row segments
    /// `R_row`, a resistor `1/G` per device (none where `G = 0`), bit-line segments `R_col`,
    /// the last one into `x_c`, and a 0 V source (the ammeter measuring `I_c`) from `x_c`
    /// into `tiaNodes[c]`. A zero row or column wire resistance merges that line's nodes.
    /// Elements are written cell by cell, row-major: ngspice's sparse solver (Sparse 1.3,
    /// Markowitz ordering) reorders a 128x128 tile several times faster in this order.
    ///
    /// - Returns: the ammeter names, one per column (`i(name)` is `I_c`, flowing into the TIA).
    @discardableResult
    public mutating func tileArray(_ c: TileCircuit, prefix p: String, driverNodes: [String], tiaNodes: [String]) -> [String] {
        precondition(driverNodes.count == c.rows && tiaNodes.count == c.columns)
        let w = c.wires
        func wNode(_ r: Int, _ k: Int) -> String { w.rowWireResistanceOhms == 0 ? "\(p)w\(r)" : "\(p)w\(r)_\(k)" }
        func bNode(_ r: Int, _ k: Int) -> String { w.columnWireResistanceOhms == 0 ? "\(p)b\(k)" : "\(p)b\(r)_\(k)" }
        netlist.comment("tile \(p): \(c.rows)x\(c.columns), R_row \(w.rowWireResistanceOhms) ohm, "
                        + "R_col \(w.columnWireResistanceOhms) ohm, R_s \(w.sourceResistanceOhms) ohm")
        for r in 0..<c.rows {
            resistor("\(p)S\(r)", driverNodes[r], wNode(r, 0), ohms: w.sourceResistanceOhms + w.rowWireResistanceOhms)
            for k in 0..<c.columns {
                let g = c.conductance(row: r, column: k)
                precondition(g >= 0 && g.isFinite, "conductance must be finite and >= 0")
                if g > 0 { netlist.add("R\(p)D\(r)_\(k) \(wNode(r, k)) \(bNode(r, k)) \(spiceNumber(1 / g))") }
                if k + 1 < c.columns, w.rowWireResistanceOhms > 0 {
                    netlist.add("R\(p)W\(r)_\(k) \(wNode(r, k)) \(wNode(r, k + 1)) \(spiceNumber(w.rowWireResistanceOhms))")
                }
                if r + 1 < c.rows, w.columnWireResistanceOhms > 0 {
                    netlist.add("R\(p)B\(r)_\(k) \(bNode(r, k)) \(bNode(r + 1, k)) \(spiceNumber(w.columnWireResistanceOhms))")
                }
            }
        }
        var ammeters: [String] = []
        for k in 0..<c.columns {
            let last = bNode(c.rows - 1, k)
            var into = last
            if w.columnWireResistanceOhms > 0 {
                into = "\(p)x\(k)"
                netlist.add("R\(p)L\(k) \(last) \(into) \(spiceNumber(w.columnWireResistanceOhms))")
            }
            let ammeter = "V\(p)AM\(k)"
            netlist.add("\(ammeter) \(into) \(tiaNodes[k]) DC 0")
            ammeters.append(ammeter)
        }
        return ammeters
    }
}

/// A netlist of one tile with its drivers and TIAs, and the vectors holding its results.
public struct TileNetlist: Sendable {
    public var netlist: SpiceNetlist
    public var rows: Int
    public var columns: Int
    public var batch: Int
    /// `i(ammeter)` of each column: `I_c`, amperes.
    public var currentVectors: [String]
    /// `v(out)` of each column's TIA: `V_out,c`, volts.
    public var outputVectors: [String]

    /// The tile of `circuit` driven by `inputVolts` (`[rows, batch]`, index `r·batch + n`);
    /// each image of the batch is one operating point. `railVolts` clips the TIA outputs.
    public init(_ circuit: TileCircuit, inputVolts: [Double], batch: Int, railVolts: Double? = nil, title: String? = nil) {
        precondition(batch > 0 && inputVolts.count == circuit.rows * batch)
        var b = SpiceCircuitBuilder(title: title ?? "XbarSim tile \(circuit.rows)x\(circuit.columns)")
        let drivers = (0..<circuit.rows).map { "in\($0)" }
        for r in 0..<circuit.rows { b.source("VIN\(r)", node: drivers[r], volts: inputVolts[r * batch]) }
        let tia = (0..<circuit.columns).map { "t\($0)" }
        let ammeters = b.tileArray(circuit, prefix: "", driverNodes: drivers, tiaNodes: tia)
        b.netlist.comment("TIAs: op-amp macro, feedback R_f per column")
        for k in 0..<circuit.columns {
            b.invertingStage("TIA\(k)", inputNode: tia[k], outputNode: "out\(k)", feedbackOhms: circuit.feedbackOhms[k],
                             openLoopGain: circuit.openLoopGain, railVolts: railVolts, role: "tias")
        }
        currentVectors = ammeters.map { "i(\($0.lowercased()))" }
        outputVectors = (0..<circuit.columns).map { "v(out\($0))" }
        for v in currentVectors + outputVectors { b.netlist.save(v) }
        if batch > 1 {
            b.netlist.points = (0..<batch).map { n in (0..<circuit.rows).map { r in ("VIN\(r)", inputVolts[r * batch + n]) } }
        }
        netlist = b.netlist
        rows = circuit.rows
        columns = circuit.columns
        self.batch = batch
    }

    /// Column currents and TIA outputs (`[columns, batch]`) from ngspice's results.
    public func results(_ points: [[String: Double]], file: String) throws(SpiceError) -> (currents: [Double], outputVolts: [Double]) {
        guard points.count == batch else {
            throw .badOutput(file: file, message: "expected \(batch) operating point(s), got \(points.count)")
        }
        var currents = [Double](repeating: 0, count: columns * batch)
        var outputs = currents
        for (n, point) in points.enumerated() {
            for k in 0..<columns {
                currents[k * batch + n] = try value(point, currentVectors[k], file: file)
                outputs[k * batch + n] = try value(point, outputVectors[k], file: file)
            }
        }
        return (currents, outputs)
    }
}

func value(_ point: [String: Double], _ name: String, file: String) throws(SpiceError) -> Double {
    guard let v = point[name] else { throw .badOutput(file: file, message: "no vector \(name)") }
    guard v.isFinite else { throw .badOutput(file: file, message: "vector \(name) is \(v)") }
    return v
}

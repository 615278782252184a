import XbarSimCircuit
import XbarSimCrossbar

extension SpiceCircuitBuilder {
    /// Writes the physical tiles (`PhysicalLayout.tiles`) of a programmed crossbar that
    /// carry `outputs`, with their drivers, TIAs and (differential scheme) subtractors or
    /// (inverted-output scheme) TIA_a → R_f → TIA_b → inverter chains.
    ///
    /// - Row drivers are ideal: a direct row is the input node itself, an inverted row an
    ///   ideal inverter (`E n 0 in 0 −1`), one per signal in the netlist (shared by every row
    ///   and copy that needs it) and only where the inverted row carries a device (an empty
    ///   row is grounded); bias rows are driven at `±u` (one unit) from reference sources.
    /// - Op-amps are tagged with their `OpAmpCounts` role (`*@opamp ROLE`); `batchNormStage`
    ///   tags them `batchNorm` / `batchNormInputInverters`.
    /// - Row tiles of the same columns feed one TIA (analog mode: their currents add on the
    ///   wire), so the finite-gain error sees the whole column's conductance, as in the engine.
    /// - Each group of outputs gets its own copy of the tile columns it needs: all outputs
    ///   share inputs (`sharedInputs`, regular convolutions and linear layers) or each has
    ///   its own (grouped/depthwise convolutions, pooling, batch-norm stages: one circuit per
    ///   output with its own word lines, as the engine solves them). With ideal wires only the
    ///   wanted columns are written; with wires (`R_row`, `R_col`, `R_s` per `TileCircuit`)
    ///   every tile carrying a wanted output is written whole, all its columns with their TIAs,
    ///   since the columns load each other through the word lines.
    ///
    /// - Global drift compensation `c` (`ProgrammedCrossbar.driftCompensation`) is an ideal
    ///   gain stage after the TIA (paper), the subtractor's gain (differential) or the output
    ///   inverter's gain (inverted-output), before the rails.
    /// - `feedbackScale` multiplies every TIA's feedback resistance (and, inverted-output, the
    ///   resistor coupling its two TIAs): an average-pooling column whose window has fewer taps
    ///   than the kernel (`AnalogStage.averagePool`'s `divisorScale`) is read with gain `kh·kw/divisor`.
    /// - Parameter inputNode: `(output, logical input row) -> node` holding `x·u` volts.
    /// - Returns: per output of `outputs`, the node holding `y·u` volts.
    public mutating func crossbar(
        _ name: String, mapped: MappedCrossbar, positiveSiemens: [Double], negativeSiemens: [Double], tile: TileSize,
        wires: WireParameters, opAmp: OpAmp, voltsPerUnit u: Double, outputs: [Int], sharedInputs: Bool,
        driftCompensation: Double = 1, batchNormStage: Bool = false, feedbackScale: Double = 1,
        inputNode: (Int, Int) -> String
    ) -> [String] {
        let tiaRole = batchNormStage ? "batchNorm" : "tias"
        let subtractorRole = batchNormStage ? "batchNorm" : "subtractors"
        let inverterRole = batchNormStage ? "batchNorm" : "inverters"
        let inputInverterRole = batchNormStage ? "batchNormInputInverters" : "inputInverters"
        let gainRole = batchNormStage ? "batchNorm" : "driftGainStages"
        let tiles = PhysicalLayout.tiles(mapped, positiveSiemens: positiveSiemens, negativeSiemens: negativeSiemens, tile: tile,
                                         wires: wires, openLoopGain: opAmp.openLoopGain)
        let groups: [[Int]]
        if sharedInputs {
            // With wires a tile's columns load each other (through the word lines): every tile
            // carrying a wanted output is written whole, so its other outputs come along (their
            // TIAs terminate their columns as in the engine; their outputs are not returned).
            var all = Set(outputs)
            var changed = !wires.isIdeal
            while changed {
                changed = false
                for t in tiles where t.columnReads.contains(where: { all.contains($0.output) }) {
                    for read in t.columnReads where all.insert(read.output).inserted { changed = true }
                }
            }
            groups = [outputs + all.subtracting(outputs).sorted()]
        } else {
            // One circuit per output: its own columns with their own word lines, as the engine's
            // `EffectiveWeights.physicalTiles` splits grouped ops (exact with wires too).
            groups = outputs.map { [$0] }
        }
        var result: [Int: String] = [:]
        let unit = reference(u)
        var minusUnit: String?
        for (gi, group) in groups.enumerated() {
            let wanted = Set(group)
            let representative = group[0]
            // `occupied`: the physical row carries a device in the kept columns.
            func drive(_ d: RowDrive, occupied: Bool) -> String {
                if d.logicalRow >= mapped.inputs {
                    if d.sign > 0 { return unit }
                    guard occupied else { return "0" }
                    if let n = minusUnit { return n }
                    let n = reference(-u)
                    minusUnit = n
                    return n
                }
                let base = inputNode(representative, d.logicalRow)
                if d.sign > 0 || base == "0" { return base }
                return occupied ? inverter(of: base, role: inputInverterRole) : "0"
            }
            // TIA nodes: output o, its k-th column (differential: G+ then G-).
            var tiaOrder: [Int: [String]] = [:]
            var feedback: [String: Double] = [:]
            for (ti, t) in tiles.enumerated() {
                let keep = t.columnReads.indices.filter { wanted.contains(t.columnReads[$0].output) }
                guard !keep.isEmpty else { continue }
                let c = t.circuit
                var g = [Double](repeating: 0, count: c.rows * keep.count)
                for r in 0..<c.rows { for (j, k) in keep.enumerated() { g[r * keep.count + j] = c.conductance(row: r, column: k) } }
                let sub = TileCircuit(rows: c.rows, columns: keep.count, conductanceSiemens: g, wires: c.wires,
                                      feedbackOhms: keep.map { c.feedbackOhms[$0] }, openLoopGain: c.openLoopGain)
                var seen: [Int: Int] = [:]
                let tia: [String] = keep.map { k in
                    let o = t.columnReads[k].output
                    let position = seen[o, default: 0]
                    seen[o] = position + 1
                    let node = "\(name)g\(gi)_o\(o)_t\(position)"
                    if feedback[node] == nil {
                        feedback[node] = c.feedbackOhms[k] * feedbackScale
                        tiaOrder[o, default: []].append(node)
                    }
                    return node
                }
                let drivers = t.rowDrives.enumerated().map { r, d in
                    drive(d, occupied: (0..<keep.count).contains { g[r * keep.count + $0] > 0 })
                }
                tileArray(sub, prefix: "\(name)g\(gi)t\(ti)_", driverNodes: drivers, tiaNodes: tia)
            }
            for o in group {
                let nodes = tiaOrder[o] ?? []
                let y = "\(name)g\(gi)_y\(o)"
                if mapped.scheme == .invertedOutput {
                    guard nodes.count == 2 else { continue }
                    // TIA_a reads the G- column: V_a = -R_f·I⁻; V_a enters TIA_b's virtual ground
                    // through R_f, TIA_b also reads the G+ column: V_b = -R_f·I⁺ - V_a; the inverter
                    // (ideal, gain -c with global drift compensation c) gives y = -c·V_b, then rails.
                    let rf = feedbackScale / mapped.siemensPerUnit[o]
                    let (positive, negative) = (nodes[0], nodes[1])
                    invertingStage("\(negative)_A", inputNode: negative, outputNode: "\(negative)_out", feedbackOhms: rf,
                                   openLoopGain: opAmp.openLoopGain, railVolts: opAmp.railVolts, role: tiaRole)
                    resistor("\(positive)_a", "\(negative)_out", positive, ohms: rf)
                    invertingStage("\(positive)_A", inputNode: positive, outputNode: "\(positive)_out", feedbackOhms: rf,
                                   openLoopGain: opAmp.openLoopGain, railVolts: opAmp.railVolts, role: tiaRole)
                    opAmpTag(inverterRole)
                    netlist.add("E\(y)_d \(y)_d 0 \(positive)_out 0 \(spiceNumber(-driftCompensation))")
                    rails("\(y)_r", input: "\(y)_d", output: y, railVolts: opAmp.railVolts)
                    result[o] = y
                    continue
                }
                for node in nodes {
                    invertingStage("\(node)_A", inputNode: node, outputNode: "\(node)_out", feedbackOhms: feedback[node] ?? 0,
                                   openLoopGain: opAmp.openLoopGain, railVolts: opAmp.railVolts, role: tiaRole)
                }
                switch (mapped.scheme, driftCompensation == 1) {
                case (.paper, true):
                    result[o] = "\(nodes[0])_out"
                case (.paper, false):
                    // Global drift compensation: an ideal gain stage c after the TIA, then rails.
                    opAmpTag(gainRole)
                    netlist.add("E\(y)_d \(y)_d 0 \(nodes[0])_out 0 \(spiceNumber(driftCompensation))")
                    rails("\(y)_r", input: "\(y)_d", output: y, railVolts: opAmp.railVolts)
                    result[o] = y
                case (.differential, _), (.invertedOutput, _):
                    // Subtractor (ideal difference amplifier, gain c): c·(V(G- TIA) - V(G+ TIA)), then rails.
                    opAmpTag(subtractorRole)
                    netlist.add("E\(y)_d \(y)_d 0 \(nodes[1])_out \(nodes[0])_out \(spiceNumber(driftCompensation))")
                    rails("\(y)_r", input: "\(y)_d", output: y, railVolts: opAmp.railVolts)
                    result[o] = y
                }
            }
        }
        return outputs.map { result[$0] ?? "0" }
    }
}

import Testing
@testable import XbarSim

struct IRDropSolverTests {
    typealias Ref = DenseNodalReference

    static func solvers(_ t: TileCircuit) throws -> [any TileSolver] {
        [try ExactTileSolver(t), FastTileSolver(t, relativeTolerance: 1e-12, maxIterations: 2000)]
    }

    /// One cell: every element in series, `I = V / (R_s + R_row + 1/G + R_col + R_f/(1+A))`,
    /// `V_out = −A/(1+A)·R_f·I`.
    /// (Test arguments use gain 0 for an ideal op-amp: swift-testing cannot describe optional arguments here.)
    @Test(arguments: [0, 1e3])
    func singleCellIsASeriesCircuit(gainOrZero: Double) throws {
        let gain: Double? = gainOrZero == 0 ? nil : gainOrZero
        let wires = WireParameters(rowWireResistanceOhms: 2, columnWireResistanceOhms: 3, sourceResistanceOhms: 50)
        let t = TileCircuit(rows: 1, columns: 1, conductanceSiemens: [1e-3], wires: wires, feedbackOhms: [2e3],
                            openLoopGain: gain)
        let rt = gain.map { 2e3 / (1 + $0) } ?? 0
        let expected = 0.3 / (50 + 2 + 1e3 + 3 + rt)
        let vout = -(gain.map { $0 / (1 + $0) } ?? 1) * 2e3 * expected
        for s in try Self.solvers(t) {
            let sol = s.solve(inputVolts: [0.3], batch: 1)
            #expect(abs(sol.columnCurrentsAmps[0] - expected) <= 1e-13 * expected, "\(type(of: s))")
            #expect(abs(sol.outputVolts[0] - vout) <= 1e-12 * abs(vout), "\(type(of: s))")
        }
    }

    /// A 1 x C word line of equal devices into ideal TIAs (bit lines pinned at 0 V): the
    /// ladder network solved by its input impedance, `Z_{C−1} = 1/G`,
    /// `Z_c = 1/(G + 1/(R_row + Z_{c+1}))`, then voltages divided down the ladder.
    @Test(arguments: [1, 2, 7, 32])
    func wordLineLadder(columns: Int) throws {
        let (g, rRow, rs, v) = (1e-3, 5.0, 20.0, 0.2)
        let wires = WireParameters(rowWireResistanceOhms: rRow, columnWireResistanceOhms: 0, sourceResistanceOhms: rs)
        let t = TileCircuit(rows: 1, columns: columns, conductanceSiemens: Array(repeating: g, count: columns), wires: wires,
                            feedbackOhms: Array(repeating: 1e4, count: columns), openLoopGain: nil)
        var z = [Double](repeating: 0, count: columns)
        z[columns - 1] = 1 / g
        for c in stride(from: columns - 2, through: 0, by: -1) { z[c] = 1 / (g + 1 / (rRow + z[c + 1])) }
        var expected: [Double] = []
        var node = v * z[0] / (rs + rRow + z[0])
        for c in 0..<columns {
            expected.append(g * node)
            if c + 1 < columns { node *= z[c + 1] / (rRow + z[c + 1]) }
        }
        for s in try Self.solvers(t) {
            let sol = s.solve(inputVolts: [v], batch: 1)
            #expect(Ref.relativeError(sol.columnCurrentsAmps, expected) <= 1e-12, "\(type(of: s)) C=\(columns)")
        }
    }

    /// Every wire configuration with all resistances positive, against the dense nodal reference.
    @Test(arguments: [
        (3, 4, 1.0, 1.0, 0.0, 0), (3, 4, 1.0, 2.0, 10.0, 1e4), (5, 2, 10.0, 0.1, 3.0, 1e3),
        (1, 6, 2.0, 5.0, 0.0, 0), (6, 1, 2.0, 5.0, 1.0, 1e2), (8, 8, 0.3, 3.0, 1.0, 1e4),
    ] as [(Int, Int, Double, Double, Double, Double)])
    func matchesDenseNodalAnalysis(rows: Int, columns: Int, rRow: Double, rCol: Double, rs: Double, gainOrZero: Double) throws {
        let gain: Double? = gainOrZero == 0 ? nil : gainOrZero
        let wires = WireParameters(rowWireResistanceOhms: rRow, columnWireResistanceOhms: rCol, sourceResistanceOhms: rs)
        // 1 mS devices so that the wires matter at these sizes.
        let t = Ref.randomTile(rows: rows, columns: columns, wires: wires, gain: gain, seed: 3, gMax: 1e-3)
        let v = Ref.randomInputs(rows: rows, batch: 3, seed: 4)
        let reference = Ref.solve(t, inputVolts: v, batch: 3)
        for s in try Self.solvers(t) {
            let sol = s.solve(inputVolts: v, batch: 3, nodeVoltages: true)
            let tag = "\(type(of: s)) \(rows)x\(columns)"
            #expect(Ref.fullScaleError(sol.columnCurrentsAmps, reference.currents) <= 1e-10, "\(tag)")
            #expect(Ref.fullScaleError(sol.wordLineVolts ?? [], reference.w) <= 1e-10, "\(tag) word lines")
            #expect(Ref.fullScaleError(sol.bitLineVolts ?? [], reference.b) <= 1e-10, "\(tag) bit lines")
        }
    }

    /// Zero resistances collapse lines (merged or pinned nodes); the result must be the
    /// limit of the dense reference as those resistances go to zero (1e-5 ohms there: the
    /// first-order difference, ~R·ΣG, and the reference's rounding, ~1e-16·cond, both stay below 1e-6).
    @Test(arguments: [
        (0.0, 2.0, 5.0, 0), (0.0, 2.0, 0.0, 0), (1.0, 0.0, 2.0, 1e3), (1.0, 0.0, 0.0, 1e3),
        (0.0, 0.0, 5.0, 1e3), (0.0, 3.0, 5.0, 1e3),
    ] as [(Double, Double, Double, Double)])
    func zeroResistancesAreLimits(rRow: Double, rCol: Double, rs: Double, gainOrZero: Double) throws {
        let gain: Double? = gainOrZero == 0 ? nil : gainOrZero
        let tiny = 1e-5
        let wires = WireParameters(rowWireResistanceOhms: rRow, columnWireResistanceOhms: rCol, sourceResistanceOhms: rs)
        let limit = WireParameters(rowWireResistanceOhms: max(rRow, tiny), columnWireResistanceOhms: max(rCol, tiny),
                                   sourceResistanceOhms: rs)
        let t = Ref.randomTile(rows: 4, columns: 5, wires: wires, gain: gain, seed: 7, gMax: 1e-3)
        var tl = t
        tl.wires = limit
        let v = Ref.randomInputs(rows: 4, batch: 2, seed: 8)
        let reference = Ref.solve(tl, inputVolts: v, batch: 2).currents
        for s in try Self.solvers(t) {
            let sol = s.solve(inputVolts: v, batch: 2)
            #expect(Ref.fullScaleError(sol.columnCurrentsAmps, reference) <= 1e-6, "\(type(of: s)) \(wires)")
        }
    }

    /// No wire or source resistance: exactly the ideal crossbar (up to rounding).
    @Test(arguments: [0, 1e4])
    func zeroWiresAreIdeal(gainOrZero: Double) throws {
        let gain: Double? = gainOrZero == 0 ? nil : gainOrZero
        let t = Ref.randomTile(rows: 16, columns: 9, wires: .ideal, gain: gain, seed: 11)
        let v = Ref.randomInputs(rows: 16, batch: 5, seed: 12)
        let ideal = t.idealColumnCurrents(inputVolts: v, batch: 5)
        for s in try Self.solvers(t) {
            let sol = s.solve(inputVolts: v, batch: 5)
            #expect(Ref.fullScaleError(sol.columnCurrentsAmps, ideal) <= 1e-14, "\(type(of: s))")
        }
    }

    /// The tile is linear: solve(a·V1 + V2) = a·solve(V1) + solve(V2), and `I = T·V` with the transfer matrix.
    @Test func superpositionAndTransferMatrix() throws {
        let wires = WireParameters(rowWireResistanceOhms: 2, columnWireResistanceOhms: 1, sourceResistanceOhms: 5)
        let t = Ref.randomTile(rows: 12, columns: 10, wires: wires, gain: 1e4, seed: 21, gMax: 1e-3)
        let v1 = Ref.randomInputs(rows: 12, batch: 1, seed: 22)
        let v2 = Ref.randomInputs(rows: 12, batch: 1, seed: 23)
        let combined = zip(v1, v2).map { 2.5 * $0 + $1 }
        for s in try Self.solvers(t) {
            let i1 = s.solve(inputVolts: v1, batch: 1).columnCurrentsAmps
            let i2 = s.solve(inputVolts: v2, batch: 1).columnCurrentsAmps
            let ic = s.solve(inputVolts: combined, batch: 1).columnCurrentsAmps
            #expect(Ref.fullScaleError(ic, zip(i1, i2).map { 2.5 * $0 + $1 }) <= 1e-10, "\(type(of: s))")
            let tm = s.transferMatrix()
            let viaT = (0..<10).map { c in (0..<12).reduce(0.0) { $0 + tm[c * 12 + $1] * combined[$1] } }
            #expect(Ref.fullScaleError(viaT, ic) <= 1e-10, "\(type(of: s))")
        }
    }

    /// Energy balance: the power the sources deliver equals the power dissipated in the
    /// devices, wires, source resistances and TIA inputs (`I²·R_f/(1+A)`).
    @Test func energyIsConserved() throws {
        let wires = WireParameters(rowWireResistanceOhms: 1.5, columnWireResistanceOhms: 0.7, sourceResistanceOhms: 4)
        let t = Ref.randomTile(rows: 9, columns: 7, wires: wires, gain: 1e3, seed: 31, gMax: 1e-3)
        let v = Ref.randomInputs(rows: 9, batch: 4, seed: 32)
        for s in try Self.solvers(t) {
            let d = s.dissipation(inputVolts: v, batch: 4)
            let currents = s.solve(inputVolts: v, batch: 4).columnCurrentsAmps
            for k in 0..<4 {
                var tia = 0.0
                for c in 0..<7 { tia += currents[c * 4 + k] * currents[c * 4 + k] * t.terminationOhms(column: c) }
                let total = d.devicePowerWatts[k] + d.wirePowerWatts[k] + d.sourcePowerWatts[k] + tia
                #expect(abs(total - d.suppliedPowerWatts[k]) <= 1e-10 * d.suppliedPowerWatts[k], "\(type(of: s))")
                #expect(d.wirePowerWatts[k] > 0 && d.sourcePowerWatts[k] > 0)
            }
        }
    }

    /// The transfer matrix against unit-input solves of the dense reference, entry by entry.
    @Test func transferMatrixMatchesColumnByColumnSolves() throws {
        let wires = WireParameters(rowWireResistanceOhms: 1, columnWireResistanceOhms: 1, sourceResistanceOhms: 0)
        let t = Ref.randomTile(rows: 6, columns: 5, wires: wires, gain: nil, seed: 41, gMax: 1e-3)
        let exact = try ExactTileSolver(t).transferMatrix()
        let reference = (0..<6).map { r -> [Double] in
            var v = [Double](repeating: 0, count: 6)
            v[r] = 1
            return Ref.solve(t, inputVolts: v, batch: 1).currents
        }
        for c in 0..<5 {
            for r in 0..<6 { #expect(abs(exact[c * 6 + r] - reference[r][c]) <= 1e-12 * (reference[r][c].magnitude + 1e-6)) }
        }
    }

    /// Fast vs exact on random tiles of typical network size: within 0.5 % of full scale at
    /// the default tolerance (in practice far below).
    @Test(arguments: [(64, 0.1), (64, 1.0), (64, 10.0), (128, 1.0)])
    func fastMatchesExact(size: Int, ohms: Double) throws {
        let wires = WireParameters(rowWireResistanceOhms: ohms, columnWireResistanceOhms: ohms, sourceResistanceOhms: 0)
        let t = Ref.randomTile(rows: size, columns: size, wires: wires, gain: 1e4, seed: 51)
        let v = Ref.randomInputs(rows: size, batch: 8, seed: 52)
        let exact = try ExactTileSolver(t).solve(inputVolts: v, batch: 8)
        let fast = FastTileSolver(t, relativeTolerance: 1e-6).solve(inputVolts: v, batch: 8)
        let error = Ref.fullScaleError(fast.outputVolts, exact.outputVolts)
        #expect(error <= 5e-3, "\(size)x\(size) at \(ohms) ohm: \(error) after \(fast.iterations) iterations")
        #expect(fast.relativeResidual <= 1e-6)
        // IR drop lowers the column currents' magnitudes relative to ideal wires.
        let ideal = t.idealColumnCurrents(inputVolts: v, batch: 8)
        #expect(exact.columnCurrentsAmps.map(abs).reduce(0, +) < ideal.map(abs).reduce(0, +))
    }

    /// The fast solver's chunked transfer matrix (what `--ir-drop fast` folds into the
    /// weights) against the exact one, for chunks that divide the rows, leave a remainder,
    /// are a single input or all of them; every wire kind (chains, merged word lines, pinned
    /// bit lines, merged bit lines with a finite-gain TIA).
    @Test(arguments: [
        (1.0, 1.0, 0.0, 1e4), (2.0, 0.0, 0.0, 1e4), (0.0, 1.5, 3.0, 0), (1.0, 0.0, 0.0, 0), (10.0, 10.0, 1.0, 1e3),
    ] as [(Double, Double, Double, Double)])
    func chunkedFastTransferMatchesExact(rRow: Double, rCol: Double, rs: Double, gainOrZero: Double) throws {
        let gain: Double? = gainOrZero == 0 ? nil : gainOrZero
        let wires = WireParameters(rowWireResistanceOhms: rRow, columnWireResistanceOhms: rCol, sourceResistanceOhms: rs)
        let t = Ref.randomTile(rows: 37, columns: 11, wires: wires, gain: gain, seed: 61, gMax: 1e-3)
        let exact = try ExactTileSolver(t).transferMatrix()
        let solver = FastTileSolver(t, relativeTolerance: 1e-12, maxIterations: 2000)
        for chunk in [1, 5, 16, 37, 64] {
            let fast = solver.transfer(chunk: chunk)
            #expect(fast.matrix.count == exact.count)
            #expect(Ref.fullScaleError(fast.matrix, exact) <= 1e-9, "chunk \(chunk)")
            #expect(fast.relativeResidual <= 1e-12, "chunk \(chunk)")
        }
    }
}

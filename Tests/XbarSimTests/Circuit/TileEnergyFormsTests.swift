import Testing
@testable import XbarSim

/// A tile's power as quadratic forms of its inputs (`TileEnergyForms`) against the solver's
/// per-input dissipation, energy conservation, the ideal-wire limit and a series circuit.
struct TileEnergyFormsTests {
    typealias Ref = DenseNodalReference

    /// Every line kind: chains, merged word lines (`R_row = 0`, `R_s > 0`), pinned word lines,
    /// merged or pinned bit lines (`R_col = 0`, finite or ideal TIA).
    static let wires: [WireParameters] = [
        WireParameters(rowWireResistanceOhms: 3.7, columnWireResistanceOhms: 1.3, sourceResistanceOhms: 2.1),
        WireParameters(rowWireResistanceOhms: 10, columnWireResistanceOhms: 1),
        WireParameters(rowWireResistanceOhms: 0, columnWireResistanceOhms: 5, sourceResistanceOhms: 1),
        WireParameters(rowWireResistanceOhms: 4, columnWireResistanceOhms: 0, sourceResistanceOhms: 6),
        WireParameters(rowWireResistanceOhms: 0, columnWireResistanceOhms: 2),
    ]

    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }

    /// `TIA input power Σ_c I_c²·R_f/(1+A)` per image, from the solved currents.
    static func tiaPower(_ t: TileCircuit, _ s: TileSolution) -> [Double] {
        (0..<s.batch).map { k in
            (0..<t.columns).reduce(0.0) { p, c in
                let i = s.columnCurrentsAmps[c * s.batch + k]
                return p + i * i * t.terminationOhms(column: c)
            }
        }
    }

    /// (1) An 8x6 tile of 0-1 mS devices, wires 1-10 Ω: `Vᵀ·Q·V` equals the exact solver's
    /// dissipation of each input vector (device, wire, source, TIA, supplied), to 1e-9.
    /// (Gain 0 stands for an ideal op-amp.)
    @Test(arguments: wires.indices, [0, 1e4])
    func formsEqualPerInputDissipation(wireCase: Int, gainOrZero: Double) throws {
        let gain: Double? = gainOrZero == 0 ? nil : gainOrZero
        let t = Ref.randomTile(rows: 8, columns: 6, wires: Self.wires[wireCase], gain: gain, seed: UInt64(wireCase), gMax: 1e-3)
        let batch = 7
        let v = Ref.randomInputs(rows: 8, batch: batch, seed: 11)
        let solver = try ExactTileSolver(t)
        let forms = TileEnergyForms(solver: solver)
        let d = solver.dissipation(inputVolts: v, batch: batch)
        let tia = Self.tiaPower(t, solver.solve(inputVolts: v, batch: batch))
        let pairs: [(String, [Double], [Double])] = [
            ("device", forms.deviceSiemens, d.devicePowerWatts), ("wire", forms.wireSiemens, d.wirePowerWatts),
            ("source", forms.sourceSiemens, d.sourcePowerWatts), ("tia", forms.tiaInputSiemens, tia),
            ("supplied", forms.suppliedSiemens, d.suppliedPowerWatts),
        ]
        for (name, form, reference) in pairs {
            let p = TileEnergyForms.power(form, inputVolts: v, batch: batch)
            let total = reference.reduce(0, +)
            if total == 0 {
                #expect(p.allSatisfy { $0 == 0 }, "\(name) \(wireCase)")
                continue
            }
            #expect(Self.relative(p.reduce(0, +), total) <= 1e-9, "\(name) \(wireCase): \(p.reduce(0, +)) vs \(total)")
            for k in 0..<batch {
                #expect(abs(p[k] - reference[k]) <= 1e-9 * max(abs(reference[k]), total / Double(batch)), "\(name) \(k)")
            }
        }
        // The wire cases are chosen so that the wires matter: their loss is not negligible.
        if !Self.wires[wireCase].isIdeal {
            let wireTotal = d.wirePowerWatts.reduce(0, +) + d.sourcePowerWatts.reduce(0, +)
            #expect(wireTotal > 1e-4 * d.devicePowerWatts.reduce(0, +))
        }
    }

    /// (2) Energy conservation: what the sources supply is dissipated in devices, wires,
    /// source resistances and (finite gain) the TIA inputs, as forms and per input.
    @Test(arguments: wires.indices, [0, 1e4])
    func suppliedPowerIsDissipated(wireCase: Int, gainOrZero: Double) throws {
        let gain: Double? = gainOrZero == 0 ? nil : gainOrZero
        let t = Ref.randomTile(rows: 8, columns: 6, wires: Self.wires[wireCase], gain: gain, seed: 40 + UInt64(wireCase),
                               gMax: 1e-3)
        let solver = try ExactTileSolver(t)
        let f = TileEnergyForms(solver: solver)
        let scale = f.suppliedSiemens.map(abs).max() ?? 0
        #expect(scale > 0)
        for k in f.suppliedSiemens.indices {
            let sum = f.deviceSiemens[k] + f.wireSiemens[k] + f.sourceSiemens[k] + f.tiaInputSiemens[k]
            #expect(abs(f.suppliedSiemens[k] - sum) <= 1e-9 * scale)
        }
        let v = Ref.randomInputs(rows: 8, batch: 5, seed: 12)
        let d = solver.dissipation(inputVolts: v, batch: 5)
        let tia = Self.tiaPower(t, solver.solve(inputVolts: v, batch: 5))
        for k in 0..<5 {
            let dissipated = d.devicePowerWatts[k] + d.wirePowerWatts[k] + d.sourcePowerWatts[k] + tia[k]
            #expect(Self.relative(dissipated, d.suppliedPowerWatts[k]) <= 1e-9)
            if gain == nil {
                #expect(tia[k] == 0)
                #expect(Self.relative(d.devicePowerWatts[k] + d.wirePowerWatts[k] + d.sourcePowerWatts[k],
                                      d.suppliedPowerWatts[k]) <= 1e-9)
            }
        }
    }

    /// The fast solver's forms agree with the exact ones to its tolerance.
    @Test func fastSolverFormsMatchExact() throws {
        let t = Ref.randomTile(rows: 12, columns: 9, wires: Self.wires[0], gain: 1e4, seed: 3, gMax: 1e-3)
        let exact = TileEnergyForms(solver: try ExactTileSolver(t))
        let fast = TileEnergyForms(solver: FastTileSolver(t, relativeTolerance: 1e-12, maxIterations: 2000))
        #expect(fast.relativeResidual <= 1e-12)
        #expect(Ref.fullScaleError(fast.deviceSiemens, exact.deviceSiemens) <= 1e-9)
        #expect(Ref.fullScaleError(fast.wireSiemens, exact.wireSiemens) <= 1e-9)
    }

    /// (3) Wires of 1e-9 Ω and no source resistance: the device energy approaches the ideal-wire
    /// `t·Σ G·V²` (`IdealWireDissipation`) and the wire loss vanishes.
    @Test func tinyWiresGiveTheIdealWireEnergy() throws {
        let wires = WireParameters(rowWireResistanceOhms: 1e-9, columnWireResistanceOhms: 1e-9)
        let t = Ref.randomTile(rows: 8, columns: 6, wires: wires, gain: nil, seed: 5, gMax: 1e-3)
        let v = Ref.randomInputs(rows: 8, batch: 6, seed: 13)
        let forms = TileEnergyForms(solver: try ExactTileSolver(t))
        let device = TileEnergyForms.power(forms.deviceSiemens, inputVolts: v, batch: 6).reduce(0, +) * 1e-8
        let wire = TileEnergyForms.power(forms.wireSiemens, inputVolts: v, batch: 6).reduce(0, +) * 1e-8
        let ideal = IdealWireDissipation().dissipation(tile: t, inputVolts: v, batch: 6, seconds: 1e-8)
        #expect(Self.relative(device, ideal.deviceJoules) <= 1e-6, "\(device) vs \(ideal.deviceJoules)")
        #expect(abs(wire) <= 1e-6 * ideal.deviceJoules)
        // The per-read hook with a solver says the same.
        var model = CircuitModel()
        model.wires = wires
        model.irDrop = .exact
        let solved = try SolvedWireDissipation(model: model).dissipation(tile: t, inputVolts: v, batch: 6, seconds: 1e-8)
        #expect(Self.relative(solved.deviceJoules, ideal.deviceJoules) <= 1e-6)
    }

    /// (5) One cell: `I = V/(R_s + R_row + 1/G + R_col + R_f/(1+A))`; the device takes `I²/G`,
    /// the wires `I²·(R_row + R_col)`, the source `I²·R_s`, the TIA input `I²·R_f/(1+A)`.
    @Test(arguments: [0, 1e3])
    func singleCellClosedForm(gainOrZero: Double) throws {
        let gain: Double? = gainOrZero == 0 ? nil : gainOrZero
        let (g, rRow, rCol, rs, rf, v) = (50e-6, 2.0, 3.0, 5.0, 1e4, 0.1)
        let wires = WireParameters(rowWireResistanceOhms: rRow, columnWireResistanceOhms: rCol, sourceResistanceOhms: rs)
        let t = TileCircuit(rows: 1, columns: 1, conductanceSiemens: [g], wires: wires, feedbackOhms: [rf], openLoopGain: gain)
        let rt = gain.map { rf / (1 + $0) } ?? 0
        let i = v / (rs + rRow + 1 / g + rCol + rt)
        for solver in [try ExactTileSolver(t), FastTileSolver(t, relativeTolerance: 1e-14, maxIterations: 100)] as [any TileSolver] {
            let f = TileEnergyForms(solver: solver)
            func p(_ q: [Double]) -> Double { q[0] * v * v }
            #expect(Self.relative(p(f.deviceSiemens), i * i / g) <= 1e-12)
            #expect(Self.relative(p(f.wireSiemens), i * i * (rRow + rCol)) <= 1e-12)
            #expect(Self.relative(p(f.sourceSiemens), i * i * rs) <= 1e-12)
            #expect(Self.relative(p(f.suppliedSiemens), v * i) <= 1e-12)
            if gain != nil {
                #expect(Self.relative(p(f.tiaInputSiemens), i * i * rt) <= 1e-12)
            } else {
                #expect(f.tiaInputSiemens == [0])
            }
        }
    }
}

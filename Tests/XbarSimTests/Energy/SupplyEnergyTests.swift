import Testing
@testable import XbarSim

/// Supply energy of the row drivers and TIAs for the crossbar currents (`V·Σ|I|·t`) against
/// hand computations and against direct loops over the physical tiles.
struct SupplyEnergyTests {
    static func config(_ mapping: MappingScheme) -> AnalogConfig {
        var c = Preset.paper.config   // G = |w| siemens, G_min = 0
        c.mapping = mapping
        return c
    }

    /// w = [0.5, −0.25] (one output), x = [1, −2] units at u = 10 mV, t = 1 ns.
    /// Devices 0.5 S (input 0) and 0.25 S (input 1). Rows: |I| = u·(1·0.5 + 2·0.25) = 10 mA in
    /// every scheme (paper: input 0's device on its −x row, input 1's on its +x row).
    /// Columns, I± = u·Σ x·G±: I⁺ = 5 mA, I⁻ = u·(−2)·0.25 = −5 mA. Paper: one TIA,
    /// |I⁻ − I⁺| = 10 mA; differential: |I⁺| + |I⁻| = 10 mA; inverted-output:
    /// 2·|I⁻| + |I⁺ − I⁻| = 20 mA. Devices: t·u²·(0.5 + 4·0.25) = 0.15 pJ.
    @Test(arguments: [(MappingScheme.paper, 10e-3), (.differential, 10e-3), (.invertedOutput, 20e-3)])
    func oneOutputCrossbarInClosedForm(mapping: MappingScheme, tiaAmps: Double) throws {
        let g = Conv2DGeometry(inChannels: 2, outChannels: 1, kernel: (1, 1), input: (1, 1))
        let layer = try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: 2, outputs: 1, weights: [0.5, -0.25], bias: nil),
                                      config: Self.config(mapping), seed: 0, key: [0])
        let x = Tensor(shape: [2, 1, 1, 1], scalars: [1, -2])
        let q = ReadEnergy.supplyCharge(layer: layer, input: x, voltsPerUnit: 0.01, readSeconds: 1e-9, dac: nil)
        #expect(abs(q.rowAmpSeconds - 10e-3 * 1e-9) < 1e-20)
        #expect(abs(q.tiaAmpSeconds - tiaAmps * 1e-9) < 1e-20)
        let e = ReadEnergy.crossbarJoules(layer: layer, input: x, voltsPerUnit: 0.01, readSeconds: 1e-9, dac: nil).joules
        #expect(abs(e - 0.15e-12) < 1e-20)
    }

    /// Through a chip run: the accumulator's driver and TIA energy, V_drv = 1.5 V, V_tia = 2 V,
    /// read 1 ns: drivers 1.5 V·10 mA·1 ns − 0.15 pJ = 14.85 pJ; TIAs 2 V·I_TIA·1 ns; and the
    /// energy model adds both to the breakdown.
    @Test(arguments: [(MappingScheme.paper, 10e-3), (.invertedOutput, 20e-3)])
    func accumulatorAndBreakdownCarryTheSupplyEnergy(mapping: MappingScheme, tiaAmps: Double) throws {
        let graph = Graph(inputShape: [2, 1, 1], ops: [
            Op(name: "flat", path: "", kind: .flatten, inputs: [0], outputShape: [2]),
            Op(name: "fc", path: "", kind: .linear(inFeatures: 2, outFeatures: 1, weight: [0.5, -0.25], bias: nil),
               inputs: [1], outputShape: [1]),
        ], outputIndex: 1)
        var config = Self.config(mapping)
        config.periphery.inputVoltageVolts = 0.02   // largest |input| 2 units -> 10 mV per unit
        var t = Technology.paper
        t.readPulseSeconds = 1e-9
        t.deviceResponseSeconds = 0
        t.driverSupplyVolts = 1.5
        t.tiaSupplyVolts = 2
        let chip = try AnalogChip(graph: graph, config: config, seed: 0, chip: 0, inputMaxAbs: 2,
                                  calibration: Calibration(maxAbs: [2, 2, 2], images: 1))
        #expect(abs(chip.voltsPerUnit - 0.01) < 1e-15)
        var observed = try ReadEnergyAccumulator(chip: chip, technology: t)
        _ = try chip.run(Tensor(shape: [2, 1, 1, 1], scalars: [1, -2]), firstImage: 0, threads: 1,
                         observe: { observed.observe($0) })
        let drivers = observed.driverJoulesPerImage(ops: 2)
        let tias = observed.tiaJoulesPerImage(ops: 2)
        #expect(abs(drivers[1] - (1.5 * 10e-3 * 1e-9 - 0.15e-12)) < 1e-18)
        #expect(abs(tias[1] - 2 * tiaAmps * 1e-9) < 1e-18)
        #expect(drivers[0] == 0 && tias[0] == 0)
        let s = EnergyModel.summary(chip: chip, layout: .weightStationary, schedule: .layerByLayer, technology: t,
                                    readJoulesPerImage: observed.joulesPerImage(ops: 2),
                                    driverJoulesPerImage: drivers, tiaJoulesPerImage: tias)
        #expect(abs(s.energy.driverJoules - drivers[1]) < 1e-24 && abs(s.energy.tiaJoules - tias[1]) < 1e-24)
        let parts = s.energy.crossbarReadJoules + s.energy.driverJoules + s.energy.tiaJoules + s.energy.opAmpJoules
            + s.energy.multiplierJoules + s.energy.dacJoules + s.energy.adcJoules + s.energy.wireJoules
        #expect(abs(s.energyPerImageJoules - parts) < 1e-24)
        // Devices + drivers = everything the drivers draw: V_drv·Σ|I_r|·t.
        #expect(abs(s.energy.crossbarReadJoules + s.energy.driverJoules - 1.5 * 10e-3 * 1e-9) < 1e-18)
    }

    /// A padded 3x3 convolution with biases (regular and depthwise, every scheme) against
    /// direct loops over the physical tile: row voltages `sign·x·u` per output position (bias
    /// rows at 1 unit), row currents `V_r·Σ_c G_rc`, column currents `Σ_r V_r·G_rc`.
    @Test(arguments: MappingScheme.allCases, [false, true])
    func convolutionAgainstDirectLoopsOverTheTile(mapping: MappingScheme, depthwise: Bool) throws {
        let (inC, groups) = depthwise ? (3, 3) : (2, 1)
        let g = Conv2DGeometry(inChannels: inC, outChannels: 3, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: groups,
                               input: (5, 4))
        var w: [Float] = []
        for k in 0..<(3 * g.fanIn) { w.append(k % 4 == 1 ? 0 : Float((k * 13) % 9 - 4) / 5) }
        let layer = try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: g.fanIn, outputs: 3, weights: w, bias: [0.3, -0.6, 0]),
                                      config: Self.config(mapping), seed: 0, key: [0])
        let images = 2
        var scalars: [Float] = []
        for k in 0..<(inC * 20 * images) { scalars.append(Float((k * 7) % 11 - 5) / 3) }
        let x = Tensor(shape: [inC, 5, 4, images], scalars: scalars)
        let u: Double = 0.01
        let seconds: Double = 1e-9
        let q = ReadEnergy.supplyCharge(layer: layer, input: x, voltsPerUnit: u, readSeconds: seconds, dac: nil)

        let m = layer.mapped
        var rowRef = 0.0, tiaRef = 0.0
        for o in 0..<3 {
            // Each output's own column(s); its group's receptive field.
            let tiles = PhysicalLayout.tiles(m, positiveSiemens: layer.programmed.positiveSiemens,
                                             negativeSiemens: layer.programmed.negativeSiemens, tile: .unlimited, wires: .ideal,
                                             openLoopGain: nil)
            let tile = try #require(tiles.first)
            let columns = tile.columnReads.indices.filter { tile.columnReads[$0].output == o }
            let group = o / g.outChannelsPerGroup
            for n in 0..<images {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        func value(_ l: Int) -> Double {
                            if l >= m.inputs { return 1 }
                            let ci = group * g.channelsPerGroup + l / 9
                            let iy: Int = oy * 2 - 1 + (l % 9) / 3
                            let ix: Int = ox * 2 - 1 + l % 3
                            guard iy >= 0, iy < 5, ix >= 0, ix < 4 else { return 0 }
                            let flat: Int = ((ci * 5 + iy) * 4 + ix) * images + n
                            return Double(x.scalars[flat])
                        }
                        var currents: [Double] = []
                        for c in columns {
                            var i = 0.0
                            for (r, d) in tile.rowDrives.enumerated() {
                                let v: Double = d.sign * value(d.logicalRow) * u
                                let gr: Double = tile.circuit.conductance(row: r, column: c)
                                i += v * gr
                                rowRef += abs(v) * gr
                            }
                            currents.append(i)
                        }
                        switch mapping {
                        case .paper: tiaRef += abs(currents[0])
                        case .differential: tiaRef += abs(currents[0]) + abs(currents[1])
                        case .invertedOutput: tiaRef += 2 * abs(currents[1]) + abs(currents[0] - currents[1])
                        }
                    }
                }
            }
        }
        let rowExpected = rowRef * seconds, tiaExpected = tiaRef * seconds
        let rowError: Double = abs(q.rowAmpSeconds - rowExpected)
        let tiaError: Double = abs(q.tiaAmpSeconds - tiaExpected)
        #expect(rowError <= 1e-6 * rowExpected, "rows \(q.rowAmpSeconds) vs \(rowExpected)")
        #expect(tiaError <= 1e-6 * tiaExpected, "TIAs \(q.tiaAmpSeconds) vs \(tiaExpected)")
        #expect(rowRef > 0 && tiaRef > 0)
    }
}

import Testing
@testable import XbarSim

/// Crossbar read energy `t·Σ V²·G` against hand computations on tiny crossbars.
struct ReadEnergyTests {
    /// Reference design: conductance = |weight| in siemens, one device per non-zero weight.
    static var paperConfig: AnalogConfig { Preset.paper.config }

    static func layer(_ weights: [Float], inputs: Int, outputs: Int, geometry: Conv2DGeometry? = nil, config: AnalogConfig)
        throws -> CrossbarLayer {
        let g = geometry ?? Conv2DGeometry(inChannels: inputs, outChannels: outputs, kernel: (1, 1), input: (1, 1))
        return try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: inputs, outputs: outputs, weights: weights, bias: nil),
                             config: config, seed: 0, key: [0])
    }

    @Test func twoByTwoPaperCrossbarMatchesHandComputation() throws {
        // w (outputs x inputs) = [[0.1, -0.2], [0.05, 0.3]] -> devices 0.1, 0.2, 0.05, 0.3 S.
        // Inputs 2 mV and -3 mV (units 0.2, -0.3 at 10 mV per unit), one read of 1 ns:
        // E = 1 ns · ((2 mV)²·(0.1 + 0.05) S + (3 mV)²·(0.2 + 0.3) S) = 1 ns · 5.1 µW = 5.1 fJ.
        let l = try Self.layer([0.1, -0.2, 0.05, 0.3], inputs: 2, outputs: 2, config: Self.paperConfig)
        let x = Tensor(shape: [2, 1, 1, 1], scalars: [0.2, -0.3])
        let (e, pMax) = ReadEnergy.crossbarJoules(layer: l, input: x, voltsPerUnit: 0.01, readSeconds: 1e-9, dac: nil)
        #expect(abs(e - 5.1e-15) < 1e-15 * 1e-5)
        // Largest device power bound: (3 mV)² · 0.3 S = 2.7 µW.
        #expect(abs(pMax - 2.7e-6) < 2.7e-6 * 1e-6)

        // The physical tile (rows +x, −x per input) by direct loops over devices gives the same.
        let m = l.mapped
        let tiles = PhysicalLayout.tiles(m, positiveSiemens: l.programmed.positiveSiemens,
                                         negativeSiemens: l.programmed.negativeSiemens, tile: .unlimited, wires: .ideal,
                                         openLoopGain: nil)
        #expect(tiles.count == 1)
        let volts = tiles[0].rowDrives.map { d in d.sign * [2e-3, -3e-3][d.logicalRow] }
        let direct = IdealWireDissipation().dissipation(tile: tiles[0].circuit, inputVolts: volts, batch: 1, seconds: 1e-9)
        #expect(abs(direct.deviceJoules - 5.1e-15) < 5.1e-15 * 1e-6)  // weights are Float
        #expect(direct.wireJoules == 0)
    }

    /// The largest power of one neuron: `Σ_i V_i² G_i` of the hottest column, over images.
    @Test func largestNeuronPowerIsTheHottestColumn() throws {
        // Devices 0.1, 0.2 (column 0) and 0.05, 0.3 S (column 1). Image 0: 2 mV, -3 mV;
        // image 1: 4 mV, 1 mV. Column powers: image 0: 4e-6·0.1 + 9e-6·0.2 = 2.2 µW,
        // 4e-6·0.05 + 9e-6·0.3 = 2.9 µW; image 1: 1.6e-5·0.1 + 1e-6·0.2 = 1.8 µW,
        // 1.6e-5·0.05 + 1e-6·0.3 = 1.1 µW. Largest: 2.9 µW.
        let l = try Self.layer([0.1, -0.2, 0.05, 0.3], inputs: 2, outputs: 2, config: Self.paperConfig)
        let x = Tensor(shape: [2, 1, 1, 2], scalars: [0.2, 0.4, -0.3, 0.1])  // [input][image]
        let p = ReadEnergy.maxNeuronPowerWatts(layer: l, input: x, voltsPerUnit: 0.01, dac: nil)
        #expect(abs(p - 2.9e-6) < 2.9e-6 * 1e-6)
        // A 3x3 convolution: the centre output of an all-ones 3x3 input sees all nine devices.
        let g = Conv2DGeometry(inChannels: 1, outChannels: 1, kernel: (3, 3), padding: (1, 1), input: (3, 3))
        let w: [Float] = (1...9).map { Float($0) / 100 }
        let conv = try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: 9, outputs: 1, weights: w, bias: nil),
                                     config: Self.paperConfig, seed: 0, key: [0])
        let ones = Tensor(shape: [1, 3, 3, 1], scalars: [Float](repeating: 1, count: 9))
        // Σ G = 0.45 S at 10 mV: 45 µW.
        #expect(abs(ReadEnergy.maxNeuronPowerWatts(layer: conv, input: ones, voltsPerUnit: 0.01, dac: nil) - 45e-6) < 45e-6 * 1e-6)
    }

    @Test func twoByTwoDifferentialCountsBothDevicesOfEveryWeight() throws {
        var config = AnalogConfig()
        config.device = .ideal
        config.device.window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 101e-6)
        config.mapping = .differential
        config.scaling = .fixed(siemensPerUnit: 1e-4)
        let w: [Float] = [0.5, -1, 0, 0.25]
        let l = try Self.layer(w, inputs: 2, outputs: 2, config: config)
        let x = Tensor(shape: [2, 1, 1, 2], scalars: [1, -2, 0.5, 3])  // [input][image]
        let vpu = 0.1, t = 10e-9
        let (e, _) = ReadEnergy.crossbarJoules(layer: l, input: x, voltsPerUnit: vpu, readSeconds: t, dac: nil)
        // Hand: G± = G_min + s·max(±w, 0); both devices of (o, i) sit on row i.
        var expected = 0.0
        for n in 0..<2 {
            for i in 0..<2 {
                let v = Double(x.scalars[i * 2 + n]) * vpu
                for o in 0..<2 {
                    let wi = Double(w[o * 2 + i])
                    let g = (1e-6 + 1e-4 * max(wi, 0)) + (1e-6 + 1e-4 * max(-wi, 0))
                    expected += v * v * g * t
                }
            }
        }
        #expect(abs(e - expected) < expected * 1e-6)
    }

    @Test(arguments: [1, 2])
    func convolutionSumsOneReadPerOutputPosition(groups: Int) throws {
        // 2 channels of 3x3, 2x2 kernel, padding 1 -> 4x4 positions; groups 2 is depthwise.
        let g = Conv2DGeometry(inChannels: 2, outChannels: 2, kernel: (2, 2), padding: (1, 1), groups: groups, input: (3, 3))
        var values = TestValues(seed: 7)
        let w = values.array(2 * g.fanIn)
        let l = try Self.layer(w, inputs: g.fanIn, outputs: 2, geometry: g, config: Self.paperConfig)
        let x = Tensor(shape: [2, 3, 3, 2], scalars: values.array(36))
        let (e, _) = ReadEnergy.crossbarJoules(layer: l, input: x, voltsPerUnit: 1, readSeconds: 1, dac: nil)
        var expected = 0.0
        for n in 0..<2 {
            for o in 0..<2 {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        for ci in 0..<g.channelsPerGroup {
                            let c = groups == 1 ? ci : o
                            for ky in 0..<2 {
                                for kx in 0..<2 {
                                    let (iy, ix) = (oy + ky - 1, ox + kx - 1)
                                    guard (0..<3).contains(iy), (0..<3).contains(ix) else { continue }
                                    let v = Double(x.scalars[((c * 3 + iy) * 3 + ix) * 2 + n])
                                    let gw = abs(Double(w[o * g.fanIn + (ci * 2 + ky) * 2 + kx]))
                                    expected += v * v * gw
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(g.outHeight == 4)
        #expect(abs(e - expected) < expected * 1e-5, "\(e) vs \(expected)")
    }
}

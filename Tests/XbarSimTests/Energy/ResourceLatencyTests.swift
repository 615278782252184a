import Testing
@testable import XbarSim

/// Op-amp and device counts of hand-built layers, and latency of a small chain, against hand counts.
struct ResourceLatencyTests {
    /// conv 2->4 channels, 3x3, padding 1, on 4x4 (16 positions) -> batch-norm -> hard-swish.
    static func convBNActivation() -> Graph {
        let g = Conv2DGeometry(inChannels: 2, outChannels: 4, kernel: (3, 3), padding: (1, 1), input: (4, 4))
        var w: [Float] = []  // no zero weights
        for k in 0..<(4 * g.fanIn) {
            let magnitude = Float(k % 7 + 1) / 10
            w.append(k % 2 == 0 ? magnitude : -magnitude)
        }
        let bn = BatchNormParameters(gamma: [1, -0.5, 2, 1], beta: [0.1, -0.2, 0, 0.3], runningMean: [0, 0.1, -0.1, 0.2],
                                     runningVariance: [1, 2, 0.5, 1], epsilon: 1e-5)
        return Graph(inputShape: [2, 4, 4], ops: [
            Op(name: "conv", path: "", kind: .conv2d(geometry: g, weight: w, bias: nil), inputs: [0], outputShape: [4, 4, 4]),
            Op(name: "bn", path: "", kind: .batchNorm(bn), inputs: [1], outputShape: [4, 4, 4]),
            Op(name: "act", path: "", kind: .hardSwish, inputs: [2], outputShape: [4, 4, 4]),
        ], outputIndex: 2)
    }

    static func chip(_ graph: Graph, mapping: MappingScheme, tile: TileSize = .unlimited) throws -> AnalogChip {
        var config = AnalogConfig()
        config.device = .ideal
        config.device.window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        config.mapping = mapping
        config.tile = tile
        let calibration = Calibration(maxAbs: [Float](repeating: 1, count: graph.ops.count + 1), images: 1)
        return try AnalogChip(graph: graph, config: config, seed: 0, chip: 0, inputMaxAbs: 1, calibration: calibration)
    }

    @Test(arguments: [MappingScheme.paper, .differential])
    func opAmpCountsOfHandBuiltLayer(mapping: MappingScheme) throws {
        let chip = try Self.chip(Self.convBNActivation(), mapping: mapping)
        let ws = ChipResources.layers(chip: chip, layout: .weightStationary, technology: .default)
        let un = ChipResources.layers(chip: chip, layout: .spatiallyUnrolled, technology: .default)
        // Per output: paper 1 TIA; differential 2 TIAs + 1 subtractor. BN: two such stages per channel.
        let (tias, subtractors) = mapping == .paper ? (4, 0) : (8, 4)
        #expect(ws[0].opAmps.tias == tias && ws[0].opAmps.subtractors == subtractors)
        #expect(ws[1].opAmps.batchNorm == 2 * (tias + subtractors))
        #expect(ws[2].opAmps.activation == 4 && ws[2].opAmps.multipliers == 4)
        // Hard-swish: the summer's inverter and two precision clamps per element.
        #expect(ws[2].opAmps.summerInverters == 4 && ws[2].opAmps.clamps == 8)
        // Paper input inverters: weight k = 18·o + l is positive (a device on the -x row) for even
        // l, the same parity for every output: 9 logical rows need one. Unrolled: every element
        // of the 2x4x4 input is read through such a row by some position (channel 0 by the
        // kernel centre, channel 1 by its left and right taps): 32. BN: the subtract stage's -x
        // row carries a device where γ >= 0 (3 channels), the scale stage's always (4).
        #expect(ws[0].opAmps.inputInverters == (mapping == .paper ? 9 : 0))
        #expect(un[0].opAmps.inputInverters == (mapping == .paper ? 32 : 0))
        #expect(ws[1].opAmps.batchNormInputInverters == (mapping == .paper ? 7 : 0))
        #expect(un[1].opAmps.batchNormInputInverters == (mapping == .paper ? 7 * 16 : 0))
        #expect(ws.map(\.steps) == [16, 16, 16])
        // Unrolled: one copy per output position (16).
        #expect(un[0].opAmps.tias == 16 * tias && un[0].opAmps.subtractors == 16 * subtractors)
        #expect(un[1].opAmps.batchNorm == 16 * 2 * (tias + subtractors))
        #expect(un[2].opAmps.activation == 64 && un[2].opAmps.multipliers == 64)
        #expect(un.map(\.steps) == [1, 1, 1])
        // Devices: 72 non-zero weights; paper one device each, differential two (G_min > 0).
        let devices = mapping == .paper ? 72 : 144
        #expect(ws[0].memristors == devices && un[0].memristors == 16 * devices)
        // One crossbar each: paper 2·18 rows x 4 columns; differential 18 x 8. Unrolled (paper
        // placement): rows = ρ·(2·6·6) padded inputs, columns = κ·4·16.
        #expect(ws[0].tiles == 1 && ws[0].cells == 144)
        #expect(un[0].tiles == 1 && un[0].cells == (mapping == .paper ? 144 * 64 : 72 * 128))
    }

    @Test func finiteTilesSplitRowsAndPackGroups() throws {
        let chip = try Self.chip(Self.convBNActivation(), mapping: .paper, tile: TileSize(rows: 8, columns: 8))
        let ws = ChipResources.layers(chip: chip, layout: .weightStationary, technology: .default)
        // 18 inputs at 4 per 8-row tile -> 5 row tiles, 4 outputs fit one column tile.
        #expect(ws[0].tiles == 5 && ws[0].cells == 5 * 64)
        #expect(abs(ws[0].tileUtilisation - 72.0 / 320) < 1e-12)
        let un = ChipResources.layers(chip: chip, layout: .spatiallyUnrolled, technology: .default)
        #expect(un[0].tiles == 16 * 5)
    }

    /// conv (4x4 output) -> conv stride 2 (2x2) -> flatten -> linear.
    static func chain() -> Graph {
        let g1 = Conv2DGeometry(inChannels: 1, outChannels: 2, kernel: (3, 3), padding: (1, 1), input: (4, 4))
        let g2 = Conv2DGeometry(inChannels: 2, outChannels: 2, kernel: (2, 2), stride: (2, 2), input: (4, 4))
        return Graph(inputShape: [1, 4, 4], ops: [
            Op(name: "c1", path: "", kind: .conv2d(geometry: g1, weight: [Float](repeating: 0.1, count: 18), bias: nil),
               inputs: [0], outputShape: [2, 4, 4]),
            Op(name: "c2", path: "", kind: .conv2d(geometry: g2, weight: [Float](repeating: 0.1, count: 16), bias: nil),
               inputs: [1], outputShape: [2, 2, 2]),
            Op(name: "flat", path: "", kind: .flatten, inputs: [2], outputShape: [8]),
            Op(name: "fc", path: "", kind: .linear(inFeatures: 8, outFeatures: 3, weight: [Float](repeating: 0.1, count: 24),
                                                    bias: nil), inputs: [3], outputShape: [3]),
        ], outputIndex: 3)
    }

    /// The paper scheme's read path holds two op-amps in series (input inverter, TIA): a read
    /// lasts `max(pulse, 0.1 ns + 2·2 ns)`.
    @Test(arguments: [(10e-9, 10e-9), (1e-9, 4.1e-9)])
    func latencyOfThreeLayerChain(readPulseSeconds: Double, readSeconds: Double) throws {
        var t = Technology()
        t.readPulseSeconds = readPulseSeconds
        t.deviceResponseSeconds = 0.1e-9
        t.opAmpSettlingSeconds = 2e-9
        let chip = try Self.chip(Self.chain(), mapping: .paper)
        func run(_ layout: ConvolutionLayout, _ schedule: Schedule) -> (Double, Double) {
            let s = EnergyModel.summary(chip: chip, layout: layout, schedule: schedule, technology: t,
                                        readJoulesPerImage: [0, 0, 0, 0])
            return (s.latencySeconds, s.intervalSeconds)
        }
        let r = readSeconds
        // Weight-stationary: 16 + 4 + 1 reads in sequence; pipelined, a new image every 16 reads.
        let (wsLatency, wsInterval) = run(.weightStationary, .layerByLayer)
        #expect(abs(wsLatency - 21 * r) < 1e-18 && abs(wsInterval - 21 * r) < 1e-18)
        let (wsPipeLatency, wsPipeInterval) = run(.weightStationary, .pipelined)
        #expect(abs(wsPipeLatency - 21 * r) < 1e-18 && abs(wsPipeInterval - 16 * r) < 1e-18)
        // Unrolled: three reads; pipelined, one image per read.
        let (unLatency, unInterval) = run(.spatiallyUnrolled, .layerByLayer)
        #expect(abs(unLatency - 3 * r) < 1e-18 && abs(unInterval - 3 * r) < 1e-18)
        let (_, unPipeInterval) = run(.spatiallyUnrolled, .pipelined)
        #expect(abs(unPipeInterval - r) < 1e-18)
    }

    @Test func opAmpEnergyFollowsGatingAndSchedule() throws {
        var t = Technology()
        t.readPulseSeconds = 10e-9
        t.opAmpStaticPowerWatts = 1e-3
        let chip = try Self.chip(Self.chain(), mapping: .paper)
        // Op-amps (weight-stationary): 2 + 2 + 3 TIAs and, every weight positive, one input
        // inverter per logical row: 9 + 8 + 8. Ungated, all 32 are on for the 21 reads.
        let ws = EnergyModel.summary(chip: chip, layout: .weightStationary, schedule: .layerByLayer, technology: t,
                                     readJoulesPerImage: [1e-12, 2e-12, 0, 3e-12])
        #expect(ws.opAmps == 32)
        #expect(abs(ws.energy.opAmpJoules - 32 * 1e-3 * 210e-9) < 1e-15)
        #expect(abs(ws.energy.crossbarReadJoules - 6e-12) < 1e-24)
        // Gated: each op's op-amps only while it computes: (11·16 + 10·4 + 11·1) reads·mW.
        t.opAmpPowerGating = true
        let gated = EnergyModel.summary(chip: chip, layout: .weightStationary, schedule: .layerByLayer, technology: t,
                                        readJoulesPerImage: [0, 0, 0, 0])
        #expect(abs(gated.energy.opAmpJoules - 227 * 1e-3 * 10e-9) < 1e-15)
        // Unrolled: TIAs scale with the positions, but an input inverter serves every copy
        // reading its signal: c1 32 TIAs + 16 inverters, c2 8 + 32, fc 3 + 8, one read each.
        let unrolledGated = EnergyModel.summary(chip: chip, layout: .spatiallyUnrolled, schedule: .layerByLayer,
                                                technology: t, readJoulesPerImage: [0, 0, 0, 0])
        #expect(abs(unrolledGated.energy.opAmpJoules - 99 * 1e-3 * 10e-9) < 1e-15)
    }
}

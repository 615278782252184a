import Foundation
import Testing
@testable import XbarSim

/// The inverted-output scheme (issue 16, the memristive ShuffleNetV2 design): `+x` rows only,
/// a positive and a negative column per output, TIA_a → `R_f` → TIA_b → inverter.
struct InvertedOutputTests {
    static func randomMatrix(inputs: Int, outputs: Int, seed: UInt64) -> CrossbarMatrix {
        var stream = RandomStream(seed: seed, key: [1])
        var w = (0..<(inputs * outputs)).map { _ in Float(stream.nextGaussian() * 0.3) }
        for k in stride(from: 0, to: w.count, by: 7) { w[k] = 0 }           // zero weights: no device
        for k in stride(from: 3, to: w.count, by: 11) { w[k] *= 0.002 }     // some below G_min
        let b = (0..<outputs).map { _ in Float(stream.nextGaussian() * 0.5) }
        return CrossbarMatrix(inputs: inputs, outputs: outputs, weights: w, bias: b)
    }

    /// Device placement is the paper scheme's (one device per non-zero weight, span `G_max`,
    /// `G_min` rounding): the same targets, `s`, bias rows, devices and rounded weights; only the
    /// physical arrangement differs. Checked against the closed form `G = s·|w|`, `s = G_max/max|w|`.
    @Test(arguments: [WeightScaling.perLayer, .perColumn])
    func targetsEqualThePaperSchemesAndTheClosedForm(scaling: WeightScaling) {
        let m = Self.randomMatrix(inputs: 30, outputs: 6, seed: 3)
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let paper = MappedCrossbar.map(m, scheme: .paper, scaling: scaling, window: window)
        let inverted = MappedCrossbar.map(m, scheme: .invertedOutput, scaling: scaling, window: window)
        #expect(inverted.positiveSiemens == paper.positiveSiemens)
        #expect(inverted.negativeSiemens == paper.negativeSiemens)
        #expect(inverted.siemensPerUnit == paper.siemensPerUnit && inverted.biasRows == paper.biasRows)
        #expect(inverted.deviceCount == paper.deviceCount && inverted.weightsRoundedToZero == paper.weightsRoundedToZero)
        #expect(inverted.weightsRoundedToZero > 0)
        // Closed form, per output column.
        for o in 0..<m.outputs {
            let largest: Double
            switch scaling {
            case .perLayer: largest = Double(m.weights.map { abs($0) }.max() ?? 0)
            default: largest = Double((0..<m.inputs).map { abs(m.weights[o * m.inputs + $0]) }.max() ?? 0)
            }
            let s = 100e-6 / largest
            #expect(abs(inverted.siemensPerUnit[o] - s) <= 1e-12 * s)
            for i in 0..<m.inputs {
                let w = Double(m.weights[o * m.inputs + i])
                var g = abs(w) * s
                if g < 1e-6 { g = g >= 0.5e-6 ? 1e-6 : 0 }
                let (gp, gn) = (inverted.positiveSiemens[o * inverted.rows + i], inverted.negativeSiemens[o * inverted.rows + i])
                #expect(abs((w > 0 ? gp : gn) - g) <= 1e-12 * 100e-6, "output \(o) input \(i)")
                #expect((w > 0 ? gn : gp) == 0)
            }
        }
        #expect(MappingScheme.invertedOutput.rowsPerInput == 1 && MappingScheme.invertedOutput.columnsPerOutput == 2)
        #expect(MappingScheme.invertedOutput.opAmpsPerOutput == 3 && MappingScheme.invertedOutput.invertersPerOutput == 1)
    }

    /// Nodal solution of one output's circuit, independent of the engine: TIA_a (open-loop gain
    /// `A`, feedback `R_f`) on the negative column, `V_a` through `R_f` into TIA_b's inverting
    /// input together with the positive column, an ideal inverter. Inputs `x` in volts (bias rows
    /// at 1). `A = nil`: ideal op-amps.
    static func nodal(positive gp: [Double], negative gn: [Double], x: [Double], rf: Double, gain a: Double?) -> Double {
        var xp = 0.0, xn = 0.0, sp = 0.0, sn = 0.0
        for k in x.indices {
            xp += gp[k] * x[k]
            xn += gn[k] * x[k]
            sp += gp[k]
            sn += gn[k]
        }
        guard let a else { return rf * xp - rf * xn }
        // KCL at TIA_a's input v: Σ G⁻(x − v) + (V_a − v)/R_f = 0 with V_a = −A·v.
        let va = -a * xn / (sn + (a + 1) / rf)
        // KCL at TIA_b's input u: Σ G⁺(x − u) + (V_a − u)/R_f + (V_b − u)/R_f = 0 with V_b = −A·u.
        let u = (xp + va / rf) / (sp + (a + 2) / rf)
        return a * u   // y = −V_b
    }

    /// Finite op-amp gain (A = 50, so the error is visible): the engine's effective weights equal
    /// the nodal solution, untiled, with row tiles sharing one TIA pair per output (analog), and
    /// with each row tile its own circuit (digitized).
    @Test(arguments: ["unlimited", "8x8", "8x8 digitized"])
    func finiteGainMatchesTheNodalSolution(tileName: String) throws {
        let m = Self.randomMatrix(inputs: 13, outputs: 5, seed: 7)
        var config = Preset.ideal.config
        config.mapping = .invertedOutput
        config.periphery.opAmp = OpAmp(railVolts: nil, openLoopGain: 50)
        config.tile = try #require(TileSize(argument: String(tileName.split(separator: " ")[0])))
        if tileName.hasSuffix("digitized") { config.mode = .digitized }
        let g = Conv2DGeometry(inChannels: 13, outChannels: 5, kernel: (1, 1), input: (1, 1))
        let layer = try CrossbarLayer(geometry: g, matrix: m, config: config, seed: 1, key: [0])
        let mapped = layer.mapped
        var stream = RandomStream(seed: 11, key: [2])
        let x = (0..<m.inputs).map { _ in stream.nextGaussian() } + [Double](repeating: 1, count: mapped.biasRows)
        let parts = config.mode == .digitized ? PhysicalLayout.rowTiles(mapped, tile: config.tile) : [0..<mapped.rows]
        #expect(layer.parts.count == parts.count)
        if tileName != "unlimited" { #expect(PhysicalLayout.rowTiles(mapped, tile: config.tile).count > 1) }
        var deviation = 0.0, scale = 0.0
        var ideal = 0.0
        for o in 0..<m.outputs {
            var engine = 0.0, reference = 0.0
            for (part, rows) in zip(layer.parts, parts) {
                for (j, i) in part.inputRows.enumerated() { engine += Double(part.weights[o * part.inputRows.count + j]) * x[i] }
                engine += Double(part.bias?[o] ?? 0)
                let gp = rows.map { layer.programmed.positiveSiemens[o * mapped.rows + $0] }
                let gn = rows.map { layer.programmed.negativeSiemens[o * mapped.rows + $0] }
                let rf = 1 / mapped.siemensPerUnit[o]
                reference += Self.nodal(positive: gp, negative: gn, x: rows.map { x[$0] }, rf: rf, gain: 50)
                ideal += Self.nodal(positive: gp, negative: gn, x: rows.map { x[$0] }, rf: rf, gain: nil)
            }
            deviation = max(deviation, abs(engine - reference))
            scale = max(scale, abs(reference))
        }
        #expect(deviation <= 1e-6 * scale, "\(tileName): \(deviation) of \(scale)")
        // The gain error is real (so the comparison above tests it): A = 50 moves outputs by percent.
        #expect(abs(ideal) > 0)
    }

    /// With rails, TIA_a, TIA_b and the inverter each clip: a negative part beyond the rail
    /// saturates V_a, so the output is `clip(p − clip(n))`, not `clip(p − n)`.
    @Test func railsClipTheNegativeTIAOnItsOwn() throws {
        // One output, weights +1 and −1 (unit scale); inputs drive both halves to 3 units.
        let m = CrossbarMatrix(inputs: 2, outputs: 1, weights: [1, -1], bias: nil)
        var config = Preset.ideal.config
        config.mapping = .invertedOutput
        config.periphery.opAmp = OpAmp(railVolts: 1, openLoopGain: nil)
        let g = Conv2DGeometry(inChannels: 2, outChannels: 1, kernel: (1, 1), input: (1, 1))
        let layer = try CrossbarLayer(geometry: g, matrix: m, config: config, seed: 1, key: [0])
        let part = try #require(layer.parts.first)
        #expect(part.positiveWeights != nil && part.negativeWeights != nil && part.negativeChainGain == [1])
        let x = Tensor(shape: [2, 1, 1, 2], scalars: [3, 0.5, 2.5, 0.25])   // image 0: (3, 2.5); image 1: (0.5, 0.25)
        let y = layer.run(x, mode: .analog, periphery: config.periphery,
                          ranges: SignalRanges(railUnits: 2, inputRange: 3, outputRange: 3),
                          noise: NoiseKey(seed: 0, crossbar: [0], firstImage: 0), threads: 1)
        // Rail 2 units: image 0: V_a clips at 2, y = 3 − 2 = 1 (unclipped: 0.5); image 1: 0.5 − 0.25 = 0.25.
        #expect(abs(y.scalars[0] - 1) < 1e-6 && abs(y.scalars[1] - 0.25) < 1e-6, "\(y.scalars)")
    }

    /// Op-amps by role, every crossbar (conv, FC, GAP; BN stages in their own role): two TIAs
    /// and one inverter per output where the paper scheme has one TIA; no subtractors; devices as paper.
    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"),
          arguments: [ConvolutionLayout.weightStationary, .spatiallyUnrolled])
    func opAmpCountsByRole(layout: ConvolutionLayout) throws {
        var settings = EvaluationSettings()
        settings.modelPath = repositoryRoot + "/Weights/testnets/resnet20_tiny.h5"
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 2
        let inputs = try EvaluationInputs(settings: settings)
        let calibration = try Evaluation.calibrate(inputs, images: 2, threads: 1)
        func counts(_ scheme: MappingScheme) throws -> (OpAmpCounts, Int) {
            var config = Preset.ideal.config
            config.mapping = scheme
            let chip = try AnalogChip(graph: inputs.model.graph, config: config, seed: 1, chip: 0,
                                      inputMaxAbs: Evaluation.inputMaxAbs(inputs.model.metadata), calibration: calibration)
            let layers = ChipResources.layers(chip: chip, layout: layout, technology: .default)
            return (layers.reduce(OpAmpCounts()) { $0 + $1.opAmps }, layers.reduce(0) { $0 + $1.memristors })
        }
        let (paper, paperDevices) = try counts(.paper)
        let (inverted, invertedDevices) = try counts(.invertedOutput)
        #expect(paper.tias > 0 && paper.subtractors == 0 && paper.inverters == 0)
        #expect(inverted.tias == 2 * paper.tias)
        #expect(inverted.inverters == paper.tias)
        #expect(inverted.subtractors == 0)
        #expect(inverted.batchNorm == 3 * paper.batchNorm)
        #expect(inverted.activation == paper.activation && inverted.summers == paper.summers && inverted.maxPool == paper.maxPool)
        // The inverters move from the paper scheme's inputs (conv/FC/GAP and BN rows) to the outputs.
        #expect(paper.inputInverters > 0 && paper.batchNormInputInverters > 0)
        #expect(inverted.inputInverters == 0 && inverted.batchNormInputInverters == 0)
        #expect(inverted.total == paper.total - paper.inputInverters - paper.batchNormInputInverters
            + 2 * paper.tias + 2 * paper.batchNorm)
        #expect(invertedDevices == paperDevices)
    }

    /// The crossbar modules (batch-norm stages, GAP, FC 16→10 with bias) of the inverted-output
    /// scheme through ngspice against the engine: ideal periphery, and finite gain 1e4 with rails
    /// and 8x8 tiles (FC rows over two row tiles sharing TIA_a/TIA_b).
    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"), arguments: [false, true])
    func crossbarModulesMatchNgspice(nonIdeal: Bool) throws {
        let ngspice = try #require(testNgspice)
        var config = nonIdeal ? ModuleCircuitTests.nonIdealConfig() : Preset.ideal.config
        config.mapping = .invertedOutput
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let items = try ModuleCheck.run(config: config, voltsPerUnit: 0.05, points: 41, ngspice: ngspice, directory: dir)
        let crossbars = items.filter { item in ["batchnorm", "global_avg_pool", "linear"].contains { item.name.hasSuffix("(\($0))") } }
        #expect(crossbars.count == 3)
        for item in crossbars {
            print("inverted-output module \(nonIdeal ? "non-ideal" : "ideal") \(item.name): \(item.relativeError)")
            #expect(item.relativeError <= 1e-6, "\(item.name): \(item.relativeError) (max abs \(item.maxAbsoluteError))")
            #expect(item.values >= 8 && item.scale > 0)
        }
    }

    /// Ops of the trained network (conv, BN, GAP, FC, ...) mapped inverted-output, one test image,
    /// ngspice against the engine, ideal and rram presets (finite gain, rails, variation, drift).
    @Test(.enabled(if: testNgspice != nil && sharedDataDirectory != nil, "needs ngspice and ../shared/cifar10"),
          arguments: [Preset.ideal, .rram])
    func modelOpsMatchNgspice(preset: Preset) throws {
        let ngspice = try #require(testNgspice)
        var settings = EvaluationSettings()
        settings.modelPath = defaultModelPath
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 2
        let inputs = try EvaluationInputs(settings: settings)
        var config = preset.config
        config.mapping = .invertedOutput
        config.mode = .analog
        config.calibrationImages = 16
        config.tile = try #require(TileSize(argument: "64x32"))
        let calibration = try Evaluation.calibrate(inputs, images: 16, threads: 2)
        let chip = try AnalogChip(graph: inputs.model.graph, config: config, seed: 3, chip: 0,
                                  inputMaxAbs: Evaluation.inputMaxAbs(inputs.model.metadata), calibration: calibration)
        var picked: [String: Int] = [:]
        for (i, op) in chip.graph.ops.enumerated() where picked[op.kind.typeName] == nil {
            if ["conv2d", "batchnorm", "global_avg_pool", "linear"].contains(op.kind.typeName) { picked[op.kind.typeName] = i }
        }
        #expect(picked.count == 4)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let items = try SpiceCheck.ops(chip: chip, ops: picked.values.sorted(), image: inputs.batch(1..<2), firstImage: 1,
                                       selection: LayerSelection(channels: 2, positions: 1), ngspice: ngspice, directory: dir,
                                       threads: 2)
        #expect(items.count == picked.count)
        for item in items {
            print("inverted-output op \(preset) \(item.name): \(item.relativeError)")
            #expect(item.relativeError <= 1e-6, "\(preset) \(item.name): \(item.relativeError)")
            #expect(item.scale > 0)
        }
    }
}

import Foundation
import Testing
@testable import XbarSim

/// IR drop inside the network: crossbar layers whose effective weights come from the
/// tiles' circuits.
struct IRDropLayerTests {
    /// A 3x3 convolution of 16 input channels (fanIn 144) to 20 outputs with biases, on tiles
    /// small enough to split rows and columns.
    static func layer(_ config: AnalogConfig, groups: Int = 1) throws -> CrossbarLayer {
        let (inC, outC) = groups == 1 ? (16, 20) : (20, 20)
        let g = Conv2DGeometry(inChannels: inC, outChannels: outC, kernel: (3, 3), padding: (1, 1), groups: groups,
                               input: (4, 4))
        var stream = RandomStream(seed: 5, key: [UInt64(groups)])
        let w = (0..<(outC * g.fanIn)).map { _ in Float(stream.nextGaussian() * 0.2) }
        let b = (0..<outC).map { _ in Float(stream.nextGaussian() * 0.1) }
        return try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: g.fanIn, outputs: outC, weights: w, bias: b),
                                 config: config, seed: 9, key: [0, 1], threads: 2)
    }

    static func config(_ scheme: MappingScheme, _ mode: SignalMode, ohms: Double, irDrop: IRDropMode) -> AnalogConfig {
        var c = Preset.rram.config
        c.device.variation.relativeSigma = 0   // keep the comparison about the wires
        c.mapping = scheme
        c.mode = mode
        c.tile = TileSize(rows: 64, columns: 16)
        c.circuit.wires = WireParameters(rowWireResistanceOhms: ohms, columnWireResistanceOhms: ohms)
        c.circuit.irDrop = irDrop
        c.circuit.fastTolerance = 1e-9
        return c
    }

    static func maxRelative(_ a: [Float], _ b: [Float]) -> Double {
        let scale = Double(b.map(abs).max() ?? 0)
        return zip(a, b).map { Double(abs($0 - $1)) }.max().map { $0 / scale } ?? 0
    }

    static let cases: [(MappingScheme, SignalMode)] = [
        (.paper, .analog), (.paper, .digitized), (.differential, .analog), (.differential, .digitized),
        (.invertedOutput, .analog), (.invertedOutput, .digitized),
    ]

    /// Zero wires: the solvers' tiles give the ideal-wire weights (finite-gain TIAs included).
    @Test(arguments: cases.indices)
    func zeroWiresSolvedEqualOff(index: Int) throws {
        let (scheme, mode) = Self.cases[index]
        let off = try Self.layer(Self.config(scheme, mode, ohms: 0, irDrop: .off))
        for solver in [IRDropMode.exact, .fast] {
            let solved = try Self.layer(Self.config(scheme, mode, ohms: 0, irDrop: solver))
            #expect(off.parts.count == solved.parts.count)
            for (a, b) in zip(off.parts, solved.parts) {
                #expect(a.inputRows == b.inputRows)
                #expect(Self.maxRelative(b.weights, a.weights) <= 1e-6, "\(scheme) \(mode) \(solver)")
                #expect(Self.maxRelative(b.bias ?? [], a.bias ?? []) <= 1e-6)
            }
        }
    }

    /// Wires lower every output's total current (sum of |effective weights| per output),
    /// more with more resistance; fast and exact agree.
    @Test(arguments: cases.indices)
    func wiresReduceColumnCurrents(index: Int) throws {
        let (scheme, mode) = Self.cases[index]
        let off = try Self.layer(Self.config(scheme, mode, ohms: 0, irDrop: .off))
        func magnitude(_ l: CrossbarLayer) -> [Double] {
            var m = [Double](repeating: 0, count: 20)
            for p in l.parts {
                let width = p.inputRows.count
                for o in 0..<20 { for j in 0..<width { m[o] += Double(abs(p.weights[o * width + j])) } }
            }
            return m
        }
        let base = magnitude(off)
        var previous = base
        for ohms in [1.0, 10.0] {
            let exact = try Self.layer(Self.config(scheme, mode, ohms: ohms, irDrop: .exact))
            let fast = try Self.layer(Self.config(scheme, mode, ohms: ohms, irDrop: .fast))
            let m = magnitude(exact)
            for o in 0..<20 { #expect(m[o] < previous[o], "\(scheme) \(mode) \(ohms) ohm, output \(o)") }
            previous = m
            for (a, b) in zip(fast.parts, exact.parts) {
                #expect(Self.maxRelative(a.weights, b.weights) <= 1e-5, "fast vs exact \(scheme) \(mode) \(ohms)")
            }
        }
        #expect(previous.reduce(0, +) < 0.999 * base.reduce(0, +))
    }

    /// Depthwise: each channel's column is its own circuit, so a channel's weights do not
    /// depend on the other channels' devices (exactly the single-channel crossbar).
    @Test func depthwiseChannelsAreSeparateCircuits() throws {
        let config = Self.config(.paper, .analog, ohms: 5, irDrop: .exact)
        let l = try Self.layer(config, groups: 20)
        // Channel 0 alone as a 1-output crossbar.
        let g = Conv2DGeometry(inChannels: 1, outChannels: 1, kernel: (3, 3), padding: (1, 1), input: (4, 4))
        let m = l.mapped
        var stream = RandomStream(seed: 5, key: [20])
        let w = (0..<(20 * 9)).map { _ in Float(stream.nextGaussian() * 0.2) }
        let b = (0..<20).map { _ in Float(stream.nextGaussian() * 0.1) }
        // Same s (per-column scaling) and the same programmed devices: compare through the mapping.
        #expect(m.scheme == .paper)
        let single = try CrossbarLayer(
            geometry: g, matrix: CrossbarMatrix(inputs: 9, outputs: 1, weights: Array(w[0..<9]), bias: [b[0]]),
            config: config, seed: 9, key: [0, 1], threads: 1)
        let whole = l.parts[0].weights
        let alone = single.parts[0].weights
        // Programming draws differ between the two crossbars only through stuck faults and
        // levels keyed by position; with the rram preset's levels both map identically for
        // channel 0 (same column maximum), so the weights must agree closely.
        #expect(Self.maxRelative(Array(whole[0..<9]), alone) <= 0.05)
        // And IR drop is present: the weights differ from the ideal-wire ones.
        var ideal = config
        ideal.circuit.irDrop = .off
        let offWhole = try Self.layer(ideal, groups: 20).parts[0].weights
        #expect(Self.maxRelative(Array(whole[0..<9]), Array(offWhole[0..<9])) > 1e-4)
    }
}

/// The whole network with the tiles solved as circuits.
struct IRDropNetworkTests {
    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"))
    func solvedTilesWithZeroWiresReproduceFloatAndWiresChangeLogits() throws {
        var settings = EvaluationSettings()
        settings.modelPath = defaultModelPath
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 16
        let inputs = try EvaluationInputs(settings: settings)
        let calibration = try Evaluation.calibrate(inputs, images: 16, threads: 2)
        let batch = inputs.batch(0..<16)
        let float = try FloatExecutor(graph: inputs.model.graph, threads: 2).run(batch)
        func logits(ohms: Double, _ mode: IRDropMode) throws -> Tensor {
            var config = Preset.ideal.config
            config.tile = TileSize(rows: 64, columns: 64)   // exact cost ~ C³ per tile: keep the suite quick
            config.calibrationImages = 16
            config.circuit.wires = WireParameters(rowWireResistanceOhms: ohms, columnWireResistanceOhms: ohms)
            config.circuit.irDrop = mode
            let chip = try AnalogChip(graph: inputs.model.graph, config: config, seed: 1, chip: 0,
                                      inputMaxAbs: Evaluation.inputMaxAbs(inputs.model.metadata), calibration: calibration,
                                      threads: 2)
            return try chip.run(batch, firstImage: 0, threads: 2)
        }
        let exact = try logits(ohms: 0, .exact)
        #expect(GoldenCheck.relativeError(exact.scalars, float.scalars) <= 1e-4)
        let wired = try logits(ohms: 0.3, .exact)
        #expect(GoldenCheck.relativeError(wired.scalars, float.scalars) > 1e-3)
    }
}

extension IRDropLayerTests {
    /// A fast solver that cannot reach its tolerance within its iteration limit is an error
    /// naming the flag, not a silently inaccurate chip.
    @Test func unconvergedFastSolverIsReported() throws {
        var config = Self.config(.paper, .analog, ohms: 10, irDrop: .fast)
        config.circuit.fastTolerance = 1e-14
        config.circuit.fastMaxIterations = 1
        do {
            _ = try Self.layer(config)
            Issue.record("an unconverged solve was accepted")
        } catch {
            #expect("\(error)".contains("--ir-drop-tolerance"))
        }
    }
}

/// `CrossbarLayer.irDropWeightError` (reported per crossbar by `eval`) against a closed form.
struct IRDropWeightErrorTests {
    /// One input, one output, paper scheme, ideal TIA, column wires `r` only: the single device
    /// `G` at physical row `p` of 2 reaches the TIA through `2 − p` bit-line segments, so
    /// `T = G/(1 + k·r·G)` and the weight is off ideal wires by `k·r·G/(1 + k·r·G)`
    /// (positive weight: inverted row 1, k = 1; negative: direct row 0, k = 2).
    @Test(arguments: [(Float(0.5), 1.0), (Float(-0.5), 2.0)])
    func singleDeviceMatchesTheSeriesCircuit(weight: Float, segments k: Double) throws {
        var c = Preset.ideal.config
        c.circuit.wires = WireParameters(rowWireResistanceOhms: 0, columnWireResistanceOhms: 100)
        c.circuit.irDrop = .exact
        let g = Conv2DGeometry(inChannels: 1, outChannels: 1, kernel: (1, 1), input: (1, 1))
        let layer = try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: 1, outputs: 1, weights: [weight], bias: nil),
                                      config: c, seed: 1, key: [0])
        let device = max(layer.programmed.positiveSiemens[0], layer.programmed.negativeSiemens[0])
        let x = k * 100 * device
        let error = try #require(layer.irDropWeightError())
        // Effective weights are Float: the error is known to about 1e-7 of the weight.
        #expect(abs(error - x / (1 + x)) <= 1e-6, "device \(device) S, x \(x)")
        #expect(error > 1e-3)   // 100 Ω against ~10 kΩ devices: a visible effect, not zero
    }

    @Test func absentWithIdealWires() throws {
        let c = Preset.rram.config
        let g = Conv2DGeometry(inChannels: 2, outChannels: 3, kernel: (1, 1), input: (2, 2))
        let layer = try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: 2, outputs: 3, weights: [1, -2, 3, 0, 1, -1],
                                                                          bias: nil), config: c, seed: 1, key: [0])
        #expect(c.circuit.irDrop == .off && layer.irDropWeightError() == nil)
    }
}

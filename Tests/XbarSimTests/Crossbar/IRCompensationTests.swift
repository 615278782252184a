import Foundation
import Testing
@testable import XbarSim

/// IR-drop-aware programming (`--ir-compensation`): pre-distorted targets against closed forms
/// and an independent circuit solve. The engine's effective weights are single precision
/// (`EffectiveWeights`), so "exact" here means to a few ulps of Float32 (1e-6 relative), against
/// uncompensated errors of 1e-3 to 1e-1.
struct IRCompensationTests {
    static func options(ohms: Double, solver: IRDropMode = .exact) -> EffectiveWeightOptions {
        var circuit = CircuitModel()
        circuit.wires = WireParameters(rowWireResistanceOhms: ohms, columnWireResistanceOhms: ohms)
        circuit.irDrop = solver
        circuit.fastTolerance = 1e-12
        return EffectiveWeightOptions(
            tile: .unlimited, circuit: circuit, opAmp: .ideal, partPerRowTile: false, separateOutputs: false,
            keepTIAsSeparate: false, readNoiseSigma: 0, driftCompensation: 1, threads: 1)
    }

    /// One weight, paper scheme: the device sits on the inverted row between one word-line and one
    /// bit-line segment, so the column sees `1/G_eff = R + 1/G + R`. Pre-distortion must find
    /// `1/G* = 1/(s·w) − 2R` exactly.
    @Test func singleDeviceReachesTheClosedForm() throws {
        let s = 50e-6, r = 1000.0
        let matrix = CrossbarMatrix(inputs: 1, outputs: 1, weights: [1], bias: nil)
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let mapped = MappedCrossbar.map(matrix, scheme: .paper, scaling: .fixed(siemensPerUnit: s), window: window)
        #expect(mapped.positiveSiemens == [s])
        let (out, result) = try IRCompensation.predistort(mapped, options: Self.options(ohms: r), window: window,
                                                          levels: .continuous, iterations: 30)
        let expected = 1 / (1 / s - 2 * r)  // 55.56 µS
        #expect(abs(out.positiveSiemens[0] - expected) / expected < 1e-7)
        #expect(out.negativeSiemens == [0])
        // Before: G_eff = 1/(1/s + 2R) = 45.45 µS, 9.09 % low.
        let before = (s - 1 / (1 / s + 2 * r)) / s
        #expect(abs(result.residualBefore - before) < 1e-6)
        #expect(result.residual < 1e-6)
        #expect(result.devicesAtWindowLimit == 0)
        #expect(result.residualHistory.count == 30)
    }

    /// The same weight with `G_max` = 52 µS: the needed 55.56 µS is outside the window, the device
    /// is clipped at `G_max` and the residual is that of `G_max` through the wires, not zero.
    @Test func infeasibleTargetReportsItsResidual() throws {
        let s = 50e-6, r = 1000.0, gMax = 52e-6
        let matrix = CrossbarMatrix(inputs: 1, outputs: 1, weights: [1], bias: nil)
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: gMax)
        let mapped = MappedCrossbar.map(matrix, scheme: .paper, scaling: .fixed(siemensPerUnit: s), window: window)
        let (out, result) = try IRCompensation.predistort(mapped, options: Self.options(ohms: r), window: window,
                                                          levels: .continuous, iterations: 20)
        #expect(out.positiveSiemens == [gMax])
        let residual = (s - 1 / (1 / gMax + 2 * r)) / s  // 5.8 %
        #expect(abs(result.residual - residual) < 1e-6)
        #expect(result.residual > 0.05)
        #expect(result.residual < result.residualBefore)
        #expect(result.devicesAtWindowLimit == 1)
    }

    /// The same infeasible weight with `.rescale`: the column's scale drops so that the needed
    /// conductance fits under `G_max`, and the weight is reached. With `s' = κ·s` and the device at
    /// `G`, `w_eff = 1/((1/G + 2R)·s')` must be 1: the device lands on `G_max` exactly when
    /// `s' = 1/(1/G_max + 2R)` (the closed form).
    @Test func rescaleMakesTheInfeasibleWeightFeasible() throws {
        let s = 50e-6, r = 1000.0, gMax = 52e-6
        let matrix = CrossbarMatrix(inputs: 1, outputs: 1, weights: [1], bias: nil)
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: gMax)
        let mapped = MappedCrossbar.map(matrix, scheme: .paper, scaling: .fixed(siemensPerUnit: s), window: window)
        let (out, result) = try IRCompensation.predistort(mapped, options: Self.options(ohms: r), window: window,
                                                          levels: .continuous, iterations: 30, policy: .rescale)
        #expect(result.residual < 1e-6)
        #expect(result.residualBefore > 0.05)
        let g = out.positiveSiemens[0], sNew = out.siemensPerUnit[0]
        #expect(g <= gMax)
        #expect(abs(1 / ((1 / g + 2 * r) * sNew) - 1) < 1e-6)
        // The first rescale puts the proposal on G_max; later iterations only move it down.
        #expect(sNew < s)
    }

    /// Levels: the residual is measured on the targets rounded to the levels, so it cannot go
    /// below the rounding of the pre-distorted target (here 55.56 µS between levels 55 and 56 µS).
    @Test func levelsBoundTheResidual() throws {
        let s = 50e-6, r = 1000.0
        let window = ConductanceWindow(gMinSiemens: 0, gMaxSiemens: 100e-6)
        let mapped = MappedCrossbar.map(CrossbarMatrix(inputs: 1, outputs: 1, weights: [1], bias: nil), scheme: .paper,
                                        scaling: .fixed(siemensPerUnit: s), window: window)
        let (_, result) = try IRCompensation.predistort(mapped, options: Self.options(ohms: r), window: window,
                                                        levels: .uniform(count: 101), iterations: 30)
        let g = 56e-6  // nearest level (1 µS steps) to 55.56 µS
        let residual = abs(s - 1 / (1 / g + 2 * r)) / s
        #expect(abs(result.residual - residual) < 1e-6)
    }

    /// A 12 x 6 paper-scheme crossbar with random weights and a bias: after pre-distortion, the
    /// weights read off an independently built tile circuit (rows +x/−x, devices placed by hand,
    /// exact nodal solve, `w = (T_{c,2l+1} − T_{c,2l})/s`) equal the ideal weights.
    @Test func randomTileReachesTheIdealWeights() throws {
        var rng = RandomStream(seed: 5, 1)
        let (inputs, outputs) = (12, 6)
        // |w| >= 0.2: every weight has a device (a weight without one keeps the second-order
        // coupling of its neighbours, which no device can cancel).
        let weights = (0..<(inputs * outputs)).map { _ in
            let z = rng.nextGaussian()
            return Float(z < 0 ? z - 0.2 : z + 0.2)
        }
        let bias = (0..<outputs).map { _ in Float(rng.nextGaussian() * 0.5) }
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let mapped = MappedCrossbar.map(CrossbarMatrix(inputs: inputs, outputs: outputs, weights: weights, bias: bias),
                                        scheme: .paper, scaling: .perColumn, window: window, headroom: 1)
        let ohms = 20.0
        for solver in [IRDropMode.exact, .fast] {
            let (out, result) = try IRCompensation.predistort(
                mapped, options: Self.options(ohms: ohms, solver: solver), window: window, levels: .continuous,
                iterations: 25)
            #expect(result.residualBefore > 1e-3, "the wires must matter for the test to mean anything")
            #expect(result.residual < 1e-6, "\(solver): \(result.residual)")
            #expect(result.devicesAtWindowLimit == 0)
            // Independent check: the tile by hand.
            let rows = 2 * out.rows
            var g = [Double](repeating: 0, count: rows * outputs)
            for o in 0..<outputs {
                for l in 0..<out.rows {
                    g[(2 * l) * outputs + o] = out.negativeSiemens[o * out.rows + l]
                    g[(2 * l + 1) * outputs + o] = out.positiveSiemens[o * out.rows + l]
                }
            }
            let circuit = TileCircuit(
                rows: rows, columns: outputs, conductanceSiemens: g,
                wires: WireParameters(rowWireResistanceOhms: ohms, columnWireResistanceOhms: ohms),
                feedbackOhms: mapped.siemensPerUnit.map { 1 / $0 }, openLoopGain: nil)
            let t = try ExactTileSolver(circuit).transferMatrix()
            // The ideal weights: the mapped targets (weights below G_min/2 have no device).
            let ideal = mapped.representedWeights()
            var worst = 0.0, largest = 0.0
            for o in 0..<outputs {
                let s = mapped.siemensPerUnit[o]
                var b = 0.0
                for l in 0..<out.rows {
                    let w = (t[o * rows + 2 * l + 1] - t[o * rows + 2 * l]) / s
                    if l < inputs {
                        worst = max(worst, abs(w - Double(ideal.weights[o * inputs + l])))
                        largest = max(largest, abs(Double(ideal.weights[o * inputs + l])))
                    } else {
                        b += w
                    }
                }
                worst = max(worst, abs(b - Double(ideal.bias[o])))
            }
            // Float32 weights mapped to Double conductances: agreement to single precision.
            #expect(worst / largest < 1e-6, "\(solver): worst weight error \(worst / largest) of the largest weight")
        }
    }

    /// Differential scheme: the difference `G⁺ − G⁻` moves, both devices stay in the window.
    @Test func differentialPairsReachTheIdealWeights() throws {
        var rng = RandomStream(seed: 6, 1)
        let (inputs, outputs) = (10, 4)
        let weights = (0..<(inputs * outputs)).map { _ in Float(rng.nextGaussian()) }
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let mapped = MappedCrossbar.map(CrossbarMatrix(inputs: inputs, outputs: outputs, weights: weights, bias: nil),
                                        scheme: .differential, scaling: .perLayer, window: window, headroom: 1)
        let (out, result) = try IRCompensation.predistort(mapped, options: Self.options(ohms: 20), window: window,
                                                          levels: .continuous, iterations: 25)
        #expect(result.residualBefore > 1e-3)
        #expect(result.residual < 1e-6)
        #expect((out.positiveSiemens + out.negativeSiemens).allSatisfy { $0 >= 1e-6 && $0 <= 100e-6 })
    }

    /// Through `AnalogConfig` and `CrossbarLayer`: with exact devices the layer's effective weights
    /// reach the matrix with `--ir-compensation`, and stay off it without.
    @Test func crossbarLayerUsesThePredistortedTargets() throws {
        var rng = RandomStream(seed: 7, 1)
        let (inputs, outputs) = (16, 8)
        let weights = (0..<(inputs * outputs)).map { _ in Float(rng.nextGaussian()) }
        let matrix = CrossbarMatrix(inputs: inputs, outputs: outputs, weights: weights, bias: nil)
        let geometry = Conv2DGeometry(inChannels: inputs, outChannels: outputs, kernel: (1, 1), input: (1, 1))
        var config = Preset.ideal.config
        config.device.window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        config.mappingHeadroom = 1
        config.circuit.wires = WireParameters(rowWireResistanceOhms: 10, columnWireResistanceOhms: 10)
        config.circuit.irDrop = .exact
        let plain = try CrossbarLayer(geometry: geometry, matrix: matrix, config: config, seed: 1, key: [0])
        let ideal = plain.mapped.representedWeights().weights
        func error(_ layer: CrossbarLayer) -> Double {
            var d = 0.0, n = 0.0
            for (a, b) in zip(layer.parts[0].weights, ideal) {
                d += Double(a - b) * Double(a - b)
                n += Double(b) * Double(b)
            }
            return (d / n).squareRoot()
        }
        #expect(plain.irCompensation == nil)
        #expect(error(plain) > 1e-3)
        config.irCompensation.iterations = 20
        let compensated = try CrossbarLayer(geometry: geometry, matrix: matrix, config: config, seed: 1, key: [0])
        let result = try #require(compensated.irCompensation)
        #expect(error(compensated) < 1e-5)
        #expect(result.residual < 1e-6)
        #expect(abs(result.residualBefore - error(plain)) < 1e-5)
    }
}

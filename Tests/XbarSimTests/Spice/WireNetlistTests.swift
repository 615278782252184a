import Foundation
import Testing
@testable import XbarSim

/// `spice --op` with wire resistance: the netlists hold the tiles the engine solves (row and
/// column wire segments, source resistance, whole tiles, the engine's tiling), so ngspice
/// agrees with the engine's IR-drop outputs, not only with ideal wires.
struct WireNetlistTests {
    /// A small network: conv 3→12 (3x3, padding 1) on 6x6, batch-norm, ReLU, depthwise 3x3, GAP.
    static func network() -> Graph {
        func values(_ n: Int, _ k: Double, _ scale: Float) -> [Float] { (0..<n).map { Float(sin(Double($0) * k + 0.3)) * scale } }
        let conv = Conv2DGeometry(inChannels: 3, outChannels: 12, kernel: (3, 3), padding: (1, 1), input: (6, 6))
        let depthwise = Conv2DGeometry(inChannels: 12, outChannels: 12, kernel: (3, 3), padding: (1, 1), groups: 12, input: (6, 6))
        let bn = BatchNormParameters(gamma: values(12, 0.9, 1.5), beta: values(12, 1.3, 0.5), runningMean: values(12, 2.1, 0.4),
                                     runningVariance: values(12, 0.7, 0.5).map { 0.6 + abs($0) }, epsilon: 1e-5)
        let ops = [
            Op(name: "conv", path: "conv", kind: .conv2d(geometry: conv, weight: values(12 * 27, 1.7, 0.4), bias: values(12, 0.5, 0.2)),
               inputs: [0], outputShape: [12, 6, 6]),
            Op(name: "bn", path: "bn", kind: .batchNorm(bn), inputs: [1], outputShape: [12, 6, 6]),
            Op(name: "relu", path: "relu", kind: .relu, inputs: [2], outputShape: [12, 6, 6]),
            Op(name: "dw", path: "dw", kind: .conv2d(geometry: depthwise, weight: values(12 * 9, 2.3, 0.5), bias: nil),
               inputs: [3], outputShape: [12, 6, 6]),
            Op(name: "gap", path: "gap", kind: .globalAveragePool, inputs: [4], outputShape: [12]),
        ]
        return Graph(inputShape: [3, 6, 6], ops: ops, outputIndex: ops.count - 1)
    }

    /// `rram` devices and periphery (finite gain 1e4, 1.5 V rails, variation, faults, drift
    /// compensation), 16x8 tiles (the conv's 56 rows over four row tiles sharing TIAs, its 12
    /// outputs over two column tiles; the GAP's 36 rows over three), and `ohms` per wire segment
    /// with a 2 Ω driver, solved exactly. `idealOpAmps`: infinite open-loop gain.
    static func chip(ohms: Double, idealOpAmps: Bool = false) throws -> (AnalogChip, Tensor) {
        let graph = network()
        let image = Tensor(shape: [3, 6, 6, 1], scalars: (0..<108).map { Float(sin(Double($0) * 0.77)) * 2 })
        var config = Preset.rram.config
        config.tile = try #require(TileSize(argument: "16x8"))
        if idealOpAmps { config.periphery.opAmp.openLoopGain = nil }
        if ohms > 0 {
            config.circuit.wires = WireParameters(rowWireResistanceOhms: ohms, columnWireResistanceOhms: ohms,
                                                  sourceResistanceOhms: 2)
            config.circuit.irDrop = .exact
        }
        let calibration = try Calibration.measure(graph: graph, batch: image, threads: 1)
        let chip = try AnalogChip(graph: graph, config: config, seed: 5, chip: 0, inputMaxAbs: 2, calibration: calibration)
        return (chip, image)
    }

    /// Finite gain 1e4: row tiles sharing a TIA are solved by the engine into an ideal virtual
    /// ground with the shared TIA's gain factor applied after (docs/ir-drop.md), which neglects
    /// a second-order term (`R_f/A` times the IR drop): ≈ 1e-5 here. Ideal op-amps: exact.
    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"), arguments: [false, true])
    func wiredOpsMatchTheEngine(idealOpAmps: Bool) throws {
        let ngspice = try #require(testNgspice)
        let (chip, image) = try Self.chip(ohms: 5, idealOpAmps: idealOpAmps)
        let (ideal, _) = try Self.chip(ohms: 0, idealOpAmps: idealOpAmps)
        let tolerance = idealOpAmps ? 1e-6 : 3e-5
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let selection = LayerSelection(channels: 3, positions: 2)
        let ops = [0, 1, 3, 4]
        let items = try SpiceCheck.ops(chip: chip, ops: ops, image: image, firstImage: 0, selection: selection, ngspice: ngspice,
                                       directory: dir, threads: 1)
        #expect(items.count == ops.count)
        for (op, item) in zip(ops, items) {
            print("wired op \(item.name) (ideal op-amps: \(idealOpAmps)): relative error \(item.relativeError), "
                  + "max abs \(item.maxAbsoluteError)")
            #expect(item.relativeError <= tolerance, "\(item.name): \(item.relativeError)")
            #expect(item.scale > 0 && item.values >= 3)
            // The wires matter: the same op of the same chip with ideal wires (same inputs for op 0)
            // is further from the wired engine than ngspice is, by orders of magnitude.
            let wired = try LayerNetlist(chip: chip, op: op, image: image, firstImage: 0, selection: selection, threads: 1)
            let unwired = try LayerNetlist(chip: ideal, op: op, image: image, firstImage: 0, selection: selection, threads: 1)
            let scale = wired.engineOutputs.map(abs).max() ?? 0
            let moved = zip(wired.engineOutputs, unwired.engineOutputs).map { abs($0 - $1) }.max() ?? 0
            print("  IR drop moves the engine's outputs by \(moved / scale) relative")
            #expect(moved / scale >= 100 * max(item.relativeError, 1e-7), "\(item.name): IR drop \(moved / scale)")
        }
        // Writing the same op with ideal wires (the old netlists) does not match the wired engine.
        let conv = try LayerNetlist(chip: chip, op: 0, image: image, firstImage: 0, selection: selection, wires: .ideal,
                                    threads: 1)
        let path = dir + "/conv-ideal-wires.cir"
        let spice = try conv.spiceOutputs(try ngspice.run(conv.netlist, path: path), file: path)
        let scale = conv.engineOutputs.map(abs).max() ?? 0
        let error = zip(spice, conv.engineOutputs).map { abs($0 - $1) }.max() ?? 0
        #expect(error / scale >= 1e-3, "ideal-wire netlist vs wired engine: \(error / scale)")
    }

    /// A committed test network (`Weights/testnets/resnet20_tiny.h5`) on the `rram` preset with
    /// 1 Ω wires and 32x32 tiles (the first conv's 55 rows over two row tiles), test image 1:
    /// convolutions, batch-norms and the FC layer through ngspice against the engine.
    @Test(.enabled(if: testNgspice != nil && sharedDataDirectory != nil, "needs ngspice and ../shared/cifar10"))
    func testNetworkOpsWithWiresMatchTheEngine() throws {
        let ngspice = try #require(testNgspice)
        var settings = EvaluationSettings()
        settings.modelPath = repositoryRoot + "/Weights/testnets/resnet20_tiny.h5"
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 2
        let inputs = try EvaluationInputs(settings: settings)
        var config = Preset.rram.config
        config.tile = try #require(TileSize(argument: "32x32"))
        config.circuit.wires = WireParameters(rowWireResistanceOhms: 1, columnWireResistanceOhms: 1)
        config.circuit.irDrop = .fast
        let calibration = try Evaluation.calibrate(inputs, images: 2, threads: 2)
        let chip = try AnalogChip(graph: inputs.model.graph, config: config, seed: 0, chip: 0,
                                  inputMaxAbs: Evaluation.inputMaxAbs(inputs.model.metadata), calibration: calibration)
        let graph = inputs.model.graph
        let ops = [0, 1, graph.ops.count - 7, graph.ops.count - 6, graph.ops.count - 1]
        #expect(ops.map { graph.ops[$0].kind.typeName } == ["conv2d", "batchnorm", "conv2d", "batchnorm", "linear"])
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let items = try SpiceCheck.ops(chip: chip, ops: ops, image: inputs.batch(1..<2), firstImage: 1,
                                       selection: LayerSelection(channels: 2, positions: 1), ngspice: ngspice, directory: dir,
                                       threads: 2)
        #expect(items.count == ops.count)
        for item in items {
            print("resnet20_tiny, 1-ohm wires: \(item.name): \(item.relativeError)")
            #expect(item.relativeError <= 1e-4, "\(item.name): \(item.relativeError)")
            #expect(item.scale > 0)
        }
    }
}

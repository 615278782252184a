import Foundation
import Testing
@testable import XbarSim

/// Ops of the trained network for one test image: ngspice on the op's netlist against
/// the engine's output of that op (same chip, same image).
struct LayerNetlistTests {
    static let presets: [Preset] = [.ideal, .rram]

    @Test(.enabled(if: testNgspice != nil && sharedDataDirectory != nil, "needs ngspice and ../shared/cifar10"),
          arguments: presets)
    func modelOpsMatchTheEngine(preset: Preset) throws {
        let ngspice = try #require(testNgspice)
        var settings = EvaluationSettings()
        settings.modelPath = defaultModelPath
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 2
        let inputs = try EvaluationInputs(settings: settings)
        var config = preset.config
        config.mode = .analog
        config.calibrationImages = 16
        config.tile = try #require(TileSize(argument: "64x32"))
        let calibration = try Evaluation.calibrate(inputs, images: 16, threads: 2)
        let chip = try AnalogChip(graph: inputs.model.graph, config: config, seed: 3, chip: 0,
                              inputMaxAbs: Evaluation.inputMaxAbs(inputs.model.metadata), calibration: calibration)
        let graph = inputs.model.graph
        // One op of each kind: first of each type name.
        var picked: [String: Int] = [:]
        for (i, op) in graph.ops.enumerated() where picked[op.kind.typeName] == nil && op.kind.typeName != "flatten" {
            picked[op.kind.typeName] = i
        }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let items = try SpiceCheck.ops(chip: chip, ops: picked.values.sorted(), image: inputs.batch(1..<2), firstImage: 1,
                                       selection: LayerSelection(channels: 2, positions: 1), ngspice: ngspice, directory: dir,
                                       threads: 2)
        #expect(items.count == picked.count)
        for item in items {
            #expect(item.relativeError <= 1e-4, "\(item.name): \(item.relativeError)")
            #expect(item.scale > 0, "\(item.name): all-zero outputs compare nothing")
        }
    }

    @Test func flattenAndDigitizedModeAreRefused() throws {
        let op = Op(name: "f", path: "f", kind: .flatten, inputs: [0], outputShape: [4])
        let graph = Graph(inputShape: [4, 1, 1], ops: [op], outputIndex: 0)
        var config = Preset.ideal.config
        let calibration = Calibration(maxAbs: [1, 1], images: 1)
        let image = Tensor(shape: [4, 1, 1, 1], scalars: [1, 2, 3, 4])
        let chip = try AnalogChip(graph: graph, config: config, seed: 0, chip: 0, inputMaxAbs: 1, calibration: calibration)
        #expect(errorMessage { _ = try LayerNetlist(chip: chip, op: 0, image: image, firstImage: 0, selection: LayerSelection(), threads: 1) }
            .contains("flatten"))
        config.mode = .digitized
        let digitized = try AnalogChip(graph: graph, config: config, seed: 0, chip: 0, inputMaxAbs: 1, calibration: calibration)
        #expect(errorMessage { _ = try LayerNetlist(chip: digitized, op: 0, image: image, firstImage: 0, selection: LayerSelection(), threads: 1) }
            .contains("analog mode"))
    }
}

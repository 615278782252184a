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

    /// Average pooling's crossbars against ngspice: padding and `ceil_mode` overhang rows at
    /// 0 V, and windows with fewer taps than the kernel (`count_include_pad=False`, clipped
    /// windows) read with a larger TIA gain, under every mapping scheme.
    ///
    /// Known gap: the engine reads such a window at the kernel's gain and scales the output
    /// after (`AnalogCircuits.scalePositions`), so its finite-gain error is that of the
    /// unscaled TIA; the circuit's TIA has `kh·kw/divisor` times the feedback resistance and a
    /// larger error. With `rram`'s open-loop gain 1e4 that is 1.2-2.4e-4 relative; with an
    /// ideal op-amp the rram chip (variation, quantization, drift) agrees to 1e-6.
    @Test(.enabled(if: testNgspice != nil, "needs ngspice"), arguments: presets, MappingScheme.allCases)
    func averagePoolingMatchesNgspice(preset: Preset, mapping: MappingScheme) throws {
        for finiteGain in preset == .rram ? [true, false] : [false] {
            try checkAveragePooling(preset: preset, mapping: mapping, finiteGain: finiteGain)
        }
    }

    func checkAveragePooling(preset: Preset, mapping: MappingScheme, finiteGain: Bool) throws {
        let ngspice = try #require(testNgspice)
        // 5x5 -> 3x3 (3x3 windows, stride 2, padding 1, ceil_mode, padding not counted), then
        // 3x3 -> 2x2 (2x2 windows, stride 2, ceil_mode: the last window overhangs the map).
        let first = PoolGeometry(channels: 2, input: (5, 5), kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true)
        let second = PoolGeometry(channels: 2, input: (3, 3), kernel: (2, 2), stride: (2, 2), ceilMode: true)
        let graph = Graph(inputShape: [2, 5, 5], ops: [
            Op(name: "avg1", path: "", kind: .avgPool(first, countIncludePad: false), inputs: [0], outputShape: [2, 3, 3]),
            Op(name: "avg2", path: "", kind: .avgPool(second, countIncludePad: true), inputs: [1], outputShape: [2, 2, 2]),
        ], outputIndex: 1)
        var config = preset.config
        config.mode = .analog
        config.mapping = mapping
        if !finiteGain { config.periphery.opAmp.openLoopGain = nil }
        let calibration = Calibration(maxAbs: [2, 2, 2], images: 1)
        let chip = try AnalogChip(graph: graph, config: config, seed: 7, chip: 0, inputMaxAbs: 2, calibration: calibration)
        let image = Tensor(shape: [2, 5, 5, 1], scalars: (0..<50).map { k in Float((k * 29) % 17 - 8) / 5 })
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let items = try SpiceCheck.ops(chip: chip, ops: [0, 1], image: image, firstImage: 0,
                                       selection: LayerSelection(channels: nil, positions: nil), ngspice: ngspice,
                                       directory: dir, threads: 1)
        #expect(items.count == 2)
        let tolerance = finiteGain ? 3e-4 : 1e-6
        for item in items {
            #expect(item.relativeError <= tolerance, "\(preset) \(mapping) gain \(finiteGain) \(item.name): \(item.relativeError)")
            #expect(item.scale > 0)
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

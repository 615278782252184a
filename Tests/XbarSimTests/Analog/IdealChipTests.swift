import Foundation
import Testing
@testable import XbarSim

/// With ideal devices and periphery the memristive network must compute the float network.
struct IdealChipTests {
    static let cases: [(String, MappingScheme, SignalMode, String)] = [
        (defaultModelPath, .paper, .analog, "unlimited"), (defaultModelPath, .paper, .analog, "128x128"),
        (defaultModelPath, .differential, .analog, "128x128"), (defaultModelPath, .paper, .digitized, "128x128"),
        (defaultModelPath, .differential, .digitized, "64x32"), (defaultModelPath, .invertedOutput, .analog, "unlimited"),
        (defaultModelPath, .invertedOutput, .analog, "128x128"), (defaultModelPath, .invertedOutput, .digitized, "64x32"),
        // The second reference design's network: max pooling, channel split, shuffle and concat.
        (shuffleNetModelPath, .paper, .analog, "128x128"), (shuffleNetModelPath, .invertedOutput, .analog, "unlimited"),
        (shuffleNetModelPath, .invertedOutput, .analog, "128x128"), (shuffleNetModelPath, .invertedOutput, .digitized, "64x32"),
    ]

    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"), arguments: cases.indices)
    func idealChipReproducesFloatLogits(index: Int) throws {
        let (model, scheme, mode, tile) = Self.cases[index]
        var settings = EvaluationSettings()
        settings.modelPath = model
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 32
        let inputs = try EvaluationInputs(settings: settings)
        var config = Preset.ideal.config
        config.mapping = scheme
        config.mode = mode
        config.tile = try #require(TileSize(argument: tile))
        config.calibrationImages = 16
        let calibration = try Evaluation.calibrate(inputs, images: 16, threads: 2)
        let chip = try AnalogChip(graph: inputs.model.graph, config: config, seed: 1, chip: 0,
                              inputMaxAbs: Evaluation.inputMaxAbs(inputs.model.metadata), calibration: calibration)
        let batch = inputs.batch(0..<32)
        let analog = try chip.run(batch, firstImage: 0, threads: 2)
        let float = try FloatExecutor(graph: inputs.model.graph, threads: 2).run(batch)
        let error = GoldenCheck.relativeError(analog.scalars, float.scalars)
        #expect(error <= 1e-4, "\(model) \(scheme) \(mode) \(tile): relative error \(error)")
    }
}

import Foundation
import Testing
@testable import XbarSim

/// The float engine against PyTorch's outputs stored in the trained model file.
struct GoldenTests {
    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"), arguments: shippedModelPaths)
    func floatEngineReproducesPyTorchLogitsAndEveryOp(path: String) throws {
        let model = try ModelFile.load(path)
        let dataset = try CIFAR10.test(in: try #require(sharedDataDirectory))
        for threads in [1, 2] {
            BLAS.setThreads(threads)
            let result = try GoldenCheck.float(model: model, dataset: dataset, threads: threads)
            #expect(result.images == 256)
            #expect(result.logitsRelativeError <= 1e-4, "\(path): logits relative error \(result.logitsRelativeError)")
            #expect(result.ops.count == model.graph.ops.count)
            for op in result.ops {
                #expect(op.relativeError <= 1e-4, "\(path) op \(op.index) \(op.name) (\(op.type)): \(op.relativeError)")
            }
            #expect(result.predictionMismatches == 0)
        }
    }

    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"))
    func evaluationAccuracyEqualsAccuracyOfGoldenLogits() throws {
        var settings = EvaluationSettings()
        settings.modelPath = defaultModelPath
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 256
        settings.batchSize = 100     // batches that do not divide the total
        settings.threads = 2
        let inputs = try EvaluationInputs(settings: settings)
        let report = try Evaluation.float(inputs, settings: settings)
        let golden = try #require(inputs.model.golden)
        let predicted = Evaluation.predictions(golden.logits.swappingFirstTwoAxes())
        let expectedCorrect = zip(predicted, golden.labels).filter { $0 == $1 }.count
        #expect(report.images == 256)
        #expect(report.correct == expectedCorrect)
        #expect(report.accuracy == Double(expectedCorrect) / 256)
    }

    /// The hardware-aware fine-tune (`Weights/train.py --hwa`): intact, its PyTorch outputs
    /// reproduced, and the noise it was trained with recorded (BN stages, frozen BN).
    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"))
    func hardwareAwareModelVerifiesAndRecordsItsTrainingNoise() throws {
        let model = try ModelFile.load(repositoryRoot + "/Weights/mobilenetv3_cifar10_hwa.h5")
        #expect(model.integrity == .verified)
        let noise = model.metadata.provenance.trainingNoise
        #expect(noise.contains("\"batchnorm_stages\": true") && noise.contains("\"freeze_batchnorm\": true"), "\(noise)")
        #expect(noise.contains("\"variation\": 0.05") && noise.contains("\"levels\": 64"), "\(noise)")
        let result = try GoldenCheck.float(model: model, dataset: try CIFAR10.test(in: try #require(sharedDataDirectory)), threads: 2)
        #expect(result.logitsRelativeError <= 1e-4 && result.predictionMismatches == 0)
    }

    @Test func modelProvenanceIsRecorded() throws {
        let model = try ModelFile.load(defaultModelPath)
        let p = model.metadata.provenance
        #expect(model.metadata.inputShape == [3, 32, 32])
        #expect(model.metadata.classNames.count == 10)
        #expect(p.trainingEpochs > 0 && p.trainingSeed >= 0 && !p.trainingCommand.isEmpty)
        #expect(model.graph.macsPerImage == 17_507_328)     // the reference design's ~17.5 M MACs
    }

    /// The memristive ShuffleNetV2 (issue 16): trained by the project's trainer, its float
    /// accuracy recorded at export, and the reference design's ops all present.
    @Test func shuffleNetProvenanceIsRecorded() throws {
        let model = try ModelFile.load(shuffleNetModelPath)
        let p = model.metadata.provenance
        #expect(model.metadata.inputShape == [3, 32, 32] && model.metadata.classNames.count == 10)
        #expect(p.trainingCommand.contains("--arch shufflenetv2"), "\(p.trainingCommand)")
        #expect(p.trainingEpochs > 0 && p.trainingSeed >= 0 && p.trainingWallSeconds > 0)
        #expect(try #require(p.floatTestAccuracy) >= 0.89)
        let types = Set(model.graph.ops.map(\.kind.typeName))
        for needed in ["max_pool2d", "concat", "channel_shuffle", "channel_slice", "batchnorm", "relu", "conv2d", "linear"] {
            #expect(types.contains(needed), "\(needed) missing from \(types.sorted())")
        }
    }
}

import Foundation
import Testing
@testable import XbarSim

/// `eval --predictions`: one row per image for float and for every chip, logits as computed.
struct PredictionLogTests {
    @Test func csvHoldsLabelsArgmaxAndLogitsInOrder() {
        let log = PredictionLog()
        // [classes = 3, N = 2] logits for images 5 and 6; added out of order (as parallel batches do).
        log.add(source: "1", first: 5, logits: Tensor(shape: [3, 2], scalars: [0.5, -1, 2, 3, -0.25, 0.125]),
                labels: [0, 0, 0, 0, 0, 2, 1])
        log.add(source: "float", first: 5, logits: Tensor(shape: [3, 2], scalars: [1, 0, 0, 2, 0, 0]),
                labels: [0, 0, 0, 0, 0, 2, 1])
        let lines = log.csv().split(separator: "\n").map(String.init)
        #expect(lines == [
            "chip,image,label,predicted,logit_0,logit_1,logit_2",
            "float,5,2,0,1,0,0",
            "float,6,1,1,0,2,0",
            "1,5,2,1,0.5,2,-0.25",
            "1,6,1,1,-1,3,0.125",
        ])
    }

    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"))
    func evaluationRecordsEveryImageOfFloatAndEveryChip() throws {
        var settings = EvaluationSettings()
        settings.modelPath = repositoryRoot + "/Weights/testnets/vgg_tiny.h5"
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 20
        settings.batchSize = 7
        settings.threads = 2
        let inputs = try EvaluationInputs(settings: settings)
        let log = PredictionLog()
        var config = Preset.rram.config
        config.calibrationImages = 16
        let report = try Evaluation.analog(inputs, settings: settings, config: config, preset: .rram, seed: 3, chips: 2,
                                           predictions: log)
        let rows = log.rows
        #expect(rows.count == 20 * 3)
        for (k, source) in ["float", "0", "1"].enumerated() {
            let mine = rows.filter { $0.source == source }
            #expect(mine.map(\.image) == Array(0..<20))
            #expect(mine.map(\.label) == Array(inputs.dataset.labels.prefix(20)))
            let correct = mine.filter { $0.predicted == $0.label }.count
            let expected = k == 0 ? report.floatAccuracy : report.chipAccuracies[k - 1]
            #expect(Double(correct) / 20 == expected, "\(source)")
            for r in mine { #expect(r.logits.indices.max { r.logits[$0] < r.logits[$1] } == r.predicted) }
        }
    }
}

import Foundation
import Testing
@testable import XbarSim

/// `eval --profile`: the same data-parallel run as a plain evaluation (same logits image by
/// image), with seconds for every op type of the network summed over the workers.
struct ProfileTests {
    static func inputs(threads: Int) throws -> (EvaluationSettings, EvaluationInputs) {
        var settings = EvaluationSettings()
        settings.modelPath = repositoryRoot + "/Weights/testnets/ops_v2.h5"
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 24
        settings.batchSize = 5                       // 5 batches, the last one short
        settings.threads = threads
        return (settings, try EvaluationInputs(settings: settings))
    }

    static func opTypes(_ inputs: EvaluationInputs) -> Set<String> {
        Set(inputs.model.graph.ops.map(\.kind.profileName))
    }

    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"), arguments: [1, 2])
    func floatProfileIsThePlainRunTimed(threads: Int) throws {
        let (settings, inputs) = try Self.inputs(threads: threads)
        let plainLog = PredictionLog(), profiledLog = PredictionLog()
        let plain = try Evaluation.float(inputs, settings: settings, predictions: plainLog)
        let profiled = try Evaluation.float(inputs, settings: settings, profile: true, predictions: profiledLog)
        #expect(plain.secondsByOpType == nil)
        #expect(profiled.correct == plain.correct)
        #expect(profiledLog.rows == plainLog.rows)
        let seconds = try #require(profiled.secondsByOpType)
        #expect(Set(seconds.keys) == Self.opTypes(inputs))
        #expect(seconds.values.allSatisfy { $0 >= 0 && $0.isFinite })
        #expect(seconds.values.reduce(0, +) > 0)
    }

    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"))
    func analogProfileIsThePlainRunTimed() throws {
        let (settings, inputs) = try Self.inputs(threads: 2)
        let plainLog = PredictionLog(), profiledLog = PredictionLog()
        let config = Preset.rram.config
        let plain = try Evaluation.analog(inputs, settings: settings, config: config, preset: .rram, seed: 5, chips: 2,
                                          predictions: plainLog)
        let profiled = try Evaluation.analog(inputs, settings: settings, config: config, preset: .rram, seed: 5, chips: 2,
                                             profile: true, predictions: profiledLog)
        #expect(profiled.chipAccuracies == plain.chipAccuracies)
        #expect(profiledLog.rows == plainLog.rows)
        let seconds = try #require(profiled.secondsByOpType)
        #expect(Set(seconds.keys) == Self.opTypes(inputs).union(["programming"]))
    }
}

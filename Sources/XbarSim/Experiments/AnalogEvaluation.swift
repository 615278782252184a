import Foundation
import XbarSimAnalog
import XbarSimDevice
import XbarSimEnergy
import XbarSimGraph
import XbarSimIO
import XbarSimTensor

/// Result of evaluating Monte Carlo chips, with the float reference measured in the same run.
public struct AnalogEvaluationReport: Sendable, Equatable, Codable {
    public var mode: String
    public var model: String
    public var data: String
    public var preset: String?
    public var images: Int
    public var chips: Int
    public var seed: UInt64
    /// Mean top-1 accuracy over chips (0...1).
    public var accuracy: Double
    public var accuracyStd: Double
    public var accuracyCI95: [Double]
    public var chipAccuracies: [Double]
    public var floatAccuracy: Double
    /// `floatAccuracy - accuracy`, as a fraction (0.01 = one percentage point).
    public var degradation: Double
    public var seconds: Double
    /// Analog images per second (all chips), and the float engine's in the same run.
    public var imagesPerSecond: Double
    public var floatImagesPerSecond: Double
    public var batchSize: Int
    public var threads: Int
    /// Every parameter of the simulated chip.
    public var parameters: AnalogConfig
    /// Volts per unit of signal in analog mode (network input max -> input voltage).
    public var voltsPerUnit: Double
    /// How every crossbar was mapped (scaling, devices, tiles, rounding), from chip 0.
    public var mapping: [CrossbarMappingSummary]
    /// With `profile`: analog seconds per op type (all chips), summed over the workers
    /// that ran batches side by side (busy seconds), plus `programming` (wall).
    public var secondsByOpType: [String: Double]?
    /// Ops that ran in digital periphery (ADC, function, DAC), as `name (type)`; nil in reports
    /// written before digital fallback existed.
    public var digitalOps: [String]?
    /// Post-programming calibration of chip 0 (`--calibrate`): mode, images, their source (the
    /// training split) and what was done per op; nil (absent from JSON) without calibration.
    public var postCalibration: ChipCalibration.Summary?
    /// With `--write-verify`: program pulses, verify reads and their energy and serial time for
    /// chip 0 (`ProgrammingCostModel`); nil (absent from JSON) otherwise.
    public var programming: ProgrammingCost?
}

/// The float engine's result on an evaluation's test images.
public struct FloatReference: Sendable, Equatable, Codable {
    public var images: Int
    public var correct: Int
    public var seconds: Double

    public init(images: Int, correct: Int, seconds: Double) {
        self.images = images
        self.correct = correct
        self.seconds = seconds
    }

    /// Top-1 accuracy, 0...1.
    public var accuracy: Double { images > 0 ? Double(correct) / Double(images) : 0 }
}

/// Progress of a multi-chip evaluation.
public struct AnalogProgress: Sendable {
    public var chip: Int
    public var chips: Int
    public var imagesDone: Int
    public var imagesTotal: Int
    public var secondsElapsed: Double
}

extension Evaluation {
    /// Largest |normalised pixel| the model can see: `max_c max(mean_c, 1 − mean_c) / std_c`.
    public static func inputMaxAbs(_ meta: ModelMetadata) -> Double {
        zip(meta.normalizationMean, meta.normalizationStd).map { m, s in Double(max(m, 1 - m) / s) }.max() ?? 1
    }

    /// Calibration maxima from the first `images` training images (not the test set).
    public static func calibrate(_ inputs: EvaluationInputs, images: Int, threads: Int) throws -> Calibration {
        let batch = try calibrationImages(inputs, images: images).batch
        return try Calibration.measure(graph: inputs.model.graph, batch: batch, threads: threads)
    }

    /// The first `images` images of the training split (never the test set), normalised as the
    /// model expects, `[C, H, W, images]`, and where they came from: what sets the converter
    /// ranges and what post-programming calibration reads through the chip.
    public static func calibrationImages(
        _ inputs: EvaluationInputs, images: Int
    ) throws -> (batch: Tensor, source: String) {
        let source = inputs.isDatasetFile ? "\(inputs.dataDirectory) /train_images" : "\(inputs.dataDirectory)/\(CIFAR10.trainFiles[0])"
        let train = inputs.isDatasetFile
            ? try LabelledImageFile.load(inputs.dataDirectory, split: .train, limit: images)
            : try CIFAR10.load(files: [inputs.dataDirectory + "/" + CIFAR10.trainFiles[0]], limit: images)
        guard train.count == images else {
            throw DatasetError("--calibration-images \(images): \(source) holds only \(train.count) images; give at most \(train.count)")
        }
        let meta = inputs.model.metadata
        let batch = Tensor(shape: train.imageShape + [train.count]) { out in
            train.normalizedBatch(0..<train.count, mean: meta.normalizationMean, std: meta.normalizationStd, into: out)
        }
        return (batch, source)
    }

    /// The float engine's correct predictions on the test images of `inputs` (the reference
    /// every analog evaluation is compared with; it does not depend on the chip).
    public static func floatReference(
        _ inputs: EvaluationInputs, settings: EvaluationSettings, predictions: PredictionLog? = nil
    ) throws -> FloatReference {
        BLAS.setThreads(settings.threads)
        let total = inputs.dataset.count
        let start = Date()
        let batches = stride(from: 0, to: total, by: settings.batchSize).map { $0..<min(total, $0 + settings.batchSize) }
        let prepared = FloatExecutor(graph: inputs.model.graph, preparingWeights: true)
        let correct = try BatchRunner.sum(batches, workers: settings.threads, blasThreads: settings.threads) { range, threads in
            var executor = prepared
            executor.threads = threads
            let logits = try executor.run(inputs.batch(range))
            predictions?.add(source: "float", first: range.lowerBound, logits: logits, labels: inputs.dataset.labels)
            return countCorrect(logits, labels: inputs.dataset.labels, first: range.lowerBound)
        }
        return FloatReference(images: total, correct: correct, seconds: Date().timeIntervalSince(start))
    }

    /// Evaluates `chips` independently programmed chips (chip `k` uses seed `seed`, key `k`)
    /// and the float reference on the same images.
    ///
    /// `floatReference` and `calibration`, when given, are used instead of measuring them again
    /// (a sweep measures them once for all its points); they must come from the same `inputs`.
    public static func analog(
        _ inputs: EvaluationInputs, settings: EvaluationSettings, config: AnalogConfig, preset: Preset?,
        seed: UInt64, chips: Int, profile: Bool = false, floatReference: FloatReference? = nil,
        calibration: Calibration? = nil, predictions: PredictionLog? = nil, progress: ((AnalogProgress) -> Void)? = nil
    ) throws -> AnalogEvaluationReport {
        try config.validate()
        guard chips > 0 else { throw SettingsError(parameter: "--chips", message: "must be positive, got \(chips)") }
        BLAS.setThreads(settings.threads)
        let threads = settings.threads
        let total = inputs.dataset.count
        let batches = stride(from: 0, to: total, by: settings.batchSize).map { $0..<min(total, $0 + settings.batchSize) }

        let reference = try floatReference ?? Self.floatReference(inputs, settings: settings, predictions: predictions)
        guard reference.images == total else {
            throw SettingsError(parameter: "floatReference", message: "covers \(reference.images) images, the run \(total)")
        }
        let (floatCorrect, floatSeconds) = (reference.correct, reference.seconds)

        let calibration = try calibration ?? calibrate(inputs, images: config.calibrationImages, threads: threads)
        let calibrationBatch = config.postCalibration == .none
            ? nil : try calibrationImages(inputs, images: config.calibrationImages)
        var calibrationSummary: ChipCalibration.Summary?
        let start = Date()
        var accuracies: [Double] = []
        var voltsPerUnit = 0.0
        var mapping: [CrossbarMappingSummary] = []
        var digitalOps: [String] = []
        var programmingCost: ProgrammingCost?
        var byType: [String: Double] = [:]
        let ops = inputs.model.graph.ops
        let opTotals = ProfileTotals()
        for k in 0..<chips {
            let programStart = Date()
            var programmed = try AnalogChip(graph: inputs.model.graph, config: config, seed: seed, chip: k,
                                            inputMaxAbs: inputMaxAbs(inputs.model.metadata), calibration: calibration,
                                            threads: threads)
            if let calibrationBatch {
                let (calibrated, summary) = try programmed.calibrated(
                    images: calibrationBatch.batch, mode: config.postCalibration, source: calibrationBatch.source,
                    threads: threads)
                programmed = calibrated
                if k == 0 { calibrationSummary = summary }
            }
            let chip = programmed
            if profile { byType["programming", default: 0] += Date().timeIntervalSince(programStart) }
            voltsPerUnit = chip.voltsPerUnit
            if k == 0 {
                mapping = chip.mappingSummary
                if config.device.writeVerify.isActive {
                    programmingCost = ProgrammingCostModel().cost(chip.programmingCounts)
                }
                digitalOps = zip(ops, chip.stages).filter { $0.1.isDigital }.map { "\($0.0.name) (\($0.0.kind.typeName))" }
            }
            // Profiled or not, the same data-parallel run (see `Evaluation.float`): with
            // --profile each batch times its ops on its worker and the seconds are summed.
            let correct = try BatchRunner.sum(batches, workers: threads, blasThreads: threads, { range, threads in
                let logits = try opTotals.measure(ops, enabled: profile) { timing in
                    try chip.run(inputs.batch(range), firstImage: range.lowerBound, threads: threads, timing: timing)
                }
                predictions?.add(source: "\(k)", first: range.lowerBound, logits: logits, labels: inputs.dataset.labels)
                return countCorrect(logits, labels: inputs.dataset.labels, first: range.lowerBound)
            }, done: { images in
                progress?(AnalogProgress(chip: k, chips: chips, imagesDone: images, imagesTotal: total,
                                         secondsElapsed: Date().timeIntervalSince(start)))
            })
            accuracies.append(Double(correct) / Double(total))
        }
        let seconds = Date().timeIntervalSince(start)
        let summary = AccuracySummary(accuracies: accuracies, images: total)
        let floatAccuracy = Double(floatCorrect) / Double(total)
        return AnalogEvaluationReport(
            mode: config.mode.rawValue, model: inputs.model.path, data: inputs.dataDirectory, preset: preset?.rawValue,
            images: total, chips: chips, seed: seed, accuracy: summary.mean, accuracyStd: summary.standardDeviation,
            accuracyCI95: summary.ci95, chipAccuracies: accuracies, floatAccuracy: floatAccuracy,
            degradation: floatAccuracy - summary.mean, seconds: seconds,
            imagesPerSecond: Double(total * chips) / max(seconds, 1e-9),
            floatImagesPerSecond: Double(total) / max(floatSeconds, 1e-9), batchSize: settings.batchSize,
            threads: threads, parameters: config, voltsPerUnit: voltsPerUnit, mapping: mapping,
            secondsByOpType: profile ? byType.merging(opTotals.seconds, uniquingKeysWith: +) : nil,
            digitalOps: digitalOps, postCalibration: calibrationSummary, programming: programmingCost)
    }

    static func countCorrect(_ logits: Tensor, labels: [Int], first: Int) -> Int {
        predictions(logits).enumerated().reduce(0) { $0 + ($1.element == labels[first + $1.offset] ? 1 : 0) }
    }
}

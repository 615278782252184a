import Foundation
import XbarSimDevice
import XbarSimSupport
import XbarSimGraph
import XbarSimIO
import XbarSimTensor

/// What to evaluate and how.
public struct EvaluationSettings: Sendable, Equatable, Codable {
    /// HDF5 model file (see `Weights/FORMAT.md`).
    public var modelPath: String = EvaluationSettings.defaultModelPath
    /// CIFAR-10 folder; nil searches the default locations (`CIFAR10.locate`).
    public var dataDirectory: String?
    /// Evaluate only the first N test images; nil for all 10,000.
    public var limit: Int?
    /// Images per batch (one GEMM covers a whole batch). 64 keeps the largest
    /// activation (72x32x32 per image, 19 MB) under glibc's 32 MiB mmap ceiling, so
    /// buffers are reused rather than page-faulted anew (256: 75 MB; measured 20% more
    /// CPU time for the float engine, Benchmarks/RESULTS.md).
    public var batchSize: Int = 64
    /// Threads for BLAS and XbarSim's own loops.
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Refuse a model file whose contents do not match its checksum (`--no-verify` turns this off).
    public var verifyChecksum = true

    public static let defaultModelPath = "Weights/mobilenetv3_cifar10.h5"

    public init() {}

    /// Rejects settings no run could use, naming the command-line flag.
    public func validate() throws {
        if let limit, limit <= 0 { throw SettingsError(parameter: "--limit", message: "must be positive, got \(limit)") }
        guard batchSize > 0 else { throw SettingsError(parameter: "--batch", message: "must be positive, got \(batchSize)") }
        guard threads > 0 else { throw SettingsError(parameter: "--threads", message: "must be positive, got \(threads)") }
        if let limit, limit > CommandLimits.images.upperBound {
            throw SettingsError(parameter: "--limit", message: "must be at most \(CommandLimits.images.upperBound), got \(limit)")
        }
        guard batchSize <= CommandLimits.batch.upperBound else {
            throw SettingsError(parameter: "--batch", message: "must be at most \(CommandLimits.batch.upperBound), got \(batchSize)")
        }
        // Starts the threads once, so that a --threads the system cannot provide is an error here
        // rather than a worker pool waiting for threads that never start.
        try CommandLimits.checkThreads(threads)
    }
}

/// A setting that is out of range: the library's one parameter-error type
/// (`parameter` is the command-line flag, the description "flag: message").
public typealias SettingsError = DeviceParameterError

/// Result of evaluating a model on CIFAR-10.
public struct EvaluationReport: Sendable, Equatable, Codable {
    public var mode: String
    public var model: String
    public var architecture: String
    public var data: String
    public var images: Int
    public var correct: Int
    /// Top-1 accuracy as a fraction 0...1.
    public var accuracy: Double
    public var seconds: Double
    public var imagesPerSecond: Double
    public var batchSize: Int
    public var threads: Int
    /// Seconds per op type over the run, summed over the workers that ran batches side by
    /// side (busy seconds; only when profiling was asked for).
    public var secondsByOpType: [String: Double]?
}

/// Progress of a running evaluation, for progress bars.
public struct EvaluationProgress: Sendable {
    public var imagesDone: Int
    public var imagesTotal: Int
    public var secondsElapsed: Double

    public init(imagesDone: Int, imagesTotal: Int, secondsElapsed: Double) {
        self.imagesDone = imagesDone
        self.imagesTotal = imagesTotal
        self.secondsElapsed = secondsElapsed
    }
}

/// Loads everything an evaluation needs, once.
public struct EvaluationInputs: Sendable {
    public var model: Model
    public var dataset: CIFAR10
    public var dataDirectory: String

    public init(settings: EvaluationSettings) throws {
        try settings.validate()
        guard FileManager.default.fileExists(atPath: settings.modelPath) else {
            throw DatasetError(
                "\(settings.modelPath): model file not found (pass --model PATH; the default model is "
                    + "\(EvaluationSettings.defaultModelPath), run from the repository root)")
        }
        model = try ModelFile.load(settings.modelPath, verify: settings.verifyChecksum)
        if let warning = model.integrity.warning(file: settings.modelPath) {
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
        (dataset, dataDirectory) = try Self.testImages(data: settings.dataDirectory, limit: settings.limit)
        let what = isDatasetFile ? dataDirectory : "CIFAR-10"
        guard model.metadata.inputShape == dataset.imageShape else {
            throw ModelError(file: settings.modelPath, object: "/@input_shape",
                             message: "is \(model.metadata.inputShape); the images of \(what) are \(dataset.imageShape)")
        }
        let classes = model.graph.outputFeatures
        if isDatasetFile, classes != dataset.classNames.count {
            throw ModelError(file: settings.modelPath, object: "/@class_names",
                             message: "the model has \(classes) classes; \(dataDirectory) has \(dataset.classNames.count)")
        }
        if let bad = dataset.labels.firstIndex(where: { $0 >= classes }) {
            throw DatasetError("\(dataDirectory): image \(bad) has label \(dataset.labels[bad]), but the model has \(classes) classes")
        }
    }

    /// The test images of `--data`: a dataset file (`Datasets/FORMAT.md`), a CIFAR-10 folder,
    /// or (nil) CIFAR-10 in the default places. Returns them and the file or folder they came from.
    public static func testImages(data: String?, limit: Int? = nil) throws -> (CIFAR10, String) {
        if let data, LabelledImageFile.isFile(data) {
            return (try LabelledImageFile.load(data, split: .test, limit: limit), data)
        }
        let directory = try CIFAR10.locate(explicit: data)
        return (try CIFAR10.test(in: directory, limit: limit), directory)
    }

    /// True when the images come from an XbarSim dataset file rather than a CIFAR-10 folder.
    public var isDatasetFile: Bool { LabelledImageFile.isFile(dataDirectory) }

    /// Images `range` of the test set as a normalised `[C, H, W, N]` batch.
    public func batch(_ range: Range<Int>) -> Tensor {
        Tensor(shape: dataset.imageShape + [range.count]) { out in
            dataset.normalizedBatch(range, mean: model.metadata.normalizationMean,
                                    std: model.metadata.normalizationStd, into: out)
        }
    }
}

public enum Evaluation {
    /// Index of the largest logit of each image in a `[classes, N]` tensor (first on ties, as `torch.argmax`).
    public static func predictions(_ logits: Tensor) -> [Int] {
        let (k, n) = (logits.shape[0], logits.shape[1])
        return (0..<n).map { j in
            var best = 0
            var bestValue = logits.scalars[j]
            for c in 1..<k where logits.scalars[c * n + j] > bestValue {
                best = c
                bestValue = logits.scalars[c * n + j]
            }
            return best
        }
    }

    /// Runs the float reference engine over the test set.
    public static func float(
        _ inputs: EvaluationInputs, settings: EvaluationSettings, profile: Bool = false,
        predictions: PredictionLog? = nil, progress: ((EvaluationProgress) -> Void)? = nil
    ) throws -> EvaluationReport {
        BLAS.setThreads(settings.threads)
        let total = inputs.dataset.count
        let start = Date()
        let ops = inputs.model.graph.ops
        // With --profile, every batch times its ops on its own worker and the per-type
        // seconds are summed over workers (busy seconds, not wall): the profile is of the
        // same data-parallel run as a plain evaluation, so each op's share is what it costs
        // there (one batch at a time with every kernel split over threads is a different
        // run: OpenBLAS's idle threads spin beside XbarSim's own loops on a 2-core machine).
        let byType = ProfileTotals()
        let batches = stride(from: 0, to: total, by: settings.batchSize).map { $0..<min(total, $0 + settings.batchSize) }
        let prepared = FloatExecutor(graph: inputs.model.graph, preparingWeights: true)
        let correct = try BatchRunner.sum(batches, workers: settings.threads, blasThreads: settings.threads, { range, threads in
            var executor = prepared
            executor.threads = threads
            let logits = try byType.measure(ops, enabled: profile) { timing in
                try executor.run(inputs.batch(range), timing: timing)
            }
            predictions?.add(source: "float", first: range.lowerBound, logits: logits, labels: inputs.dataset.labels)
            return countCorrect(logits, labels: inputs.dataset.labels, first: range.lowerBound)
        }, done: { images in
            progress?(EvaluationProgress(imagesDone: images, imagesTotal: total,
                                         secondsElapsed: Date().timeIntervalSince(start)))
        })
        let seconds = Date().timeIntervalSince(start)
        return EvaluationReport(
            mode: "float", model: inputs.model.path, architecture: inputs.model.metadata.architecture,
            data: inputs.dataDirectory, images: total, correct: correct,
            accuracy: total > 0 ? Double(correct) / Double(total) : 0, seconds: seconds,
            imagesPerSecond: Double(total) / max(seconds, 1e-9), batchSize: settings.batchSize,
            threads: settings.threads, secondsByOpType: profile ? byType.seconds : nil)
    }
}

/// Per-op-type seconds summed over the workers of a profiled evaluation.
final class ProfileTotals: @unchecked Sendable {
    private let lock = NSLock()
    private var totals: [String: Double] = [:]

    /// Runs `body` with a per-op timing callback when `enabled` (nil otherwise) and adds the
    /// seconds it reports, by op type, to the totals.
    func measure<T>(_ ops: [Op], enabled: Bool, _ body: (((Int, Double) -> Void)?) throws -> T) rethrows -> T {
        guard enabled else { return try body(nil) }
        var local: [String: Double] = [:]
        let result = try body { local[ops[$0].kind.profileName, default: 0] += $1 }
        add(local)
        return result
    }

    func add(_ seconds: [String: Double]) {
        lock.lock()
        defer { lock.unlock() }
        totals.merge(seconds, uniquingKeysWith: +)
    }

    var seconds: [String: Double] {
        lock.lock()
        defer { lock.unlock() }
        return totals
    }
}

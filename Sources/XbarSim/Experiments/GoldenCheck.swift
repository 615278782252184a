import Foundation
import XbarSimGraph
import XbarSimIO
import XbarSimTensor

/// How far an engine is from the PyTorch outputs stored in the model file.
///
/// Errors are *relative to the tensor's scale*: `max |engine - golden| / max |golden|`,
/// so that near-zero elements do not blow the measure up.
public struct GoldenComparison: Sendable, Equatable, Codable {
    public struct OpError: Sendable, Equatable, Codable {
        public var index: Int
        public var name: String
        public var type: String
        public var relativeError: Double
    }
    /// Over all golden images' logits.
    public var logitsRelativeError: Double
    /// Per op, for the golden image (ops without stored outputs are left out).
    public var ops: [OpError]
    public var images: Int
    /// Images whose predicted class differs from PyTorch's.
    public var predictionMismatches: Int

    public init(logitsRelativeError: Double, ops: [OpError], images: Int, predictionMismatches: Int) {
        self.logitsRelativeError = logitsRelativeError
        self.ops = ops
        self.images = images
        self.predictionMismatches = predictionMismatches
    }

    public var maxOpRelativeError: Double { ops.map(\.relativeError).max() ?? 0 }

    /// The largest error anywhere: the logits' and every op's (NaN if any is NaN).
    public var maxRelativeError: Double {
        let all = [logitsRelativeError] + ops.map(\.relativeError)
        if all.contains(where: \.isNaN) { return .nan }
        return all.max() ?? 0
    }

    /// What exceeds `tolerance` (logits, then each op), one line each; empty when the check passes.
    /// A NaN error always fails.
    public func failures(tolerance: Double) -> [String] {
        func fmt(_ x: Double) -> String { x.isNaN ? "nan" : String(format: "%.2e", x) }
        var lines: [String] = []
        if !(logitsRelativeError <= tolerance) {
            lines.append("logits: relative error \(fmt(logitsRelativeError)) > tolerance \(fmt(tolerance))")
        }
        for op in ops where !(op.relativeError <= tolerance) {
            lines.append("op \(op.index) \(op.name) (\(op.type)): relative error \(fmt(op.relativeError)) > tolerance \(fmt(tolerance))")
        }
        return lines
    }
}

/// `xbarsim golden` found the engine further from the stored PyTorch outputs than the tolerance.
public struct GoldenMismatch: Error, CustomStringConvertible, Sendable {
    public var model: String
    public var tolerance: Double
    public var failures: [String]

    public init(model: String, tolerance: Double, failures: [String]) {
        self.model = model
        self.tolerance = tolerance
        self.failures = failures
    }

    public var description: String {
        let first = failures.first ?? ""
        let more = failures.count > 1 ? " (and \(failures.count - 1) more)" : ""
        return "\(model): golden check failed: \(first)\(more)"
    }
}

public enum GoldenCheck {
    /// Default `--tolerance`: relative error (`max |engine - golden| / max |golden|`).
    public static let defaultTolerance = 1e-4

    /// Checks a `--tolerance` value: finite, >= 0.
    public static func validate(tolerance: Double) throws {
        guard tolerance.isFinite, tolerance >= 0, tolerance.sign == .plus else {
            throw SettingsError(parameter: "--tolerance", message: "must be a finite relative error >= 0, got \(tolerance)")
        }
    }

    /// `max |a - b| / max |b|`, in double precision. Arrays of different lengths (a model
    /// file whose stored outputs do not match its graph) and NaN anywhere give NaN, which
    /// fails every tolerance.
    public static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .nan }
        var diff = 0.0, scale = 0.0
        for (x, y) in zip(a, b) {
            let d = abs(Double(x) - Double(y))
            if d.isNaN { return .nan }
            diff = max(diff, d)
            scale = max(scale, abs(Double(y)))
        }
        return scale > 0 ? diff / scale : diff
    }

    /// `float(model:dataset:threads:)`, throwing `GoldenMismatch` when any error exceeds `tolerance`.
    public static func check(model: Model, dataset: CIFAR10, threads: Int = 1, tolerance: Double = defaultTolerance)
        throws -> GoldenComparison
    {
        try validate(tolerance: tolerance)
        let result = try float(model: model, dataset: dataset, threads: threads)
        let failures = result.failures(tolerance: tolerance)
        guard failures.isEmpty else { throw GoldenMismatch(model: model.path, tolerance: tolerance, failures: failures) }
        return result
    }

    /// Runs the float engine on the golden images and compares logits and per-op outputs.
    public static func float(model: Model, dataset: CIFAR10, threads: Int = 1) throws -> GoldenComparison {
        guard let golden = model.golden else {
            throw ModelError(file: model.path, object: "/golden", message: "the model file has no golden data")
        }
        let executor = FloatExecutor(graph: model.graph, threads: threads)
        let images = golden.testIndices
        guard let maxIndex = images.max(), maxIndex < dataset.count, golden.opImageIndex < dataset.count else {
            throw DatasetError("the golden images need test images up to index \(images.max() ?? 0); the dataset has \(dataset.count)")
        }
        for (i, index) in images.enumerated() where dataset.labels[index] != golden.labels[i] {
            throw DatasetError("test image \(index) has label \(dataset.labels[index]) but the model's golden data says \(golden.labels[i]): a different test set?")
        }
        let meta = model.metadata
        func batch(_ indices: [Int]) -> Tensor {
            let subset = dataset.subset(indices)
            return Tensor(shape: dataset.imageShape + [indices.count]) { out in
                subset.normalizedBatch(0..<indices.count, mean: meta.normalizationMean, std: meta.normalizationStd, into: out)
            }
        }
        let logits = try executor.run(batch(images))                 // [K, M]
        let goldenLogits = golden.logits.swappingFirstTwoAxes()       // [M, K] -> [K, M]
        let ours = Evaluation.predictions(logits)
        let theirs = Evaluation.predictions(goldenLogits)
        let mismatches = zip(ours, theirs).filter { $0 != $1 }.count

        let all = executor.runKeepingAll(batch([golden.opImageIndex]))
        var opErrors: [GoldenComparison.OpError] = []
        for (i, op) in model.graph.ops.enumerated() {
            guard let expected = golden.opOutputs[i] else { continue }
            // One image: [C, H, W, 1] and [F, 1] hold the same values as PyTorch's [C, H, W] and [F].
            opErrors.append(.init(index: i, name: op.name, type: op.kind.typeName,
                                  relativeError: relativeError(all[i].scalars, expected.scalars)))
        }
        return GoldenComparison(
            logitsRelativeError: relativeError(logits.scalars, goldenLogits.scalars), ops: opErrors,
            images: images.count, predictionMismatches: mismatches)
    }
}

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

    public var maxOpRelativeError: Double { ops.map(\.relativeError).max() ?? 0 }
}

public enum GoldenCheck {
    /// `max |a - b| / max |b|`, in double precision.
    public static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var diff = 0.0, scale = 0.0
        for (x, y) in zip(a, b) {
            diff = max(diff, abs(Double(x) - Double(y)))
            scale = max(scale, abs(Double(y)))
        }
        return scale > 0 ? diff / scale : diff
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

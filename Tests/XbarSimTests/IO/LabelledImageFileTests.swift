import Foundation
import Testing
@testable import XbarSim

/// Dataset files (Datasets/FORMAT.md): any size, grayscale, any class count; bad files are errors.
struct LabelledImageFileTests {
    /// Writes a dataset file as `Datasets/labelled_images.py` does.
    static func writeDataset(
        _ path: String, shape: [Int], pixels: [UInt8], labels: [Int], classNames: [String],
        train: (pixels: [UInt8], labels: [Int])? = nil, format: String = "xbarsim-dataset", mean: Double = 0.5
    ) throws {
        let file = try HDF5File(creating: path)
        let root = try file.root()
        try root.setAttribute("format", string: format)
        try root.setAttribute("format_version", ints: [1], scalar: true)
        try root.setAttribute("normalized", ints: [0], scalar: true)
        try root.setAttribute("normalization_mean", doubles: [Double](repeating: mean, count: shape[1]))
        try root.setAttribute("normalization_std", doubles: [Double](repeating: 0.25, count: shape[1]))
        try root.setAttribute("class_names", strings: classNames)
        try root.write("images", shape: shape, bytes: pixels)
        try root.write("labels", shape: [labels.count], ints: labels.map { Int64($0) })
        if let train {
            try root.write("train_images", shape: [train.labels.count] + Array(shape.dropFirst()), bytes: train.pixels)
            try root.write("train_labels", shape: [train.labels.count], ints: train.labels.map { Int64($0) })
        }
    }

    /// A 48x48 grayscale, 7-class set (the facial-expression shape of the ShuffleNetV2 reference)
    /// and a model for it whose float output is known in closed form.
    @Test func grayscale48x48SevenClassesEvaluatesThroughEveryEngine() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = 20, classes = 7
        var values = TestValues(seed: 3)
        let pixels = (0..<(n * 48 * 48)).map { _ in UInt8(truncatingIfNeeded: Int((values.next() + 1) * 127.5)) }
        let labels = (0..<n).map { $0 % classes }
        let data = dir + "/faces.h5"
        try Self.writeDataset(data, shape: [n, 1, 48, 48], pixels: pixels, labels: labels,
                              classNames: (0..<classes).map { "c\($0)" },
                              train: (Array(pixels.prefix(4 * 48 * 48)), [0, 1, 2, 3]))
        let loaded = try LabelledImageFile.load(data)
        #expect(loaded.imageShape == [1, 48, 48] && loaded.count == n && loaded.labels == labels)
        #expect(loaded.classNames.count == classes)

        // Model: 2x2 max pool (24x24), GAP, flatten, linear 1 -> 7 with weights w_k and bias b_k.
        let w: [Float] = [1, -1, 0.5, 2, -0.5, 0.25, 1.5], b: [Float] = [0, 0.1, -0.1, 0.2, 0, 0.3, -0.2]
        let pool = PoolGeometry(channels: 1, input: (48, 48), kernel: (2, 2), stride: (2, 2))
        let ops = [
            Op(name: "pool", path: "/ops/0000", kind: .maxPool(pool), inputs: [0], outputShape: [1, 24, 24]),
            Op(name: "gap", path: "/ops/0001", kind: .globalAveragePool, inputs: [1], outputShape: [1, 1, 1]),
            Op(name: "flat", path: "/ops/0002", kind: .flatten, inputs: [2], outputShape: [1]),
            Op(name: "fc", path: "/ops/0003", kind: .linear(inFeatures: 1, outFeatures: classes, weight: w, bias: b),
               inputs: [3], outputShape: [classes]),
        ]
        let meta = ModelMetadata(architecture: "test", inputShape: [1, 48, 48], normalizationMean: [0.5],
                                 normalizationStd: [0.25], classNames: (0..<classes).map { "c\($0)" })
        let modelPath = dir + "/net.h5"
        try ModelFile.write(Model(path: modelPath, metadata: meta, graph: Graph(inputShape: [1, 48, 48], ops: ops, outputIndex: 3)),
                            to: modelPath)
        var settings = EvaluationSettings()
        settings.modelPath = modelPath
        settings.dataDirectory = data
        settings.threads = 1
        let inputs = try EvaluationInputs(settings: settings)
        // Independent reference: per image, mean over 2x2 blocks of the block maxima, then w·m + b.
        var expectedCorrect = 0
        for i in 0..<n {
            var sum = 0.0
            for by in 0..<24 {
                for bx in 0..<24 {
                    var m = -Double.infinity
                    for dy in 0..<2 { for dx in 0..<2 {
                        let p = Double(pixels[i * 2304 + (2 * by + dy) * 48 + 2 * bx + dx])
                        m = max(m, (p / 255 - 0.5) / 0.25)
                    } }
                    sum += m
                }
            }
            let mean = sum / 576
            let logits = (0..<classes).map { Double(w[$0]) * mean + Double(b[$0]) }
            let predicted = logits.indices.max { logits[$0] < logits[$1] } ?? 0
            if predicted == labels[i] { expectedCorrect += 1 }
        }
        let float = try Evaluation.float(inputs, settings: settings)
        #expect(float.correct == expectedCorrect && float.images == n)
        var config = Preset.ideal.config
        config.calibrationImages = 4          // the file's training split
        let analog = try Evaluation.analog(inputs, settings: settings, config: config, preset: .ideal, seed: 0, chips: 1)
        #expect(analog.accuracy == float.accuracy)
    }

    @Test func mismatchesAndBadFilesAreOneLineErrorsNamingTheField() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let px = [UInt8](repeating: 7, count: 2 * 3 * 32 * 32)
        // Labels out of range.
        let bad = dir + "/labels.h5"
        try Self.writeDataset(bad, shape: [2, 3, 32, 32], pixels: px, labels: [0, 10], classNames: (0..<10).map { "\($0)" })
        #expect(errorMessage { _ = try LabelledImageFile.load(bad) }.contains("label 10 of image 1 is out of range"))
        // Wrong shape for the model (the default model wants 3x32x32).
        let gray = dir + "/gray.h5"
        try Self.writeDataset(gray, shape: [2, 1, 32, 32], pixels: [UInt8](repeating: 1, count: 2048), labels: [0, 1],
                              classNames: (0..<10).map { "\($0)" })
        var settings = EvaluationSettings()
        settings.modelPath = defaultModelPath
        settings.dataDirectory = gray
        let message = errorMessage { _ = try EvaluationInputs(settings: settings) }
        #expect(message.contains("input_shape") && message.contains("[1, 32, 32]"), "\(message)")
        // Class count differs from the model's.
        let five = dir + "/five.h5"
        try Self.writeDataset(five, shape: [2, 3, 32, 32], pixels: px, labels: [0, 1], classNames: (0..<5).map { "\($0)" })
        settings.dataDirectory = five
        #expect(errorMessage { _ = try EvaluationInputs(settings: settings) }.contains("has 5"))
        // Not a dataset file; no training split for calibration.
        let foreign = dir + "/foreign.h5"
        try Self.writeDataset(foreign, shape: [2, 3, 32, 32], pixels: px, labels: [0, 1], classNames: ["a", "b"], format: "other")
        #expect(errorMessage { _ = try LabelledImageFile.load(foreign) }.contains("/@format"))
        #expect(errorMessage { _ = try LabelledImageFile.load(five, split: .train) }.contains("train_images"))
    }
}

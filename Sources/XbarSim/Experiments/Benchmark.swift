import Foundation
import XbarSimAnalog
import XbarSimCrossbar
import XbarSimDevice
import XbarSimTensor

/// One engine's accuracy and throughput in a `Benchmark.modes` run.
public struct ModeBenchmarkRow: Sendable, Equatable, Codable {
    /// `float`, or `PRESET/MODE` (e.g. `rram/digitized`).
    public var name: String
    public var preset: String?
    public var mode: String?
    /// Top-1 accuracy, 0...1 (mean over chips for analog rows).
    public var accuracy: Double
    public var imagesPerSecond: Double
    /// `imagesPerSecond / float imagesPerSecond` (1 for the float row).
    public var speedRatioToFloat: Double
    /// `accuracy - float accuracy` (0 for the float row).
    public var accuracyChange: Double
    public var seconds: Double
}

/// Float and every preset × signal mode on the same images, measured in one run.
public struct ModeBenchmarkReport: Sendable, Equatable, Codable {
    public var model: String
    public var images: Int
    public var chips: Int
    public var seed: UInt64
    public var batchSize: Int
    public var threads: Int
    public var rows: [ModeBenchmarkRow]
}

/// Throughput of one programmed crossbar (an `R x C` fully connected layer) with programming
/// variation and read noise, against the same GEMM in float.
public struct TileBenchmarkResult: Sendable, Equatable, Codable {
    public var rows: Int
    public var columns: Int
    public var batch: Int
    public var repeats: Int
    public var variation: Double
    public var readNoise: Double
    /// Seconds to map and program the devices (once per chip).
    public var programSeconds: Double
    /// Input vectors (matrix-vector products) per second through the noisy crossbar.
    public var vectorsPerSecond: Double
    /// The same products in float (one GEMM per batch, no noise).
    public var floatVectorsPerSecond: Double
    /// `vectorsPerSecond / floatVectorsPerSecond`.
    public var ratioToFloat: Double
    /// RMS of (noisy − float) outputs over RMS of the float outputs, first batch.
    public var relativeRMSError: Double
}

public enum Benchmark {
    /// Evaluates the float engine and each `presets × modes` chip on the same test images.
    /// The float row's throughput is its own run's; analog rows reuse its predictions as the reference.
    public static func modes(
        _ inputs: EvaluationInputs, settings: EvaluationSettings, seed: UInt64, chips: Int,
        presets: [Preset] = Preset.allCases, modes: [SignalMode] = SignalMode.allCases,
        progress: ((String) -> Void)? = nil
    ) throws -> ModeBenchmarkReport {
        progress?("float")
        let float = try Evaluation.float(inputs, settings: settings)
        let reference = FloatReference(images: float.images, correct: float.correct, seconds: float.seconds)
        var rows = [
            ModeBenchmarkRow(name: "float", preset: nil, mode: nil, accuracy: float.accuracy,
                             imagesPerSecond: float.imagesPerSecond, speedRatioToFloat: 1, accuracyChange: 0,
                             seconds: float.seconds),
        ]
        var calibrations: [Int: Calibration] = [:]
        for preset in presets {
            for mode in modes {
                var config = preset.config
                config.mode = mode
                let name = "\(preset.rawValue)/\(mode.rawValue)"
                progress?(name)
                let calibration = try calibrations[config.calibrationImages]
                    ?? Evaluation.calibrate(inputs, images: config.calibrationImages, threads: settings.threads)
                calibrations[config.calibrationImages] = calibration
                let r = try Evaluation.analog(
                    inputs, settings: settings, config: config, preset: preset, seed: seed, chips: chips,
                    floatReference: reference, calibration: calibration)
                rows.append(ModeBenchmarkRow(
                    name: name, preset: preset.rawValue, mode: mode.rawValue, accuracy: r.accuracy,
                    imagesPerSecond: r.imagesPerSecond, speedRatioToFloat: r.imagesPerSecond / max(float.imagesPerSecond, 1e-9),
                    accuracyChange: r.accuracy - float.accuracy, seconds: r.seconds))
            }
        }
        return ModeBenchmarkReport(
            model: inputs.model.path, images: float.images, chips: chips, seed: seed, batchSize: settings.batchSize,
            threads: settings.threads, rows: rows)
    }

    /// Programs a `rows x columns` crossbar with uniform weights in [−1, 1] (ideal preset plus
    /// `variation` and `readNoise`, paper mapping, no tiling) and times `repeats` forward passes
    /// of `batch` input vectors, against the same GEMM in float. The same sizes and batch as
    /// `Benchmarks/aihwkit_tile.py`.
    public static func tile(
        rows: Int, columns: Int, batch: Int, repeats: Int, variation: Double = 0.05, readNoise: Double = 0.02,
        seed: UInt64 = 0, threads: Int
    ) throws -> TileBenchmarkResult {
        guard rows > 0, columns > 0 else {
            throw SettingsError(parameter: "--tile-sizes", message: "sizes must be positive, got \(rows)x\(columns)")
        }
        guard batch > 0 else { throw SettingsError(parameter: "--tile-batch", message: "must be positive, got \(batch)") }
        guard repeats > 0 else { throw SettingsError(parameter: "--tile-repeats", message: "must be positive, got \(repeats)") }
        BLAS.setThreads(threads)
        var config = Preset.ideal.config
        config.device.variation.relativeSigma = variation
        config.device.readNoise.relativeSigma = readNoise
        try config.validate()
        var values = RandomStream(seed: seed, key: [0x7469_6c65])  // "tile"
        let weights = (0..<(rows * columns)).map { _ in Float(values.nextUniform() * 2 - 1) }
        let input = Tensor(shape: [rows, 1, 1, batch], scalars: (0..<(rows * batch)).map { _ in Float(values.nextUniform() * 2 - 1) })
        let geometry = Conv2DGeometry(inChannels: rows, outChannels: columns, kernel: (1, 1), input: (1, 1))

        let programStart = Date()
        let layer = try CrossbarLayer(
            geometry: geometry, matrix: CrossbarMatrix(inputs: rows, outputs: columns, weights: weights, bias: nil),
            config: config, seed: seed, key: [0])
        let programSeconds = Date().timeIntervalSince(programStart)
        let ranges = SignalRanges(railUnits: nil, inputRange: 1, outputRange: Float(rows))

        // One untimed pass of each, so first-touch page faults and BLAS start-up are not timed.
        _ = layer.run(input, mode: .analog, periphery: config.periphery, ranges: ranges,
                      noise: NoiseKey(seed: seed, crossbar: [1], firstImage: 0), threads: threads)
        _ = Kernels.conv2d(input, weight: weights, bias: nil, geometry: geometry, threads: threads)

        var first: Tensor?
        let start = Date()
        for r in 0..<repeats {
            let y = layer.run(input, mode: .analog, periphery: config.periphery, ranges: ranges,
                              noise: NoiseKey(seed: seed, crossbar: [0], firstImage: r * batch), threads: threads)
            if r == 0 { first = y }
        }
        let seconds = Date().timeIntervalSince(start)

        var reference: Tensor?
        let floatStart = Date()
        for r in 0..<repeats {
            let y = Kernels.conv2d(input, weight: weights, bias: nil, geometry: geometry, threads: threads)
            if r == 0 { reference = y }
        }
        let floatSeconds = Date().timeIntervalSince(floatStart)

        var diff = 0.0, norm = 0.0
        if let first, let reference {
            for (a, b) in zip(first.scalars, reference.scalars) {
                diff += Double(a - b) * Double(a - b)
                norm += Double(b) * Double(b)
            }
        }
        let vectors = Double(batch * repeats)
        let result = TileBenchmarkResult(
            rows: rows, columns: columns, batch: batch, repeats: repeats, variation: variation, readNoise: readNoise,
            programSeconds: programSeconds, vectorsPerSecond: vectors / max(seconds, 1e-9),
            floatVectorsPerSecond: vectors / max(floatSeconds, 1e-9),
            ratioToFloat: floatSeconds / max(seconds, 1e-9), relativeRMSError: norm > 0 ? (diff / norm).squareRoot() : 0)
        guard result.relativeRMSError.isFinite else {
            throw SettingsError(parameter: "bench", message: "the \(rows)x\(columns) tile gave NaN or infinite outputs")
        }
        return result
    }
}

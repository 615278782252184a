import Foundation
import Testing
@testable import XbarSim
@testable import XbarSimAnalog

/// Post-programming calibration (`--calibrate`) and per-column drift compensation against
/// closed forms on small crossbars.
struct ChipCalibrationTests {
    static let w: [Float] = [0.5, -0.25, 1, 0.1, -1, 0.75, 0.2, -0.4, 0.3, 0.6, -0.8, 0.9]
    static let b: [Float] = [0.3, -0.2, 0.1]

    /// flatten [4,1,1] -> linear 4->3 with bias.
    static func network() -> Graph {
        Graph(inputShape: [4, 1, 1], ops: [
            Op(name: "flatten", path: "", kind: .flatten, inputs: [0], outputShape: [4]),
            Op(name: "fc", path: "", kind: .linear(inFeatures: 4, outFeatures: 3, weight: w, bias: b), inputs: [1],
               outputShape: [3]),
        ], outputIndex: 1)
    }

    static func images(_ n: Int, channels: Int = 4, spatial: Int = 1, seed: UInt64 = 5) -> Tensor {
        var values = TestValues(seed: seed)
        let side = Int(Double(spatial).squareRoot())
        return Tensor(shape: [channels, side, side, n], scalars: values.array(channels * spatial * n))
    }

    static func chip(_ config: AnalogConfig, graph: Graph = network()) throws -> AnalogChip {
        let calibration = Calibration(maxAbs: [Float](repeating: 4, count: graph.ops.count + 1), images: 1)
        return try AnalogChip(graph: graph, config: config, seed: 3, chip: 0, inputMaxAbs: 1, calibration: calibration)
    }

    static func layer(_ chip: AnalogChip, op: Int) throws -> CrossbarLayer {
        guard case .crossbar(let layer) = chip.stages[op] else { throw CalibrationTestError.notACrossbar }
        return layer
    }

    /// Every device drifts by exactly `f = (t/t0)^(−ν)` (ν fixed, no compensation): a systematic
    /// gain error `f` on every column, bias rows included.
    static func driftingConfig(gain f: Double) -> AnalogConfig {
        var c = Preset.ideal.config
        c.device.drift = Drift(timeSeconds: 40, referenceTimeSeconds: 20, nuMean: log(1 / f) / log(2), nuSigma: 0,
                               compensation: .none)
        return c
    }

    @Test func trimIsClampedAndQuantised() {
        #expect(ChipCalibration.trim(forGain: 0.8) == (1.25, false))
        let (t, saturated) = ChipCalibration.trim(forGain: 0.7)
        #expect(!saturated && t == 1463.0 / 1024)   // 1024/0.7 = 1462.86
        #expect(ChipCalibration.trim(forGain: 0.5) == (1.5, true))
        #expect(ChipCalibration.trim(forGain: 4) == (0.5, true))
        #expect(ChipCalibration.trim(forGain: -1) == (1, false))
        #expect(ChipCalibration.trim(forGain: .nan) == (1, false))
    }

    /// A column whose devices all read at `f` times their value is trimmed back: the effective
    /// weights become `t_q·f·W` and the bias `t_q·f·β` (the bias-row devices are reprogrammed at
    /// `f·β·s`, fresh, and read through the trimmed TIA), `t_q = round(1024/f)/1024`.
    @Test(arguments: [0.8, 0.7, 0.93])
    func columnTrimCorrectsAKnownGainError(f: Double) throws {
        let chip = try Self.chip(Self.driftingConfig(gain: f))
        let before = try Self.layer(chip, op: 1).parts[0]
        for (x, ref) in zip(before.weights, Self.w) { #expect(abs(Double(x) - f * Double(ref)) < 1e-6) }
        let (calibrated, summary) = try chip.calibrated(images: Self.images(64), mode: .column, source: "test",
                                                        threads: 1)
        let tq = (1024 / f).rounded() / 1024
        let part = try Self.layer(calibrated, op: 1).parts[0]
        for (x, ref) in zip(part.weights, Self.w) {
            #expect(abs(Double(x) - tq * f * Double(ref)) < 2e-6, "\(x) vs \(tq * f * Double(ref))")
        }
        #expect(part.bias?.count == 3)
        for (x, ref) in zip(part.bias ?? [], Self.b) {
            #expect(abs(Double(x) - tq * f * Double(ref)) < 2e-6, "\(x) vs \(tq * f * Double(ref))")
        }
        // Residual gain error within half a trim step.
        #expect(abs(tq * f - 1) <= f * ChipCalibration.trimStep / 2 + 1e-12)
        let record = try #require(summary.ops.first)
        #expect(record.action == "column" && record.columns == 3)
        #expect(abs((record.gainErrorBefore ?? 0) - (1 - f)) < 1e-5)
        #expect((record.gainErrorAfter ?? 1) <= f * ChipCalibration.trimStep / 2 + 1e-5)
    }

    /// A crossbar programmed with the bias `β + Δ` while the network wants `β`: calibration fits
    /// offset `Δ` (gain 1) and reprograms the bias row to `β` exactly (continuous levels), or to
    /// the nearest level (16 levels: within half a level step over `s`).
    @Test(arguments: [0, 16])
    func columnTrimRemovesAKnownOffset(levels: Int) throws {
        var config = Preset.ideal.config
        if levels > 0 { config.device.levels = .uniform(count: levels) }
        let delta: [Float] = [0.25, -0.15, 0.05]
        let chip = try Self.chip(config)
        let g = Conv2DGeometry(inChannels: 4, outChannels: 3, kernel: (1, 1), input: (1, 1))
        let shifted = try CrossbarLayer(
            geometry: g, matrix: CrossbarMatrix(inputs: 4, outputs: 3, weights: Self.w, bias: zip(Self.b, delta).map(+)),
            config: config, seed: 3, key: [0, 1])
        var stages = chip.stages
        stages[1] = .crossbar(shifted)
        let faulty = AnalogChip(graph: chip.graph, config: config, seed: 3, chip: 0, stages: stages,
                                voltsPerUnit: chip.voltsPerUnit, calibration: chip.calibration, opConfigs: chip.opConfigs)
        let (calibrated, summary) = try faulty.calibrated(images: Self.images(64), mode: .column, source: "test",
                                                          threads: 1)
        let part = try Self.layer(calibrated, op: 1).parts[0]
        let record = try #require(summary.ops.first)
        if levels == 0 {
            for o in 0..<3 {
                let bias = Double(part.bias?[o] ?? .nan)
                #expect(abs(bias - Double(Self.b[o])) <= 2e-6, "output \(o): \(bias) vs \(Self.b[o])")
            }
            // The weights are untouched (gain 1 → trim 1).
            for (x, ref) in zip(part.weights, try Self.layer(faulty, op: 1).parts[0].weights) { #expect(x == ref) }
            #expect((record.offsetAfter ?? 1) < 1e-5 && (record.offsetBefore ?? 0) > 0.05)
        } else {
            // Quantised weights and bias levels: the offset shrinks to the level quantisation.
            #expect((record.offsetAfter ?? 1) < (record.offsetBefore ?? 0) / 3, "\(record)")
        }
    }

    /// `none` returns the chip unchanged: bit-identical outputs.
    @Test func noneChangesNothing() throws {
        var config = Preset.rram.config
        config.tile = .unlimited
        let chip = try Self.chip(config)
        let (same, summary) = try chip.calibrated(images: Self.images(32), mode: .none, source: "test", threads: 1)
        #expect(summary.ops.isEmpty)
        let x = Self.images(40, seed: 9)
        let a = try chip.run(x, firstImage: 0, threads: 1)
        let b = try same.run(x, firstImage: 0, threads: 1)
        #expect(a.scalars == b.scalars)
    }

    /// Calibration reads have read noise of their own streams; the result is deterministic and
    /// independent of the thread count.
    @Test func calibrationWithReadNoiseIsDeterministic() throws {
        var config = Self.driftingConfig(gain: 0.8)
        config.device.readNoise = ReadNoise(relativeSigma: 0.05)
        let chip = try Self.chip(config)
        let one = try chip.calibrated(images: Self.images(256), mode: .all, source: "test", threads: 1).chip
        let two = try chip.calibrated(images: Self.images(256), mode: .all, source: "test", threads: 2).chip
        #expect(try Self.layer(one, op: 1).parts[0].weights == Self.layer(two, op: 1).parts[0].weights)
        // With noise the fitted gain is close to, not exactly, 0.8: the trim lands within a few steps of 1.25.
        let trim = try #require(try Self.layer(one, op: 1).tiaTrim)
        for t in trim { #expect(abs(t - 1.25) < 0.02) }
    }

    /// BN re-estimation: the subtract stage's bias becomes `−sign(γ)·μ_c` and the scale stage's
    /// weights `|γ_c|/√(σ_c² + ε)`, with μ and σ² the calibration images' per-channel statistics
    /// computed here independently.
    @Test func batchNormStatisticsAreReestimated() throws {
        let bn = BatchNormParameters(gamma: [1.5, -0.5], beta: [0.1, -0.3], runningMean: [0.7, -0.2],
                                     runningVariance: [2, 0.3], epsilon: 1e-5)
        let graph = Graph(inputShape: [2, 2, 2], ops: [
            Op(name: "bn", path: "", kind: .batchNorm(bn), inputs: [0], outputShape: [2, 2, 2]),
        ], outputIndex: 0)
        let chip = try Self.chip(Preset.ideal.config, graph: graph)
        let n = 50
        let x = Self.images(n, channels: 2, spatial: 4)
        let (calibrated, summary) = try chip.calibrated(images: x, mode: .bn, source: "test", threads: 1)
        guard case .batchNorm(let subtract, let scale) = calibrated.stages[0] else {
            throw CalibrationTestError.notACrossbar
        }
        for c in 0..<2 {
            let values = (0..<(4 * n)).map { Double(x.scalars[c * 4 * n + $0]) }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            let sign: Double = bn.gamma[c] >= 0 ? 1 : -1
            #expect(abs(Double(subtract.parts[0].bias?[c] ?? .nan) + sign * mean) < 1e-5)
            let wanted = abs(Double(bn.gamma[c])) / (variance + bn.epsilon).squareRoot()
            #expect(abs(Double(scale.parts[0].weights[c]) / wanted - 1) < 1e-5)
        }
        #expect(summary.ops.map(\.action) == ["batchnorm.statistics"])
        #expect(summary.ops[0].devicesReprogrammed > 0)
    }

    /// Per-column drift compensation exactly undoes a drift that is uniform within each column
    /// but different between columns (closed form), which global compensation cannot.
    @Test func columnDriftCompensationUndoesPerColumnDrift() throws {
        let matrix = CrossbarMatrix(inputs: 4, outputs: 3, weights: Self.w, bias: Self.b)
        var device = DeviceModel()
        let mapped = MappedCrossbar.map(matrix, scheme: .paper, scaling: .perLayer, window: device.window)
        let factors = [0.9, 0.6, 0.75]
        func drifted(_ g: [Double]) -> [Double] {
            g.enumerated().map { i, v in v * factors[i / mapped.rows] }
        }
        device.drift = Drift(timeSeconds: 1000, nuMean: 0.05, compensation: .column)
        let p = ProgrammedCrossbar(mapped, positiveSiemens: drifted(mapped.positiveSiemens),
                                   negativeSiemens: drifted(mapped.negativeSiemens),
                                   positiveBeforeDrift: mapped.positiveSiemens,
                                   negativeBeforeDrift: mapped.negativeSiemens, device: device, opAmp: .ideal)
        let (wRef, bRef) = mapped.representedWeights()
        for (x, ref) in zip(p.weights, wRef) { #expect(abs(x - ref) <= 1e-6 * max(1, abs(ref))) }
        for (x, ref) in zip(p.bias, bRef) { #expect(abs(x - ref) <= 1e-6 * max(1, abs(ref))) }
        #expect(p.columnDriftCompensation?.count == 3)
        for (c, f) in zip(p.columnDriftCompensation ?? [], factors) { #expect(abs(c * f - 1) < 1e-14) }
        // Global compensation leaves a per-column error.
        device.drift.compensation = .global
        let global = ProgrammedCrossbar(mapped, positiveSiemens: drifted(mapped.positiveSiemens),
                                        negativeSiemens: drifted(mapped.negativeSiemens),
                                        positiveBeforeDrift: mapped.positiveSiemens,
                                        negativeBeforeDrift: mapped.negativeSiemens, device: device, opAmp: .ideal)
        #expect(zip(global.weights, wRef).contains { abs($0 - $1) > 0.01 })
        // The engine's effective weights (tile circuits) follow the same factors.
        var config = Preset.ideal.config
        config.device = device
        config.device.drift.compensation = .column
        let g = Conv2DGeometry(inChannels: 4, outChannels: 3, kernel: (1, 1), input: (1, 1))
        let layer = try CrossbarLayer(geometry: g, mapped: mapped, programmed: p, config: config)
        for (x, ref) in zip(layer.parts[0].weights, wRef) { #expect(abs(x - ref) <= 1e-6 * max(1, abs(ref))) }
    }

    @Test func columnCompensationFactorsClosedForm() {
        // 2 outputs x 2 rows, two halves.
        let f = Drift.columnCompensationFactors(before: [[1, 2, 3, 4], [1, 0, 0, 1]], after: [[0.5, 1, 3, 4], [0.5, 0, 0, 0]],
                                                outputs: 2, rows: 2)
        #expect(f == [4.0 / 2.0, 8.0 / 7.0])
        #expect(Drift.columnCompensationFactors(before: [[1, 1]], after: [[0, 0]], outputs: 1, rows: 2) == [1])
    }

    /// Stuck devices stay stuck when reprogrammed; others get the new target with fresh variation.
    @Test func reprogrammedDevicesKeepTheirStuckState() {
        var device = DeviceModel()
        device.stuck = StuckFaults(stuckOnFraction: 0.2, stuckOffFraction: 0.2)
        let n = 200
        let targets = [Double](repeating: 50e-6, count: n)
        let (first, _) = device.program(targets, seed: 1, key: [4])
        let again = device.reprogram([Double](repeating: 20e-6, count: n), at: Array(0..<n), seed: 1, key: [4],
                                     calibrationPass: 9)
        for i in 0..<n {
            if first[i] == 50e-6 { #expect(again[i] == 20e-6) } else { #expect(again[i] == first[i]) }
        }
        #expect(first.contains(100e-6) && first.contains(1e-6))
    }

    /// The calibration images are the training split: a dataset file whose training images differ
    /// from its test images gives the training images, normalised, and never the test images.
    @Test func calibrationImagesComeFromTheTrainingSplit() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let test: [UInt8] = (0..<(6 * 4)).map { UInt8($0 * 10) }
        let train: [UInt8] = (0..<(3 * 4)).map { UInt8(255 - $0 * 7) }
        let data = dir + "/set.h5"
        try LabelledImageFileTests.writeDataset(data, shape: [6, 1, 2, 2], pixels: test, labels: [0, 1, 0, 1, 0, 1],
                                                classNames: ["a", "b"], train: (train, [0, 1, 1]))
        let ops = [
            Op(name: "flatten", path: "", kind: .flatten, inputs: [0], outputShape: [4]),
            Op(name: "fc", path: "", kind: .linear(inFeatures: 4, outFeatures: 2, weight: [1, 0, 0, 0, 0, 1, 0, 0],
                                                   bias: [0.1, -0.1]), inputs: [1], outputShape: [2]),
        ]
        let meta = ModelMetadata(architecture: "test", inputShape: [1, 2, 2], normalizationMean: [0.5],
                                 normalizationStd: [0.25], classNames: ["a", "b"])
        let modelPath = dir + "/net.h5"
        try ModelFile.write(Model(path: modelPath, metadata: meta, graph: Graph(inputShape: [1, 2, 2], ops: ops, outputIndex: 1)),
                            to: modelPath)
        var settings = EvaluationSettings()
        settings.modelPath = modelPath
        settings.dataDirectory = data
        settings.threads = 1
        let inputs = try EvaluationInputs(settings: settings)
        let (batch, source) = try Evaluation.calibrationImages(inputs, images: 3)
        #expect(source.hasSuffix("train_images"))
        // [1, 2, 2, 3]: pixel p of image j at p*3 + j, (v/255 − 0.5)/0.25.
        for j in 0..<3 {
            for p in 0..<4 {
                let expected = (Float(train[j * 4 + p]) / 255 - 0.5) / 0.25
                #expect(abs(batch.scalars[p * 3 + j] - expected) < 1e-6)
            }
        }
        #expect(errorMessage { _ = try Evaluation.calibrationImages(inputs, images: 4) }.contains("--calibration-images"))
        var config = Preset.ideal.config
        config.calibrationImages = 3
        config.postCalibration = .column
        let report = try Evaluation.analog(inputs, settings: settings, config: config, preset: nil, seed: 1, chips: 1)
        let summary = try #require(report.postCalibration)
        #expect(summary.images == 3 && summary.source == source && summary.mode == .column)
    }
}

enum CalibrationTestError: Error { case notACrossbar }

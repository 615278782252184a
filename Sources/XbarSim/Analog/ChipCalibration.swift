import XbarSimCrossbar
import XbarSimDevice
import XbarSimGraph
import XbarSimTensor

/// Post-programming calibration of a chip (`--calibrate`, `docs/remedies.md`).
public enum PostCalibration: String, Sendable, Hashable, Codable, CaseIterable {
    /// The chip as programmed.
    case none
    /// Per-column gain/offset trim of every crossbar's TIAs (and of each BN module's output).
    case column
    /// Every BN stage's statistics re-estimated from the chip's own activations.
    case bn
    /// `bn`, then `column`.
    case all

    public var trimsColumns: Bool { self == .column || self == .all }
    public var reestimatesBatchNorm: Bool { self == .bn || self == .all }
}

/// What calibration did to one op (`ChipCalibration.Summary`).
public struct OpCalibrationSummary: Sendable, Equatable, Codable {
    public var op: String
    /// `column` (TIA trim of a crossbar), `batchnorm.column` (trim of a BN module at its scale
    /// stage), `batchnorm.statistics` (BN re-estimation).
    public var action: String
    public var columns: Int
    /// RMS over columns of the fitted gain error `a − 1` and offset `b` (in units of the ideal
    /// output's RMS) before calibration, and after (a second calibration read). nil for
    /// `batchnorm.statistics`.
    public var gainErrorBefore: Double?
    public var gainErrorAfter: Double?
    public var offsetBefore: Double?
    public var offsetAfter: Double?
    /// Columns whose wanted trim `1/a` fell outside the trim range (trim clamped).
    public var trimSaturated: Int
    /// Columns with an offset but no bias row to correct it with.
    public var offsetUncorrectable: Int
    /// Bias-row devices whose new target fell outside the window (clipped).
    public var biasDevicesClipped: Int
    /// Devices reprogrammed.
    public var devicesReprogrammed: Int
}

/// Post-programming calibration: calibration images (training images, never test images) are
/// read through the programmed chip, op by op in execution order, so every op is calibrated on
/// the already calibrated outputs of the ops before it.
///
/// **Column trim** (`column`). For crossbar op `l` and output column `o`, with `x` the chip's
/// own input activations of the op, `ŷ = W·x + β` the op's ideal (float) output on them and `y`
/// the chip's output (read noise included), least squares over every image and position gives
/// `y ≈ a_o·ŷ + b_o` (points at the rails are left out). Then:
/// - gain: the TIA feedback is trimmed, `R_f → t_o·R_f` with `t_o = 1/a_o` clamped to
///   `trimRange` (0.5 ... 1.5, ±50 %) and rounded to `trimStep` (2⁻¹⁰, a 10-bit trim); the
///   whole output (weights, bias rows, read noise) scales by `t_o`;
/// - offset: the column's bias-row devices are reprogrammed so that their summed conductance
///   difference changes by `ΔD_o = −b_o·s_o/κ_o` (`s_o` the column's siemens per unit, `κ_o` its
///   drift compensation), which moves the output by `−t_o·b_o`; the new per-row target is
///   placed as the mapping places biases (`MappedCrossbar.map`: window, `G_min` rounding,
///   clipping at `G_max`), then quantised to the levels with a fresh programming-variation draw
///   (`DeviceModel.reprogram`). Finite op-amp gain and IR drop are neglected in `ΔD_o` (the
///   engine then reads the new devices through the full circuit). A column without bias rows
///   keeps its offset (`offsetUncorrectable`).
/// A batch-norm module is trimmed as one unit: its output against the float BN of the chip's
/// input, corrected at the scale stage (its TIAs and its `β` bias rows).
///
/// **BN re-estimation** (`bn`). At every batch-norm op the chip's own pre-BN activations give
/// per-channel mean `μ_c` and (population) variance `σ_c²`; they replace the running statistics,
/// `(x − μ_c)·γ_c/√(σ_c² + ε) + β_c`, and both BN stages are mapped again and every one of
/// their devices reprogrammed (`DeviceModel.reprogram`: fresh variation, stuck devices stay stuck).
///
/// Calibration reads draw read noise from their own streams (`noiseTag`), so a calibrated chip
/// is deterministic in (seed, chip, calibration images) and independent of threads.
public enum ChipCalibration {
    /// Relative trim range of a TIA's feedback resistance.
    public static let trimRange: ClosedRange<Double> = 0.5...1.5
    /// Trim resolution (10-bit trim DAC over the range).
    public static let trimStep = 1.0 / 1024
    /// Tags calibration reads' noise keys and reprogrammed devices' variation streams.
    static let noiseTag: UInt64 = 0xCA11_B4A7

    /// What calibration did to a chip.
    public struct Summary: Sendable, Equatable, Codable {
        public var mode: PostCalibration
        public var images: Int
        /// Where the images came from (e.g. the training file), for the report.
        public var source: String
        public var ops: [OpCalibrationSummary]
        public init(mode: PostCalibration, images: Int, source: String, ops: [OpCalibrationSummary]) {
            self.mode = mode
            self.images = images
            self.source = source
            self.ops = ops
        }
    }

    /// Quantised trim for a fitted gain `a`: `1/a` clamped to `trimRange`, rounded to `trimStep`;
    /// `saturated` when clamped. A gain that is not positive and finite keeps trim 1.
    public static func trim(forGain a: Double) -> (trim: Double, saturated: Bool) {
        guard a > 0, a.isFinite else { return (1, false) }
        let wanted = 1 / a
        let clamped = min(max(wanted, trimRange.lowerBound), trimRange.upperBound)
        return ((clamped / trimStep).rounded() * trimStep, clamped != wanted)
    }

    /// Least-squares `y ≈ a·ŷ + b` per channel of `[C, ...]` tensors (channel-major blocks),
    /// leaving out points with `|y| >= rail`. A channel whose ideal output is constant gets `a = 1`.
    public static func fitColumns(chip y: Tensor, ideal: Tensor, rail: Float?) -> [(a: Double, b: Double)] {
        precondition(y.shape == ideal.shape)
        let channels = y.shape[0]
        let block = channels > 0 ? y.count / channels : 0
        let limit = rail ?? .infinity
        return (0..<channels).map { c in
            var n = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
            for k in (c * block)..<((c + 1) * block) {
                let yc = y.scalars[k]
                guard abs(yc) < limit else { continue }
                let xi = Double(ideal.scalars[k]), yi = Double(yc)
                n += 1
                sx += xi
                sy += yi
                sxx += xi * xi
                sxy += xi * yi
            }
            guard n > 0 else { return (1, 0) }
            let varX = sxx / n - (sx / n) * (sx / n)
            let covXY = sxy / n - (sx / n) * (sy / n)
            let a = varX > 1e-12 * max(sxx / n, 1e-30) ? covXY / varX : 1
            return (a, sy / n - a * sx / n)
        }
    }

    /// Per-channel mean and population variance of a `[C, ...]` tensor (channel-major blocks).
    public static func channelStatistics(_ x: Tensor) -> (mean: [Double], variance: [Double]) {
        let channels = x.shape[0]
        let block = channels > 0 ? x.count / channels : 0
        var mean = [Double](repeating: 0, count: channels), variance = mean
        for c in 0..<channels where block > 0 {
            var s = 0.0, ss = 0.0
            for k in (c * block)..<((c + 1) * block) {
                let v = Double(x.scalars[k])
                s += v
                ss += v * v
            }
            mean[c] = s / Double(block)
            variance[c] = max(0, ss / Double(block) - mean[c] * mean[c])
        }
        return (mean, variance)
    }

    /// `layer` with each output's TIA trimmed by `trims[o]` (composed with any earlier trim) and
    /// its bias rows reprogrammed so that the output moves by `−trims[o]·offsets[o]`
    /// (`offsets` nil: no offset correction). `key` is the key the layer was programmed with.
    static func trimmed(
        _ layer: CrossbarLayer, trims: [Double], offsets: [Double]?, config: AnalogConfig, seed: UInt64, key: [UInt64],
        threads: Int, record: inout OpCalibrationSummary
    ) throws -> CrossbarLayer {
        let mapped = layer.mapped
        var programmed = layer.programmed
        let rows = mapped.rows
        if let offsets, mapped.biasRows == 0 {
            record.offsetUncorrectable += offsets.filter { $0 != 0 }.count
        }
        if let offsets, mapped.biasRows > 0 {
            let (gMin, gMax) = (config.device.window.gMinSiemens, config.device.window.gMaxSiemens)
            var indices: [Int] = [], positiveTargets: [Double] = [], negativeTargets: [Double] = []
            var clipped = 0
            func place(_ g: Double) -> Double {
                if g > gMax {
                    clipped += 1
                    return gMax
                }
                if g < gMin { return g >= gMin / 2 ? gMin : 0 }
                return g
            }
            for o in 0..<mapped.outputs {
                let kappa = programmed.driftCompensation * (programmed.columnDriftCompensation?[o] ?? 1)
                var current = 0.0
                for r in mapped.inputs..<rows {
                    current += programmed.positiveSiemens[o * rows + r] - programmed.negativeSiemens[o * rows + r]
                }
                let wanted = current - offsets[o] * mapped.siemensPerUnit[o] / kappa
                let d = wanted / Double(mapped.biasRows)
                for r in mapped.inputs..<rows {
                    indices.append(o * rows + r)
                    switch mapped.scheme {
                    case .paper, .invertedOutput:   // one device on the side of the sign, none for zero
                        positiveTargets.append(d > 0 ? place(d) : 0)
                        negativeTargets.append(d < 0 ? place(-d) : 0)
                    case .differential:
                        positiveTargets.append(place(gMin + max(d, 0)))
                        negativeTargets.append(place(gMin + max(-d, 0)))
                    }
                }
            }
            let device = config.device
            let newPositive = device.reprogram(positiveTargets, at: indices, seed: seed, key: key + [1],
                                               calibrationPass: noiseTag)
            let newNegative = device.reprogram(negativeTargets, at: indices, seed: seed, key: key + [2],
                                               calibrationPass: noiseTag)
            var gPos = programmed.positiveSiemens, gNeg = programmed.negativeSiemens
            var fPos = programmed.positiveBeforeDrift, fNeg = programmed.negativeBeforeDrift
            for (j, i) in indices.enumerated() {
                gPos[i] = newPositive[j]
                fPos[i] = newPositive[j]
                gNeg[i] = newNegative[j]
                fNeg[i] = newNegative[j]
            }
            record.biasDevicesClipped += clipped
            record.devicesReprogrammed += newPositive.filter { $0 > 0 }.count + newNegative.filter { $0 > 0 }.count
            programmed = ProgrammedCrossbar(
                mapped, positiveSiemens: gPos, negativeSiemens: gNeg, positiveBeforeDrift: fPos, negativeBeforeDrift: fNeg,
                device: device, opAmp: config.periphery.opAmp,
                keepTIAsSeparate: programmed.positiveWeights != nil)
            programmed.programmingCounts = layer.programmed.programmingCounts
        }
        let composed = layer.tiaTrim.map { zip($0, trims).map { $0 * $1 } } ?? trims
        return try CrossbarLayer(geometry: layer.geometry, mapped: mapped, programmed: programmed, config: config,
                                 tiaTrim: composed, threads: threads, irCompensation: layer.irCompensation)
    }

    /// A crossbar layer for `matrix` whose every device is reprogrammed (`DeviceModel.reprogram`)
    /// on the devices of the crossbar programmed with `key` (BN re-estimation).
    static func reprogrammed(
        geometry: Conv2DGeometry, matrix: CrossbarMatrix, config: AnalogConfig, seed: UInt64, key: [UInt64],
        threads: Int, record: inout OpCalibrationSummary
    ) throws -> CrossbarLayer {
        let mapped = MappedCrossbar.map(matrix, scheme: config.mapping, scaling: config.scaling,
                                        window: config.device.window, headroom: config.mappingHeadroom)
        let all = Array(0..<(mapped.outputs * mapped.rows))
        let gPos = config.device.reprogram(mapped.positiveSiemens, at: all, seed: seed, key: key + [1],
                                           calibrationPass: noiseTag)
        let gNeg = config.device.reprogram(mapped.negativeSiemens, at: all, seed: seed, key: key + [2],
                                           calibrationPass: noiseTag)
        record.devicesReprogrammed += gPos.filter { $0 > 0 }.count + gNeg.filter { $0 > 0 }.count
        let separate = config.mapping != .paper && config.periphery.opAmp.railVolts != nil
        let programmed = ProgrammedCrossbar(mapped, positiveSiemens: gPos, negativeSiemens: gNeg, positiveBeforeDrift: gPos,
                                            negativeBeforeDrift: gNeg, device: config.device,
                                            opAmp: config.periphery.opAmp, keepTIAsSeparate: separate)
        return try CrossbarLayer(geometry: geometry, mapped: mapped, programmed: programmed, config: config,
                                 threads: threads)
    }

    /// RMS over columns of `a − 1` and of `b / rms(ŷ)`.
    static func errors(_ fits: [(a: Double, b: Double)], ideal: Tensor) -> (gain: Double, offset: Double) {
        guard !fits.isEmpty else { return (0, 0) }
        var ss = 0.0
        for v in ideal.scalars { ss += Double(v) * Double(v) }
        let rms = max((ss / Double(max(ideal.count, 1))).squareRoot(), 1e-30)
        let g = fits.reduce(0) { $0 + ($1.a - 1) * ($1.a - 1) } / Double(fits.count)
        let b = fits.reduce(0) { $0 + ($1.b / rms) * ($1.b / rms) } / Double(fits.count)
        return (g.squareRoot(), b.squareRoot())
    }
}

extension AnalogChip {
    /// This chip calibrated on `images` (`[C, H, W, N]`, normalised like the test images; they
    /// must be training images, never test images: `Evaluation.calibrationImages` loads them),
    /// with what was done. `mode == .none` returns the chip unchanged.
    public func calibrated(
        images: Tensor, mode: PostCalibration, source: String, threads: Int
    ) throws -> (chip: AnalogChip, summary: ChipCalibration.Summary) {
        let n = images.shape.last ?? 0
        var summary = ChipCalibration.Summary(mode: mode, images: n, source: source, ops: [])
        guard mode != .none else { return (self, summary) }
        var stages = self.stages
        let x = inputThroughDAC(images)
        var values = [Tensor?](repeating: nil, count: graph.ops.count + 1)
        values[0] = x
        let lastUse = graph.lastUse
        let float = FloatExecutor(graph: graph, threads: threads)
        for (i, op) in graph.ops.enumerated() {
            var inputs: [Tensor] = []
            for v in op.inputs {
                guard let value = values[v] else {
                    throw ExecutionError(op: op.name, message: "calibration: input value \(v) is not available")
                }
                inputs.append(value)
            }
            // Freed after all are read: an op may read one value twice (`x + x`, `cat([x, x])`).
            for v in op.inputs where lastUse[v] == i { values[v] = nil }
            let key: [UInt64] = [UInt64(chip), UInt64(i)]
            let opConfig = opConfigs[i]
            let rail = railUnits(op: i)
            func read(_ stage: AnalogStage) -> Tensor {
                var copy = inputs
                return apply(stage: i, inputs: &copy, firstImage: 0, threads: threads, using: stage, calibrationRead: true)
            }
            func ideal(_ kind: OpKind) -> Tensor {
                var copy = inputs
                return float.apply(Op(name: op.name, path: op.path, kind: kind, inputs: op.inputs,
                                      outputShape: op.outputShape), &copy)
            }
            var record = OpCalibrationSummary(
                op: op.name, action: "", columns: 0, gainErrorBefore: nil, gainErrorAfter: nil, offsetBefore: nil,
                offsetAfter: nil, trimSaturated: 0, offsetUncorrectable: 0, biasDevicesClipped: 0, devicesReprogrammed: 0)
            func trimRecord(before: [(a: Double, b: Double)], after: [(a: Double, b: Double)], ideal y: Tensor) {
                let (g0, b0) = ChipCalibration.errors(before, ideal: y)
                let (g1, b1) = ChipCalibration.errors(after, ideal: y)
                record.columns = before.count
                record.gainErrorBefore = g0
                record.offsetBefore = b0
                record.gainErrorAfter = g1
                record.offsetAfter = b1
            }
            switch stages[i] {
            case .crossbar(let layer) where mode.trimsColumns:
                let weightConfig = opConfig.forCrossbar(batchNormStage: false)
                let layerConfig = isGlobalPool(op) ? weightConfig.forPooling() : weightConfig
                let yIdeal = ideal(op.kind)
                let fits = ChipCalibration.fitColumns(chip: read(stages[i]), ideal: yIdeal, rail: rail)
                let trims = fits.map { ChipCalibration.trim(forGain: $0.a) }
                record.action = "column"
                record.trimSaturated = trims.filter { $0.saturated }.count
                let trimmed = try ChipCalibration.trimmed(
                    layer, trims: trims.map { $0.trim }, offsets: fits.map { $0.b }, config: layerConfig, seed: seed, key: key,
                    threads: threads, record: &record)
                stages[i] = .crossbar(trimmed)
                let y = read(stages[i])
                trimRecord(before: fits, after: ChipCalibration.fitColumns(chip: y, ideal: yIdeal, rail: rail), ideal: yIdeal)
                summary.ops.append(record)
                values[i + 1] = y
            case .batchNorm(var subtract, var scale) where mode.trimsColumns || mode.reestimatesBatchNorm:
                guard case .batchNorm(var bn) = op.kind else {
                    throw ExecutionError(op: op.name, message: "calibration: a batch-norm stage on a non-BN op")
                }
                let bnConfig = opConfig.forCrossbar(batchNormStage: true)
                if mode.reestimatesBatchNorm {
                    let (mean, variance) = ChipCalibration.channelStatistics(inputs[0])
                    bn.runningMean = mean.map { Float($0) }
                    bn.runningVariance = variance.map { Float($0) }
                    let c = bn.channels
                    let g = subtract.geometry
                    let sign: [Float] = bn.gamma.map { $0 >= 0 ? 1 : -1 }
                    var stats = OpCalibrationSummary(
                        op: op.name, action: "batchnorm.statistics", columns: c, gainErrorBefore: nil, gainErrorAfter: nil,
                        offsetBefore: nil, offsetAfter: nil, trimSaturated: 0, offsetUncorrectable: 0,
                        biasDevicesClipped: 0, devicesReprogrammed: 0)
                    subtract = try ChipCalibration.reprogrammed(
                        geometry: g, matrix: CrossbarMatrix(inputs: 1, outputs: c, weights: sign,
                                                            bias: zip(sign, bn.runningMean).map { -$0 * $1 }),
                        config: bnConfig, seed: seed, key: key + [1], threads: threads, record: &stats)
                    scale = try ChipCalibration.reprogrammed(
                        geometry: g, matrix: CrossbarMatrix(inputs: 1, outputs: c, weights: bn.scale.map { abs($0) },
                                                            bias: bn.beta),
                        config: bnConfig, seed: seed, key: key + [2], threads: threads, record: &stats)
                    stages[i] = .batchNorm(subtract: subtract, scale: scale)
                    summary.ops.append(stats)
                }
                if mode.trimsColumns {
                    let yIdeal = ideal(.batchNorm(bn))
                    let fits = ChipCalibration.fitColumns(chip: read(stages[i]), ideal: yIdeal, rail: rail)
                    let trims = fits.map { ChipCalibration.trim(forGain: $0.a) }
                    record.action = "batchnorm.column"
                    record.trimSaturated = trims.filter { $0.saturated }.count
                    scale = try ChipCalibration.trimmed(
                        scale, trims: trims.map { $0.trim }, offsets: fits.map { $0.b }, config: bnConfig, seed: seed,
                        key: key + [2], threads: threads, record: &record)
                    stages[i] = .batchNorm(subtract: subtract, scale: scale)
                    let y = read(stages[i])
                    trimRecord(before: fits, after: ChipCalibration.fitColumns(chip: y, ideal: yIdeal, rail: rail),
                               ideal: yIdeal)
                    summary.ops.append(record)
                    values[i + 1] = y
                } else {
                    values[i + 1] = read(stages[i])
                }
            default:
                values[i + 1] = read(stages[i])
            }
        }
        let calibrated = AnalogChip(graph: graph, config: config, seed: seed, chip: chip, stages: stages,
                                    voltsPerUnit: voltsPerUnit, calibration: calibration, opConfigs: opConfigs)
        return (calibrated, summary)
    }

    private func isGlobalPool(_ op: Op) -> Bool {
        if case .globalAveragePool = op.kind { return true }
        return false
    }
}

import Dispatch
import XbarSimCrossbar
import XbarSimDevice
import XbarSimGraph
import XbarSimTensor

/// How one op of the graph is realised in the memristive circuit.
public enum AnalogStage: Sendable {
    /// Convolution, fully connected layer or global average pooling on crossbars.
    case crossbar(CrossbarLayer)
    /// The reference design's batch-norm module: a subtract stage `±(x − E[x])` and a
    /// scale stage `|γ/σ|·v + β`, each a one-input memristor stage with a TIA; the sign
    /// of γ chooses the wiring of the first stage.
    case batchNorm(subtract: CrossbarLayer, scale: CrossbarLayer)
    /// ReLU / hard-sigmoid / hard-swish: op-amp adder with diode limiters (and a multiplier).
    case activation(ActivationFunction)
    /// Residual add: op-amp summer.
    case add
    /// SE channel scaling: analog multiplier.
    case multiply
    /// Flatten: wiring only.
    case flatten
    /// Average pooling on crossbars with every weight `1/(kh·kw)`, like GAP, over the input
    /// zero-padded to `paddedHeight x paddedWidth` (the window's padding and `ceil_mode`
    /// overhang are rows driven at 0 V). `divisorScale`: per output position, `kh·kw/divisor`
    /// where PyTorch divides by fewer taps (`count_include_pad=False`, clipped windows):
    /// those columns' devices are programmed at `1/divisor`. nil when every window has `kh·kw`.
    case averagePool(CrossbarLayer, PoolGeometry, divisorScale: [Float]?)
    /// Max pooling: one diode max circuit per output element (`AnalogCircuits.maxPool`).
    case maxPool(PoolGeometry)
    /// Concat, channel slice, channel shuffle: wiring only, no devices.
    case wiring
    /// Clamp (ReLU6, hardtanh): diode limiters at both ends.
    case limiter(lower: Float?, upper: Float?)
    /// An elementwise op in digital periphery: ADC, the function, DAC (`AnalogConfig.digitalOps`
    /// and every function without an analog circuit).
    case digital(OpKind)

    /// True for ops that run in digital periphery.
    public var isDigital: Bool { if case .digital = self { true } else { false } }
}

/// Maximum |value| of every value of the graph on calibration images (float engine).
/// Digitized mode sets each crossbar's DAC and ADC full scale from it.
public struct Calibration: Sendable, Equatable, Codable {
    /// Index 0: network input; `i + 1`: output of op `i`.
    public var maxAbs: [Float]
    public var images: Int

    public init(maxAbs: [Float], images: Int) {
        self.maxAbs = maxAbs
        self.images = images
    }

    /// Runs the float engine on `batch` and records maxima.
    public static func measure(graph: Graph, batch: Tensor, threads: Int) throws -> Calibration {
        var maxima = [Float](repeating: 0, count: graph.ops.count + 1)
        maxima[0] = batch.maxAbs
        _ = try FloatExecutor(graph: graph, threads: threads).run(batch, observe: { i, t in maxima[i + 1] = t.maxAbs })
        return Calibration(maxAbs: maxima, images: batch.shape.last ?? 0)
    }
}

/// How one crossbar of the network was mapped (reported with every analog evaluation).
public struct CrossbarMappingSummary: Sendable, Equatable, Codable {
    public var op: String
    /// `conv2d`, `linear`, `global_avg_pool`, `batchnorm.subtract`, `batchnorm.scale`.
    public var role: String
    public var inputs: Int
    public var outputs: Int
    public var biasRows: Int
    public var rowTiles: Int
    public var devices: Int
    /// Smallest and largest `s` over the columns, siemens per unit weight.
    public var siemensPerUnitRange: [Double]
    public var weightsRoundedToZero: Int
    public var weightsClipped: Int
    /// With IR drop on: `‖W − W₀‖/‖W₀‖` of the effective weights against ideal wires
    /// (`CrossbarLayer.irDropWeightError`); nil (absent from JSON) with IR drop off.
    public var irDropWeightError: Double?
    /// With `--ir-compensation`: relative RMS error of the nominal effective weights against the
    /// ideal ones without and with pre-distortion (`IRCompensationResult`), and the devices whose
    /// pre-distorted target hit the window; nil (absent from JSON) otherwise.
    public var irCompensationResidualBefore: Double?
    public var irCompensationResidual: Double?
    public var irCompensationDevicesAtWindowLimit: Int?
    /// The continuous iterate's residual after each fixed-point iteration (convergence).
    public var irCompensationResidualHistory: [Double]?
    /// With `--write-verify`: program pulses (first programming included), verify reads and devices
    /// left outside the tolerance band (`ProgrammingCounts`); nil (absent from JSON) otherwise.
    public var programPulses: Int?
    public var verifyReads: Int?
    public var devicesOutsideTolerance: Int?
}

/// One Monte Carlo chip: every conductance of the network programmed once.
public struct AnalogChip: Sendable {
    public let graph: Graph
    public let config: AnalogConfig
    public let seed: UInt64
    public let chip: Int
    public let stages: [AnalogStage]
    /// Volts per unit of signal (analog mode): the network input's largest magnitude
    /// is driven at `periphery.inputVoltageVolts`.
    public let voltsPerUnit: Double
    public let calibration: Calibration
    /// The parameters each op was built with and runs with (rails, converters, offsets):
    /// `config` for every op, except on a chip made by `replacing(ops:with:)`. The network
    /// input's DAC always follows `config`.
    public let opConfigs: [AnalogConfig]

    /// Maps and programs the whole network for chip number `chip`.
    ///
    /// - Parameters:
    ///   - inputMaxAbs: largest |input| the network can see (normalised pixel range).
    ///   - threads: threads for solving the tiles' circuits (IR drop).
    /// - Throws: `TileSolveError` when a tile's circuit cannot be solved.
    public init(
        graph: Graph, config: AnalogConfig, seed: UInt64, chip: Int, inputMaxAbs: Double, calibration: Calibration,
        threads: Int = 1
    ) throws {
        try config.validateDigitalOps(graph: graph)
        self.graph = graph
        self.config = config
        self.seed = seed
        self.chip = chip
        self.calibration = calibration
        voltsPerUnit = config.periphery.inputVoltageVolts / max(inputMaxAbs, 1e-30)
        opConfigs = [AnalogConfig](repeating: config, count: graph.ops.count)
        let weightConfig = config.forCrossbar(batchNormStage: false)
        let bnConfig = config.forCrossbar(batchNormStage: true)
        stages = try graph.ops.enumerated().map { i, op in
            let key: [UInt64] = [UInt64(chip), UInt64(i)]
            switch op.kind {
            case .conv2d(let g, let w, let b):
                return .crossbar(try CrossbarLayer(
                    geometry: g, matrix: CrossbarMatrix(inputs: g.fanIn, outputs: g.outChannels, weights: w, bias: b),
                    config: weightConfig, seed: seed, key: key, threads: threads))
            case .linear(let inF, let outF, let w, let b):
                let g = Conv2DGeometry(inChannels: inF, outChannels: outF, kernel: (1, 1), input: (1, 1))
                return .crossbar(try CrossbarLayer(
                    geometry: g, matrix: CrossbarMatrix(inputs: inF, outputs: outF, weights: w, bias: b),
                    config: weightConfig, seed: seed, key: key, threads: threads))
            case .globalAveragePool:
                let s = graph.shape(ofValue: op.inputs[0])
                let (c, h, w) = (s[0], s[1], s[2])
                let g = Conv2DGeometry(inChannels: c, outChannels: c, kernel: (h, w), groups: c, input: (h, w))
                let weights = [Float](repeating: 1 / Float(h * w), count: c * h * w)
                return .crossbar(try CrossbarLayer(
                    geometry: g, matrix: CrossbarMatrix(inputs: h * w, outputs: c, weights: weights, bias: nil),
                    config: weightConfig.forPooling(), seed: seed, key: key, threads: threads))
            case .batchNorm(let bn):
                let s = graph.shape(ofValue: op.inputs[0])
                let c = s[0]
                let g = Conv2DGeometry(inChannels: c, outChannels: c, kernel: (1, 1), groups: c,
                                       input: (s.count > 1 ? s[1] : 1, s.count > 2 ? s[2] : 1))
                // Stage 1: ±(x − mean), sign = sign(γ) (eqs. 6-7). Stage 2: |γ/σ|·v + β.
                let sign: [Float] = bn.gamma.map { $0 >= 0 ? 1 : -1 }
                let scale = bn.scale
                let subtract = CrossbarMatrix(inputs: 1, outputs: c, weights: sign,
                                              bias: zip(sign, bn.runningMean).map { -$0 * $1 })
                let scaleStage = CrossbarMatrix(inputs: 1, outputs: c, weights: scale.map { abs($0) }, bias: bn.beta)
                return .batchNorm(
                    subtract: try CrossbarLayer(geometry: g, matrix: subtract, config: bnConfig, seed: seed, key: key + [1],
                                                threads: threads),
                    scale: try CrossbarLayer(geometry: g, matrix: scaleStage, config: bnConfig, seed: seed, key: key + [2],
                                             threads: threads))
            case _ where op.kind.isElementwise && config.runsDigitally(op):
                return .digital(op.kind)
            case .relu: return .activation(.relu)
            case .hardSigmoid: return .activation(.hardSigmoid)
            case .hardSwish: return .activation(.hardSwish)
            case .elementwise(.clamp(let lo, let hi)): return .limiter(lower: lo, upper: hi)
            case .elementwise: return .digital(op.kind)
            case .maxPool(let p): return .maxPool(p)
            case .avgPool(let p, let countIncludePad):
                let (paddedHeight, paddedWidth) = AnalogCircuits.paddedExtent(p)
                let g = Conv2DGeometry(inChannels: p.channels, outChannels: p.channels, kernel: (p.kernelHeight, p.kernelWidth),
                                       stride: (p.strideHeight, p.strideWidth), groups: p.channels,
                                       input: (paddedHeight, paddedWidth))
                let weights = [Float](repeating: 1 / Float(p.windowSize), count: p.channels * p.windowSize)
                var scale: [Float] = []
                for oy in 0..<p.outHeight {
                    for ox in 0..<p.outWidth {
                        scale.append(Float(p.windowSize) / Float(p.averageDivisor(oy, ox, countIncludePad: countIncludePad)))
                    }
                }
                return .averagePool(
                    try CrossbarLayer(
                        geometry: g, matrix: CrossbarMatrix(inputs: p.windowSize, outputs: p.channels, weights: weights, bias: nil),
                        config: weightConfig.forPooling(), seed: seed, key: key, threads: threads),
                    p, divisorScale: scale.allSatisfy { $0 == 1 } ? nil : scale)
            case .concat, .channelSlice, .channelShuffle: return .wiring
            case .add: return .add
            case .mul: return .multiply
            case .flatten: return .flatten
            }
        }
    }

    init(
        graph: Graph, config: AnalogConfig, seed: UInt64, chip: Int, stages: [AnalogStage], voltsPerUnit: Double,
        calibration: Calibration, opConfigs: [AnalogConfig]
    ) {
        self.graph = graph
        self.config = config
        self.seed = seed
        self.chip = chip
        self.stages = stages
        self.voltsPerUnit = voltsPerUnit
        self.calibration = calibration
        self.opConfigs = opConfigs
    }

    /// This chip with the ops in `ops` taken from `other` (their programmed stages and their
    /// parameters) and every other op kept: e.g. an ideal chip with one op of a realistic chip,
    /// to confine the non-idealities to that op. Nothing is programmed again.
    ///
    /// - Throws: `CrossbarParameterError` unless `other` is the same graph, seed, chip number,
    ///   calibration and volts per unit, in the same mode with the same digital ops.
    public func replacing(ops: Set<Int>, with other: AnalogChip) throws -> AnalogChip {
        guard other.graph == graph, other.seed == seed, other.chip == chip, other.calibration == calibration,
              other.voltsPerUnit == voltsPerUnit, other.config.mode == config.mode,
              other.config.digitalOps == config.digitalOps else {
            throw CrossbarParameterError(
                parameter: "replacing(ops:with:)",
                message: "both chips need the same graph, seed, chip, calibration, input voltage, mode and digital ops")
        }
        if let bad = ops.first(where: { !graph.ops.indices.contains($0) }) {
            throw CrossbarParameterError(parameter: "replacing(ops:with:)", message: "op \(bad) is not an op of the graph")
        }
        var stages = stages
        var configs = opConfigs
        for i in ops {
            stages[i] = other.stages[i]
            configs[i] = other.opConfigs[i]
        }
        return AnalogChip(graph: graph, config: config, seed: seed, chip: chip, stages: stages, voltsPerUnit: voltsPerUnit,
                          calibration: calibration, opConfigs: configs)
    }

    /// Program pulses and verify reads of every crossbar of this chip, summed (`ProgrammingCounts`).
    public var programmingCounts: ProgrammingCounts {
        var total = ProgrammingCounts()
        for stage in stages {
            switch stage {
            case .crossbar(let layer), .averagePool(let layer, _, _): total = total + layer.programmed.programmingCounts
            case .batchNorm(let subtract, let scale):
                total = total + subtract.programmed.programmingCounts + scale.programmed.programmingCounts
            default: break
            }
        }
        return total
    }

    /// Mapping of every crossbar, in execution order.
    public var mappingSummary: [CrossbarMappingSummary] {
        var rows: [CrossbarMappingSummary] = []
        let verify = config.device.writeVerify.isActive
        func add(_ op: Op, _ role: String, _ layer: CrossbarLayer) {
            let m = layer.mapped
            rows.append(CrossbarMappingSummary(
                op: op.name, role: role, inputs: m.inputs, outputs: m.outputs, biasRows: m.biasRows,
                rowTiles: layer.rowTiles.count, devices: m.deviceCount,
                siemensPerUnitRange: [m.siemensPerUnit.min() ?? 0, m.siemensPerUnit.max() ?? 0],
                weightsRoundedToZero: m.weightsRoundedToZero, weightsClipped: m.weightsClipped,
                irDropWeightError: layer.irDropWeightError(),
                irCompensationResidualBefore: layer.irCompensation?.residualBefore,
                irCompensationResidual: layer.irCompensation?.residual,
                irCompensationDevicesAtWindowLimit: layer.irCompensation?.devicesAtWindowLimit,
                irCompensationResidualHistory: layer.irCompensation?.residualHistory,
                programPulses: verify ? layer.programmed.programmingCounts.programPulses : nil,
                verifyReads: verify ? layer.programmed.programmingCounts.verifyReads : nil,
                devicesOutsideTolerance: verify ? layer.programmed.programmingCounts.devicesOutsideTolerance : nil))
        }
        for (op, stage) in zip(graph.ops, stages) {
            switch stage {
            case .crossbar(let layer), .averagePool(let layer, _, _): add(op, op.kind.typeName, layer)
            case .batchNorm(let subtract, let scale):
                add(op, "batchnorm.subtract", subtract)
                add(op, "batchnorm.scale", scale)
            default: break
            }
        }
        return rows
    }

    /// Signal limit of every op-amp output of op `i`, in units (analog mode only).
    func railUnits(op i: Int) -> Float? {
        let config = opConfigs[i]
        guard config.mode == .analog, let rail = config.periphery.opAmp.railVolts else { return nil }
        return Float(rail / voltsPerUnit)
    }

    /// Runs a `[C, H, W, N]` batch whose first image has test-set index `firstImage`;
    /// returns `[classes, N]` logits. Throws if an output is NaN or infinite.
    ///
    /// - Parameters:
    ///   - observe: called after every crossbar op (batch-norm: each stage) with
    ///     its input and output batches, e.g. to accumulate read energy.
    ///   - timing: when given, receives each op's index and wall-clock seconds.
    ///   - values: called after every op with its index and output batch (as
    ///     `FloatExecutor.run`'s `observe`), e.g. to compare each activation with float.
    public func run(
        _ input: Tensor, firstImage: Int, threads: Int, observe: ((CrossbarObservation) -> Void)? = nil,
        timing: ((Int, Double) -> Void)? = nil, values observeValue: ((Int, Tensor) -> Void)? = nil
    ) throws -> Tensor {
        let x = inputThroughDAC(input)
        var values = [Tensor?](repeating: nil, count: graph.ops.count + 1)
        values[0] = x
        let lastUse = graph.lastUse
        var computedEarlier = -1                  // a channel shuffle written with the concatenation before it
        for (i, op) in graph.ops.enumerated() {
            if i == computedEarlier {
                timing?(i, 0)
                continue
            }
            var inputs: [Tensor] = []
            for v in op.inputs { inputs.append(values[v]!) }
            // Freed after all are read: an op may read one value twice (`x + x`, `cat([x, x])`).
            for v in op.inputs where lastUse[v] == i { values[v] = nil }
            let start = timing == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            if observeValue == nil, let groups = graph.shuffleGroupsAfterConcatenation(i, lastUse: lastUse) {
                // Both are wiring (no devices): one copy writes the concatenation shuffled, as in
                // the float engine. With a value observer every op's output is made.
                values[i + 2] = Kernels.concatenateChannels(inputs.map { ($0, 0..<$0.shape[0]) }, shuffleGroups: groups,
                                                            threads: threads)
                computedEarlier = i + 1
            } else {
                values[i + 1] = apply(stage: i, inputs: &inputs, firstImage: firstImage, threads: threads, observe: observe)
            }
            if let timing { timing(i, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
            if let observeValue, let y = values[i + 1] { observeValue(i, y) }
        }
        let output = values[graph.outputIndex + 1]!
        if let bad = output.firstNonFiniteIndex {
            throw ExecutionError(op: graph.ops[graph.outputIndex].name,
                                 message: "analog output has a non-finite value (\(output.scalars[bad])) at index \(bad)")
        }
        return Kernels.flatten(output)
    }

    /// - Parameters:
    ///   - using: runs this stage in place of `stages[i]` (post-programming calibration).
    ///   - calibrationRead: draw read noise from the calibration reads' own streams
    ///     (`[chip, op, ChipCalibration.noiseTag]`), not the test images'.
    func apply(
        stage i: Int, inputs x: inout [Tensor], firstImage: Int, threads: Int,
        observe: ((CrossbarObservation) -> Void)? = nil, using override: AnalogStage? = nil, calibrationRead: Bool = false
    ) -> Tensor {
        let op = graph.ops[i]
        let config = opConfigs[i]
        let periphery = config.periphery
        let rail = railUnits(op: i)
        let noise = NoiseKey(
            seed: seed,
            crossbar: calibrationRead ? [UInt64(chip), UInt64(i), ChipCalibration.noiseTag] : [UInt64(chip), UInt64(i)],
            firstImage: firstImage)
        func ranges(input: Float, output: Float) -> SignalRanges {
            SignalRanges(railUnits: rail, inputRange: input, outputRange: output)
        }
        let inMax = calibration.maxAbs[op.inputs[0]]
        let outMax = calibration.maxAbs[i + 1]
        switch override ?? stages[i] {
        case .crossbar(let layer):
            var input = x.removeFirst()
            let isVector = input.shape.count == 2
            if isVector { input = Tensor(shape: [input.shape[0], 1, 1, input.shape[1]], scalars: input.scalars) }
            let r = ranges(input: inMax, output: outMax)
            var y = layer.run(input, mode: config.mode, periphery: periphery, ranges: r, noise: noise, threads: threads)
            observe?(CrossbarObservation(stage: i, part: 0, layer: layer, input: input, output: y, ranges: r))
            if isVector { y = Tensor(shape: [y.shape[0], y.shape[3]], scalars: y.scalars) }
            return y
        case .batchNorm(let subtract, let scale):
            let input = x.removeFirst()
            let shape = input.shape
            let as4 = shape.count == 4 ? input : Tensor(shape: [shape[0], 1, 1, shape[1]], scalars: input.scalars)
            // The subtract stage's output |x − E[x]| is at most max|x| + max|E[x]|.
            let subtractMax = inMax + (subtract.programmed.bias.map(abs).max() ?? 0)
            if config.mode == .analog, observe == nil,
               let first = subtract.perChannelStage(noise: noise.part(1000)),
               let second = scale.perChannelStage(noise: noise.part(2000)) {
                let y = ReadNoiseSampler.perChannelPair(as4, first: first, second: second, railUnits: rail, threads: threads)
                return shape.count == 4 ? y : Tensor(shape: shape, scalars: y.scalars)
            }
            let r1 = ranges(input: inMax, output: subtractMax)
            let v = subtract.run(as4, mode: config.mode, periphery: periphery, ranges: r1,
                                 noise: noise.part(1000), threads: threads)
            observe?(CrossbarObservation(stage: i, part: 1, layer: subtract, input: as4, output: v, ranges: r1))
            let r2 = ranges(input: subtractMax, output: outMax)
            let y = scale.run(v, mode: config.mode, periphery: periphery, ranges: r2,
                              noise: noise.part(2000), threads: threads)
            observe?(CrossbarObservation(stage: i, part: 2, layer: scale, input: v, output: y, ranges: r2))
            return shape.count == 4 ? y : Tensor(shape: shape, scalars: y.scalars)
        case .activation(let f):
            var y = x.removeFirst()
            AnalogCircuits.activate(&y, f, limiterOffsetUnits: Float(periphery.limiterOffsetVolts / voltsPerUnit),
                                    multiplierGain: Float(1 + periphery.multiplierGainError), railUnits: rail,
                                    reluLimitUnits: periphery.reluLimitVolts.map { Float($0 / voltsPerUnit) })
            return y
        case .add:
            var y = x.removeFirst()
            Kernels.add(&y, x[0])
            if let rail { Kernels.clip(&y, rail) }
            return y
        case .multiply:
            let a = x.removeFirst()
            var y = Kernels.multiply(a, x.removeFirst())
            AnalogCircuits.scale(&y, by: Float(1 + periphery.multiplierGainError), railUnits: rail)
            return y
        case .flatten:
            return Kernels.flatten(x[0])
        case .averagePool(let layer, let p, let divisorScale):
            let (paddedHeight, paddedWidth) = AnalogCircuits.paddedExtent(p)
            let input = Kernels.padSpatial(x.removeFirst(), top: p.paddingHeight, left: p.paddingWidth,
                                           height: paddedHeight, width: paddedWidth)
            let r = ranges(input: inMax, output: outMax)
            var y = layer.run(input, mode: config.mode, periphery: periphery, ranges: r, noise: noise, threads: threads)
            observe?(CrossbarObservation(stage: i, part: 0, layer: layer, input: input, output: y, ranges: r))
            if let divisorScale { AnalogCircuits.scalePositions(&y, divisorScale, railUnits: rail) }
            return y
        case .maxPool(let p):
            return AnalogCircuits.maxPool(x[0], geometry: p, offsetUnits: Float(periphery.maxPoolOffsetVolts / voltsPerUnit),
                                          railUnits: rail, threads: threads)
        case .wiring:
            return FloatExecutor(graph: graph, threads: threads).apply(op, &x)
        case .limiter(let lower, let upper):
            var y = x.removeFirst()
            AnalogCircuits.limit(&y, lower: lower, upper: upper,
                                 offsetUnits: Float(periphery.limiterOffsetVolts / voltsPerUnit), railUnits: rail)
            return y
        case .digital(let kind):
            // ADC on the calibrated input range, the function in digital logic, DAC back.
            var y = x.removeFirst()
            if let bits = periphery.adc.bits {
                let q = SymmetricQuantizer(bits: bits, range: max(inMax, .leastNormalMagnitude))
                y.scalars.withUnsafeMutableBufferPointer { q.apply($0) }
            }
            var one = [y]
            y = FloatExecutor(graph: graph, threads: threads).apply(Op(name: op.name, path: op.path, kind: kind, inputs: op.inputs,
                                                                     outputShape: op.outputShape), &one)
            if let bits = periphery.dac.bits {
                let q = SymmetricQuantizer(bits: bits, range: max(outMax, .leastNormalMagnitude))
                y.scalars.withUnsafeMutableBufferPointer { q.apply($0) }
            }
            if let rail { Kernels.clip(&y, rail) }
            return y
        }
    }
}

extension AnalogChip {
    /// The network input as the chip sees it: it always passes a DAC (pixels come from memory),
    /// quantised on the calibrated input range when `--dac-bits` is set.
    func inputThroughDAC(_ input: Tensor) -> Tensor {
        guard let bits = config.periphery.dac.bits else { return input }
        var x = input
        let q = SymmetricQuantizer(bits: bits, range: max(calibration.maxAbs[0], .leastNormalMagnitude))
        x.scalars.withUnsafeMutableBufferPointer { q.apply($0) }
        return x
    }
}

import XbarSimCrossbar
import XbarSimDevice
import XbarSimTensor

/// One op computed by crossbars: a convolution (regular, depthwise, pointwise), a
/// fully connected layer, global average pooling (every weight 1/N) or one stage of
/// the batch-norm module — all as "a convolution with programmed weights".
///
/// Execution: optional input DAC, `y = W_eff ∗ x + b_eff` (one GEMM or depthwise pass),
/// read noise `+ sqrt(V ∗ x² + b_V)·z` (a second pass on squared inputs, z ~ N(0,1) per
/// output and read), then the TIA rails, and in digitized mode the tile's ADC. In
/// digitized mode each row tile (bias rows included, `PhysicalLayout.rowTiles`) is
/// computed over its own receptive-field rows and converted on its own, and the partial
/// sums are added digitally; in analog mode row tiles add their currents on the wire.
///
/// The effective weights of every part are computed once per chip from the physical
/// tiles' circuits (`EffectiveWeights`): with `--ir-drop fast|exact` every tile is solved
/// with its wire resistances, so IR drop costs nothing per image.
public struct CrossbarLayer: Sendable {
    /// The op as a convolution; fully connected layers are 1x1 convolutions of a 1x1 map.
    public var geometry: Conv2DGeometry
    public var mapped: MappedCrossbar
    public var programmed: ProgrammedCrossbar
    /// Logical rows (inputs, then bias rows) of each row tile; one range when not split.
    public var rowTiles: [Range<Int>]
    /// What `run` multiplies with: one part (the whole crossbar) or, in digitized mode
    /// with several row tiles, one per row tile.
    public var parts: [EffectiveWeights]
    /// How the tiles were laid out and solved (tile size, wires, solver, TIA gain, grouping).
    public var circuitOptions: EffectiveWeightOptions
    /// Post-programming TIA feedback trim per output (`R_f → t_o·R_f`, multiplying the whole
    /// output, bias rows and read noise included); nil: untrimmed (`ChipCalibration`).
    public var tiaTrim: [Double]?
    /// IR-drop-aware programming of this crossbar (`--ir-compensation`): residual error of its
    /// nominal effective weights before and after pre-distortion; nil when off.
    public var irCompensation: IRCompensationResult?
    /// A pointwise (or regular) crossbar's weights and variance weights packed for the
    /// one-pass crossbar kernel (`ReadNoiseSampler.pointwise`), one per part, where the
    /// CPU runs it fast; empty elsewhere.
    var packedPointwise: [PackedPointwise] = []
    /// Most floats per image of a regular convolution's unfolded input for the one-pass
    /// kernel (the first layer of the default model: 27 x 1,024); larger ones keep the
    /// chunked im2col GEMMs.
    static let unfoldedBudget = 1 << 16

    /// Maps and programs an op's weights for one chip, and solves its tiles' circuits.
    ///
    /// Grouped ops (depthwise convolution, global average pooling, batch-norm stages) have
    /// one input channel per output: each output's columns are their own circuit.
    public init(
        geometry: Conv2DGeometry, matrix: CrossbarMatrix, config: AnalogConfig, seed: UInt64, key: [UInt64],
        threads: Int = 1
    ) throws {
        try MappedCrossbar.checkMappable(matrix, scheme: config.mapping, scaling: config.scaling, window: config.device.window,
                                         headroom: config.mappingHeadroom, name: "crossbar \(key)")
        var mapped = MappedCrossbar.map(matrix, scheme: config.mapping, scaling: config.scaling,
                                        window: config.device.window, headroom: config.mappingHeadroom)
        var compensation: IRCompensationResult?
        if config.irCompensation.isActive && config.circuit.solvesTiles {
            // Pre-distortion targets the nominal conductances; programming (levels, variation,
            // faults, drift, write-verify) then acts on the pre-distorted targets.
            let options = Self.circuitOptions(mapped: mapped, config: config, groups: geometry.groups,
                                              driftCompensation: 1, columnDriftCompensation: nil, threads: threads)
            let predistorted = try IRCompensation.predistortCached(
                mapped, options: options, window: config.device.window, levels: config.device.levels,
                iterations: config.irCompensation.iterations, policy: config.irCompensation.window)
            mapped = predistorted.mapped
            compensation = predistorted.result
        }
        let separate = config.mapping != .paper && config.periphery.opAmp.railVolts != nil
        let programmed = ProgrammedCrossbar(mapped, device: config.device, opAmp: config.periphery.opAmp, seed: seed,
                                            key: key, keepTIAsSeparate: separate)
        try self.init(geometry: geometry, mapped: mapped, programmed: programmed, config: config, threads: threads,
                      irCompensation: compensation)
    }

    /// The layout and circuit options of a crossbar's tiles under `config`.
    static func circuitOptions(
        mapped: MappedCrossbar, config: AnalogConfig, groups: Int, driftCompensation: Double,
        columnDriftCompensation: [Double]?, threads: Int
    ) -> EffectiveWeightOptions {
        let separate = config.mapping != .paper && config.periphery.opAmp.railVolts != nil
        let rowTiles = PhysicalLayout.rowTiles(mapped, tile: config.tile)
        return EffectiveWeightOptions(
            tile: config.tile, circuit: config.circuit, opAmp: config.periphery.opAmp,
            partPerRowTile: config.mode == .digitized && rowTiles.count > 1, separateOutputs: groups > 1,
            keepTIAsSeparate: separate, readNoiseSigma: config.device.readNoise.relativeSigma,
            driftCompensation: driftCompensation, columnDriftCompensation: columnDriftCompensation, threads: threads)
    }

    /// A crossbar from its mapping and programmed devices (e.g. after post-programming
    /// calibration reprogrammed some of them), with each output's TIA feedback trimmed by
    /// `tiaTrim[o]` (nil: untrimmed). Solves the tiles' circuits.
    public init(
        geometry: Conv2DGeometry, mapped: MappedCrossbar, programmed: ProgrammedCrossbar, config: AnalogConfig,
        tiaTrim: [Double]? = nil, threads: Int = 1, irCompensation: IRCompensationResult? = nil
    ) throws {
        self.geometry = geometry
        self.mapped = mapped
        self.programmed = programmed
        self.tiaTrim = tiaTrim
        self.irCompensation = irCompensation
        rowTiles = PhysicalLayout.rowTiles(mapped, tile: config.tile)
        let options = Self.circuitOptions(
            mapped: mapped, config: config, groups: geometry.groups, driftCompensation: programmed.driftCompensation,
            columnDriftCompensation: programmed.columnDriftCompensation, threads: threads)
        circuitOptions = options
        parts = try Self.effectiveWeights(mapped: mapped, programmed: programmed, options: options, geometry: geometry,
                                          tiaTrim: tiaTrim)
        // Regular convolutions too, on their unfolded input (im2col), up to a size; every
        // part (row tile, digitized mode) over its own input rows. A row tile of bias rows
        // alone keeps the whole crossbar on the GEMM path.
        if PackedPointwise.isFast, geometry.groups == 1,
           geometry.isPointwise || geometry.fanIn * geometry.outHeight * geometry.outWidth <= Self.unfoldedBudget,
           parts.allSatisfy({ !$0.inputRows.isEmpty && $0.variance != nil && $0.positiveWeights == nil }) {
            packedPointwise = parts.map { part in
                PackedPointwise(weights: part.weights, variance: part.variance ?? [], outputs: geometry.outChannels,
                                inputs: part.inputRows.count)
            }
        }
    }

    /// The parts `run` multiplies with: `EffectiveWeights.build`, with partial row tiles of grouped
    /// convolutions widened with zeros (they run over every receptive-field row).
    static func effectiveWeights(
        mapped: MappedCrossbar, programmed: ProgrammedCrossbar, options: EffectiveWeightOptions, geometry: Conv2DGeometry,
        tiaTrim: [Double]?
    ) throws -> [EffectiveWeights] {
        var parts = try EffectiveWeights.build(
            mapped: mapped, positiveSiemens: programmed.positiveSiemens, negativeSiemens: programmed.negativeSiemens,
            options: options)
        if let tiaTrim {
            for i in parts.indices { parts[i].trim(tiaTrim) }
        }
        if geometry.groups > 1 {
            for i in parts.indices where parts[i].inputRows != 0..<geometry.fanIn {
                parts[i] = parts[i].widened(to: geometry.fanIn, outputs: mapped.outputs)
            }
        }
        return parts
    }
}

extension CrossbarLayer {
    /// How far IR drop moves this crossbar's effective weights: `‖W − W₀‖_F / ‖W₀‖_F` over every
    /// part's weights and bias rows, with `W₀` the same programmed devices read through ideal wires
    /// (the `--ir-drop off` fold). nil when IR drop is off. A per-layer view of where the wires
    /// hurt most.
    public func irDropWeightError() -> Double? {
        guard circuitOptions.circuit.solvesTiles else { return nil }
        var ideal = circuitOptions
        ideal.circuit.irDrop = .off
        // With ideal wires nothing is solved (closed-form transfer), so this does not fail.
        guard let reference = try? Self.effectiveWeights(mapped: mapped, programmed: programmed, options: ideal,
                                                         geometry: geometry, tiaTrim: tiaTrim),
              reference.count == parts.count
        else { return nil }
        var difference = 0.0, norm = 0.0
        for (part, base) in zip(parts, reference) {
            for (a, b) in zip(part.weights + (part.bias ?? []), base.weights + (base.bias ?? [])) {
                difference += Double(a - b) * Double(a - b)
                norm += Double(b) * Double(b)
            }
        }
        return norm > 0 ? (difference / norm).squareRoot() : 0
    }

    /// The physical tiles' circuits of this crossbar on this chip (programmed conductances,
    /// physical row order and signs, wires, TIAs): exactly the circuits its weights were read from.
    public func physicalTiles() -> [PhysicalTile] {
        EffectiveWeights.physicalTiles(mapped: mapped, positiveSiemens: programmed.positiveSiemens,
                                       negativeSiemens: programmed.negativeSiemens, options: circuitOptions)
    }
}

extension EffectiveWeights {
    /// Multiplies output `o` (weights, bias, both TIA halves) by `trim[o]` and its read-noise
    /// variances by `trim[o]²`: a TIA whose feedback resistance is scaled by `trim[o]`.
    mutating func trim(_ trim: [Double]) {
        let width = inputRows.count
        func scale(_ w: inout [Float]?, squared: Bool, perOutput: Int) {
            guard var values = w else { return }
            for o in trim.indices {
                let t = Float(squared ? trim[o] * trim[o] : trim[o])
                for j in 0..<perOutput where o * perOutput + j < values.count { values[o * perOutput + j] *= t }
            }
            w = values
        }
        var all: [Float]? = weights
        scale(&all, squared: false, perOutput: width)
        weights = all ?? weights
        scale(&positiveWeights, squared: false, perOutput: width)
        scale(&negativeWeights, squared: false, perOutput: width)
        scale(&variance, squared: true, perOutput: width)
        scale(&bias, squared: false, perOutput: 1)
        scale(&positiveBias, squared: false, perOutput: 1)
        scale(&negativeBias, squared: false, perOutput: 1)
        scale(&biasVariance, squared: true, perOutput: 1)
    }

    /// The same part with weights over all `fanIn` rows (zeros outside `inputRows`).
    func widened(to fanIn: Int, outputs: Int) -> EffectiveWeights {
        func widen(_ w: [Float]?) -> [Float]? {
            guard let w else { return nil }
            var out = [Float](repeating: 0, count: outputs * fanIn)
            let width = inputRows.count
            for o in 0..<outputs {
                for (j, r) in inputRows.enumerated() { out[o * fanIn + r] = w[o * width + j] }
            }
            return out
        }
        var copy = self
        copy.weights = widen(weights) ?? []
        copy.positiveWeights = widen(positiveWeights)
        copy.negativeWeights = widen(negativeWeights)
        copy.variance = widen(variance)
        copy.inputRows = 0..<fanIn
        return copy
    }
}

/// Signal ranges and scales the periphery works with, for one crossbar op.
public struct SignalRanges: Sendable {
    /// Units beyond which the op-amps saturate (analog mode); nil for unlimited.
    public var railUnits: Float?
    /// DAC full scale in units (digitized mode).
    public var inputRange: Float
    /// ADC full scale in units (digitized mode).
    public var outputRange: Float

    public init(railUnits: Float?, inputRange: Float, outputRange: Float) {
        self.railUnits = railUnits
        self.inputRange = inputRange
        self.outputRange = outputRange
    }
}

extension CrossbarLayer {
    /// Runs the op on a `[C, H, W, N]` batch. `imageOffset` is the batch's first image
    /// index in the test set, so read noise is keyed by image, not by batch.
    public func run(
        _ input: Tensor, mode: SignalMode, periphery: Periphery, ranges: SignalRanges, noise: NoiseKey, threads: Int
    ) -> Tensor {
        var x = input
        if mode == .digitized, let bits = periphery.dac.bits {
            let q = SymmetricQuantizer(bits: bits, range: max(ranges.inputRange, .leastNormalMagnitude))
            x.scalars.withUnsafeMutableBufferPointer { q.apply($0) }
        }
        let fused = fusedPerChannel || fusedDepthwise || !packedPointwise.isEmpty
        let squared = parts[0].variance == nil || fused ? nil : Kernels.squared(x)
        let unfolded = packedPointwise.isEmpty || geometry.isPointwise
            ? x : Kernels.unfolded(x, geometry: geometry, threads: threads)
        let separate = parts.count > 1
        let railUnits = mode == .analog ? ranges.railUnits : nil
        var total: Tensor?
        for (index, part) in parts.enumerated() {
            let key = noise.part(separate ? index + 1 : 0)
            var y = packedPointwise.isEmpty
                ? partialOutput(x, squared: squared, part: part, railUnits: railUnits, noise: key, threads: threads)
                : ReadNoiseSampler.pointwise(unfolded, rows: part.inputRows, crossbar: packedPointwise[index],
                                             bias: part.bias, biasVariance: part.biasVariance, railUnits: railUnits,
                                             key: key, threads: threads)
            if mode == .digitized, let bits = periphery.adc.bits {
                let q = SymmetricQuantizer(bits: bits, range: max(ranges.outputRange, .leastNormalMagnitude))
                y.scalars.withUnsafeMutableBufferPointer { q.apply($0) }
            }
            if var sum = total {
                Kernels.add(&sum, y)
                total = sum
            } else {
                total = y
            }
        }
        return total ?? x
    }

    /// Output of one part (the whole crossbar or one row tile), after TIA rails.
    func partialOutput(
        _ x: Tensor, squared: Tensor?, part: EffectiveWeights, railUnits: Float?, noise: NoiseKey, threads: Int
    ) -> Tensor {
        if let stage = perChannelStage(noise: noise, key: false) {
            return ReadNoiseSampler.perChannel(
                x, weight: stage.weight, bias: stage.bias, variance: stage.variance, biasVariance: stage.biasVariance,
                railUnits: railUnits, key: noise, threads: threads)
        }
        if fusedDepthwise, let v = part.variance {
            return ReadNoiseSampler.depthwise(
                x, weight: part.weights, variance: v, bias: part.bias, biasVariance: part.biasVariance,
                geometry: geometry, railUnits: railUnits, key: noise, threads: threads)
        }
        func conv(_ input: Tensor, _ w: [Float], _ b: [Float]?) -> Tensor {
            Kernels.conv2d(input, weight: w, bias: b, geometry: geometry, inputRows: part.inputRows, threads: threads)
        }
        var y: Tensor
        if let wp = part.positiveWeights, let wn = part.negativeWeights, let railUnits {
            var pos = conv(x, wp, part.positiveBias)
            var neg = conv(x, wn, part.negativeBias)
            if let chain = part.negativeChainGain {
                // Inverted-output with rails: TIA_a saturates (V_a), its output enters TIA_b with
                // TIA_b's gain γ_b, TIA_b sums and saturates (V_b), the inverter's output y = −V_b
                // lies within the rails already.
                Kernels.clip(&neg, railUnits)
                Kernels.scaleChannels(&neg, chain)
                y = Kernels.subtractClipped(pos, neg, rail: railUnits)
            } else {
                // Differential with rails: each TIA saturates on its own, then the subtractor.
                Kernels.clip(&pos, railUnits)
                y = Kernels.subtractClipped(pos, neg, rail: railUnits)
            }
        } else {
            if let v = part.variance, let squared {
                // Bias rows, read noise and rails in one pass after the two GEMMs.
                y = conv(x, part.weights, nil)
                let variance = conv(squared, v, nil)
                ReadNoiseSampler.addNoise(to: &y, variance: variance, bias: part.bias, biasVariance: part.biasVariance,
                                          railUnits: railUnits, key: noise, threads: threads)
                return y
            }
            y = conv(x, part.weights, part.bias)
        }
        if let v = part.variance, let squared {
            let variance = conv(squared, v, part.biasVariance)
            ReadNoiseSampler.addNoise(to: &y, variance: variance, key: noise, threads: threads)
        }
        if let railUnits { Kernels.clip(&y, railUnits) }
        return y
    }

    /// This crossbar as a fusable per-channel stage with read noise (nil when it is not
    /// one), keyed as `run(_:noise:)` keys it, for running the BN module's two stages in
    /// one pass (`ReadNoiseSampler.perChannelPair`, analog mode).
    public func perChannelStage(noise: NoiseKey) -> PerChannelStage? {
        perChannelStage(noise: noise, key: true)
    }

    /// `key`: derive the part's key from the op's (`run`'s numbering), else use `noise` as is.
    func perChannelStage(noise: NoiseKey, key: Bool) -> PerChannelStage? {
        guard fusedPerChannel, let part = parts.first, let v = part.variance else { return nil }
        let zeros = [Float](repeating: 0, count: geometry.outChannels)
        return PerChannelStage(weight: part.weights, bias: part.bias ?? zeros, variance: v,
                               biasVariance: part.biasVariance ?? zeros, key: key ? noise.part(0) : noise)
    }

    /// A depthwise crossbar (depthwise convolution or GAP) in one part with one TIA per
    /// output: value, variance, noise and rails computed in one pass
    /// (`ReadNoiseSampler.depthwise`), without the squared-input tensor.
    var fusedDepthwise: Bool {
        guard geometry.isDepthwise, !fusedPerChannel, parts.count == 1, let part = parts.first else { return false }
        return part.positiveWeights == nil && part.inputRows == 0..<geometry.fanIn
            && part.weights.count == geometry.outChannels * geometry.fanIn
    }

    /// One device pair per channel (the BN stages), one part, one TIA per output:
    /// computed in one fused pass, without the squared-input tensor.
    var fusedPerChannel: Bool {
        let g = geometry
        guard g.isDepthwise, g.kernelHeight == 1, g.kernelWidth == 1, g.strideHeight == 1, g.strideWidth == 1,
              g.paddingHeight == 0, g.paddingWidth == 0, parts.count == 1, let part = parts.first
        else { return false }
        return part.positiveWeights == nil && part.inputRows == 0..<g.fanIn && part.weights.count == g.outChannels
    }
}

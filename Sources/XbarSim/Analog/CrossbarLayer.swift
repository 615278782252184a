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
/// digitized mode each row tile is computed and converted on its own and the
/// partial sums are added digitally; in analog mode tile currents add on the wire.
public struct CrossbarLayer: Sendable {
    /// The op as a convolution; fully connected layers are 1x1 convolutions of a 1x1 map.
    public var geometry: Conv2DGeometry
    public var mapped: MappedCrossbar
    public var programmed: ProgrammedCrossbar
    /// Logical rows (of `geometry.fanIn`) of each row tile; one range when not split.
    public var rowTiles: [Range<Int>]

    /// Maps and programs an op's weights for one chip.
    public init(
        geometry: Conv2DGeometry, matrix: CrossbarMatrix, config: AnalogConfig, seed: UInt64, key: [UInt64]
    ) {
        self.geometry = geometry
        mapped = MappedCrossbar.map(matrix, scheme: config.mapping, scaling: config.scaling, window: config.device.window)
        let separate = config.mapping == .differential && config.periphery.opAmp.railVolts != nil
        programmed = ProgrammedCrossbar(mapped, device: config.device, opAmp: config.periphery.opAmp, seed: seed,
                                        key: key, keepTIAsSeparate: separate)
        let logicalRows = config.tile.rows.map { max(1, $0 / config.mapping.rowsPerInput) } ?? geometry.fanIn
        rowTiles = stride(from: 0, to: geometry.fanIn, by: logicalRows).map { $0..<min(geometry.fanIn, $0 + logicalRows) }
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
        let fused = isPerChannel && programmed.positiveWeights == nil && rowTiles.count == 1
        let squared = programmed.variance == nil || fused ? nil : Kernels.squared(x)
        let parts = mode == .digitized && rowTiles.count > 1 ? Array(rowTiles.indices) : [-1]
        var total: Tensor?
        for part in parts {
            var y = partialOutput(x, squared: squared, part: part, railUnits: mode == .analog ? ranges.railUnits : nil,
                                  noise: noise.part(part + 1), threads: threads)
            if mode == .digitized, let bits = periphery.adc.bits {
                let q = SymmetricQuantizer(bits: bits, range: max(ranges.outputRange, .leastNormalMagnitude))
                y.scalars.withUnsafeMutableBufferPointer { q.apply($0) }
            }
            if total == nil { total = y } else { Kernels.add(&total!, y) }
        }
        return total!
    }

    /// Output of the whole crossbar (`part == -1`) or of one row tile, after TIA rails.
    func partialOutput(
        _ x: Tensor, squared: Tensor?, part: Int, railUnits: Float?, noise: NoiseKey, threads: Int
    ) -> Tensor {
        let p = programmed
        if isPerChannel, p.positiveWeights == nil, let v = p.variance, let bv = p.biasVariance, rowTiles.count == 1 {
            return ReadNoiseSampler.perChannel(
                x, weight: p.weights, bias: p.bias, variance: v, biasVariance: bv, railUnits: railUnits, key: noise,
                threads: threads)
        }
        func weights(_ w: [Float], _ b: [Float]?) -> ([Float], [Float]?) {
            guard part >= 0 else { return (w, b) }
            return (masked(w, part: part), part == rowTiles.count - 1 ? b : nil)
        }
        var y: Tensor
        if let wp = p.positiveWeights, let wn = p.negativeWeights, let railUnits {
            // Differential with rails: each TIA saturates on its own, then the subtractor.
            let (wPos, bPos) = weights(wp, p.positiveBias)
            let (wNeg, bNeg) = weights(wn, p.negativeBias)
            var pos = Kernels.conv2d(x, weight: wPos, bias: bPos, geometry: geometry, threads: threads)
            let neg = Kernels.conv2d(x, weight: wNeg, bias: bNeg, geometry: geometry, threads: threads)
            Kernels.clip(&pos, railUnits)
            y = Kernels.subtractClipped(pos, neg, rail: railUnits)
        } else {
            let (w, b) = weights(p.weights, p.bias)
            if let v = p.variance, let squared {
                // Bias rows, read noise and rails in one pass after the two GEMMs.
                y = Kernels.conv2d(x, weight: w, bias: nil, geometry: geometry, threads: threads)
                let (vw, vb) = weights(v, p.biasVariance)
                let variance = Kernels.conv2d(squared, weight: vw, bias: nil, geometry: geometry, threads: threads)
                ReadNoiseSampler.addNoise(to: &y, variance: variance, bias: b, biasVariance: vb, railUnits: railUnits,
                                          key: noise, threads: threads)
                return y
            }
            y = Kernels.conv2d(x, weight: w, bias: b, geometry: geometry, threads: threads)
        }
        if let v = p.variance, let squared {
            let (vw, vb) = weights(v, p.biasVariance)
            let variance = Kernels.conv2d(squared, weight: vw, bias: vb, geometry: geometry, threads: threads)
            ReadNoiseSampler.addNoise(to: &y, variance: variance, key: noise, threads: threads)
        }
        if let railUnits { Kernels.clip(&y, railUnits) }
        return y
    }

    /// This crossbar as a fusable per-channel stage with read noise (nil when it is not
    /// one), keyed as `run(_:noise:)` keys it, for running the BN module's two stages in
    /// one pass (`ReadNoiseSampler.perChannelPair`, analog mode).
    public func perChannelStage(noise: NoiseKey) -> PerChannelStage? {
        let p = programmed
        guard isPerChannel, p.positiveWeights == nil, rowTiles.count == 1, let v = p.variance, let bv = p.biasVariance
        else { return nil }
        return PerChannelStage(weight: p.weights, bias: p.bias, variance: v, biasVariance: bv, key: noise.part(0))
    }

    /// One device pair per channel (the BN stages): computed in one fused pass.
    var isPerChannel: Bool {
        geometry.isDepthwise && geometry.kernelHeight == 1 && geometry.kernelWidth == 1 && geometry.strideHeight == 1
            && geometry.strideWidth == 1 && geometry.paddingHeight == 0 && geometry.paddingWidth == 0
    }

    /// A copy of an `outputs x fanIn` matrix with rows outside row tile `part` zeroed.
    func masked(_ w: [Float], part: Int) -> [Float] {
        let fanIn = geometry.fanIn
        let keep = rowTiles[part]
        var m = [Float](repeating: 0, count: w.count)
        for o in 0..<(w.count / fanIn) {
            for r in keep { m[o * fanIn + r] = w[o * fanIn + r] }
        }
        return m
    }
}

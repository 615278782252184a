import CKernels
import XbarSimDevice
import XbarSimTensor

/// Identifies the random stream of one crossbar's read noise for one batch.
public struct NoiseKey: Sendable {
    public var seed: UInt64
    /// `[chip, op, part]`: which crossbar on which chip.
    public var crossbar: [UInt64]
    /// Test-set index of the batch's first image.
    public var firstImage: Int

    public init(seed: UInt64, crossbar: [UInt64], firstImage: Int) {
        self.seed = seed
        self.crossbar = crossbar
        self.firstImage = firstImage
    }

    func part(_ p: Int) -> NoiseKey {
        NoiseKey(seed: seed, crossbar: crossbar + [UInt64(p)], firstImage: firstImage)
    }
}

/// Adds read noise `sqrt(variance)·z` to crossbar outputs.
///
/// Output `j` of test image `n` gets `NormalPool.normal(seed, [chip, op, part, readNoise], n, j)`:
/// a pool magnitude read through the window of the image's 16-image block (or, for a tail
/// marker, an exact tail draw), with a random sign.
/// Results do not depend on batch size, batch order or thread count. Each thread owns a
/// contiguous range of images and walks the `[C, H, W, N]` tensor in memory order; the
/// loop itself is C (`CKernels`), where the pool reads, `sqrtf` and the clamps vectorise.
public enum ReadNoiseSampler {
    /// `y = clamp(y + b_c + sqrt(max(variance + bv_c, 0))·z, ±railUnits)` for the channel
    /// `c` of each element: the bias rows, read noise and TIA rails of a crossbar whose
    /// GEMMs ran without biases, in one pass (nil: no bias, no rails).
    public static func addNoise(
        to y: inout Tensor, variance: Tensor, bias: [Float]? = nil, biasVariance: [Float]? = nil,
        railUnits: Float? = nil, key: NoiseKey, threads: Int
    ) {
        precondition(y.shape == variance.shape && y.shape.count == 4)
        precondition((bias?.count ?? y.shape[0]) == y.shape[0] && (biasVariance?.count ?? y.shape[0]) == y.shape[0])
        let (outputs, n) = (y.count / y.shape[3], y.shape[3])
        let spatial = y.shape[1] * y.shape[2]
        let rail = railUnits ?? .infinity
        let parameters = UncheckedSendable((bias, biasVariance))
        y.scalars.withUnsafeMutableBufferPointer { out in
            variance.scalars.withUnsafeBufferPointer { v in
                let box = UncheckedSendable((out.baseAddress!, v.baseAddress!))
                walk(images: n, outputs: outputs, keys: [key], threads: threads) { first, count, lane0, windows in
                    let (out, v) = box.value
                    let (b, bv) = parameters.value
                    b.withUnsafeOptionalPointer { b in
                        bv.withUnsafeOptionalPointer { bv in
                            xbar_read_noise_add(out + first, v + first, b, bv, Int32(spatial), rail, Int32(outputs),
                                                Int32(n), Int32(count), lane0, windows)
                        }
                    }
                }
            }
        }
    }

    /// A per-channel crossbar with read noise in one pass over `x` (`[C, H, W, N]`):
    /// `y = w_c·x + b_c + sqrt(v_c·x² + bv_c)·z`, clipped to `±railUnits` (nil: no rails).
    /// Equal, element for element, to the per-channel convolution, the variance
    /// convolution and `addNoise` done one after another (same normals).
    public static func perChannel(
        _ x: Tensor, weight: [Float], bias: [Float], variance: [Float], biasVariance: [Float], railUnits: Float?,
        key: NoiseKey, threads: Int
    ) -> Tensor {
        precondition(x.shape.count == 4 && weight.count == x.shape[0] && bias.count == weight.count)
        precondition(variance.count == weight.count && biasVariance.count == weight.count)
        let spatial = x.shape[1] * x.shape[2]
        let (outputs, n) = (x.count / x.shape[3], x.shape[3])
        let rail = railUnits ?? .infinity
        return Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { input in
                let parameters = UncheckedSendable((weight, bias, variance, biasVariance))
                let box = UncheckedSendable((out.baseAddress!, input.baseAddress!))
                walk(images: n, outputs: outputs, keys: [key], threads: threads) { first, count, lane0, windows in
                    let (out, input) = box.value
                    let (w, b, v, bv) = parameters.value
                    xbar_read_noise_per_channel(
                        out + first, input + first, w, b, v, bv, Int32(spatial), rail, Int32(outputs), Int32(n),
                        Int32(count), lane0, windows)
                }
            }
        }
    }

    /// A depthwise crossbar with read noise in one pass over `x` (`[C, H, W, N]`): value
    /// `Σ w·x + b`, variance `Σ v·x² + bv` over each output's receptive field, the noise and
    /// the rails (nil: none). Equal, element for element, to the depthwise convolution, the
    /// variance convolution of the squared input and `addNoise` done one after another
    /// (same normals), without the squared-input and variance tensors.
    public static func depthwise(
        _ x: Tensor, weight: [Float], variance: [Float], bias: [Float]?, biasVariance: [Float]?,
        geometry g: Conv2DGeometry, railUnits: Float?, key: NoiseKey, threads: Int
    ) -> Tensor {
        precondition(g.isDepthwise && x.shape == [g.inChannels, g.inHeight, g.inWidth, x.shape[3]])
        precondition(weight.count == g.outChannels * g.fanIn && variance.count == weight.count)
        precondition((bias?.count ?? g.outChannels) == g.outChannels && (biasVariance?.count ?? g.outChannels) == g.outChannels)
        let n = x.shape[3]
        let outputs = g.outChannels * g.outHeight * g.outWidth
        let geometry = xbar_depthwise_geometry(
            channels: Int32(g.outChannels), in_h: Int32(g.inHeight), in_w: Int32(g.inWidth), out_h: Int32(g.outHeight),
            out_w: Int32(g.outWidth), kernel_h: Int32(g.kernelHeight), kernel_w: Int32(g.kernelWidth),
            stride_h: Int32(g.strideHeight), stride_w: Int32(g.strideWidth), pad_h: Int32(g.paddingHeight),
            pad_w: Int32(g.paddingWidth), dilation_h: Int32(g.dilationHeight), dilation_w: Int32(g.dilationWidth))
        let rail = railUnits ?? .infinity
        return Tensor(shape: [g.outChannels, g.outHeight, g.outWidth, n]) { out in
            x.scalars.withUnsafeBufferPointer { input in
                let parameters = UncheckedSendable((weight, variance, bias, biasVariance))
                let box = UncheckedSendable((out.baseAddress!, input.baseAddress!))
                walk(images: n, outputs: outputs, keys: [key], threads: threads) { first, count, lane0, windows in
                    let (out, input) = box.value
                    let (w, v, b, bv) = parameters.value
                    b.withUnsafeOptionalPointer { b in
                        bv.withUnsafeOptionalPointer { bv in
                            xbar_depthwise_read_noise(out + first, input + first, w, v, b, bv, geometry, rail, Int32(n),
                                                      Int32(count), lane0, windows)
                        }
                    }
                }
            }
        }
    }

    /// A pointwise crossbar with read noise, bias rows and rails in one pass over the input
    /// channels `rows` of `x` (`[C, H, W, N]`; all of them when nil):
    /// `y = clamp(W·x + b + sqrt(V·x² + bv)·z, ±railUnits)` with the packed weights `W` and
    /// variance weights `V`, instead of an sgemm for the value, one for the variance and a
    /// noise pass. Same normals as `addNoise`. The value is an fp32 dot product; on AVX-512
    /// BF16 the variance is summed over bf16 products, within about 2^-8 relative of the
    /// fp32 one (`xbar_pointwise_crossbar`).
    public static func pointwise(
        _ x: Tensor, rows: Range<Int>? = nil, crossbar packed: PackedPointwise, bias: [Float]?,
        biasVariance: [Float]?, railUnits: Float?, key: NoiseKey, threads: Int
    ) -> Tensor {
        let rows = rows ?? 0..<x.shape[0]
        precondition(x.shape.count == 4 && rows.upperBound <= x.shape[0] && rows.count == packed.inputs)
        precondition((bias?.count ?? packed.outputs) == packed.outputs)
        precondition((biasVariance?.count ?? packed.outputs) == packed.outputs)
        let spatial = x.shape[1] * x.shape[2], n = x.shape[3]
        let rail = railUnits ?? .infinity
        let parameters = UncheckedSendable((packed, bias, biasVariance))
        return Tensor(shape: [packed.outputs, x.shape[1], x.shape[2], n]) { out in
            x.scalars.withUnsafeBufferPointer { input in
                let box = UncheckedSendable((out.baseAddress!, input.baseAddress! + rows.lowerBound * spatial * n))
                walk(images: n, outputs: packed.outputs * spatial, keys: [key], threads: threads) {
                    first, count, lane0, windows in
                    let (out, input) = box.value
                    let (p, b, bv) = parameters.value
                    b.withUnsafeOptionalPointer { b in
                        bv.withUnsafeOptionalPointer { bv in
                            xbar_pointwise_crossbar(
                                out + first, input + first, p.weights, p.variance, b, bv, Int32(p.outputs),
                                Int32(p.inputs), Int32(spatial), rail, Int32(n), Int32(count), lane0, windows)
                        }
                    }
                }
            }
        }
    }

    /// The BN module's two per-channel stages (subtract, then scale) with read noise in one
    /// pass: equal, element for element, to `perChannel` for the first stage followed by
    /// `perChannel` for the second (same normals, rails after each stage), without the
    /// intermediate tensor.
    public static func perChannelPair(
        _ x: Tensor, first: PerChannelStage, second: PerChannelStage, railUnits: Float?, threads: Int
    ) -> Tensor {
        precondition(x.shape.count == 4)
        for s in [first, second] {
            precondition(s.weight.count == x.shape[0] && s.bias.count == s.weight.count)
            precondition(s.variance.count == s.weight.count && s.biasVariance.count == s.weight.count)
        }
        let spatial = x.shape[1] * x.shape[2]
        let (outputs, n) = (x.count / x.shape[3], x.shape[3])
        let rail = railUnits ?? .infinity
        return Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { input in
                let stages = UncheckedSendable((first, second))
                let box = UncheckedSendable((out.baseAddress!, input.baseAddress!))
                walk(images: n, outputs: outputs, keys: [first.key, second.key], threads: threads) {
                    start, count, lane0, windows in
                    let (out, input) = box.value
                    let (a, b) = stages.value
                    xbar_read_noise_per_channel_pair(
                        out + start, input + start, a.weight, a.bias, a.variance, a.biasVariance, b.weight, b.bias,
                        b.variance, b.biasVariance, Int32(spatial), rail, Int32(outputs), Int32(n), Int32(count),
                        lane0, windows, windows + 1)
                }
            }
        }
    }

    /// Images per call of a C kernel at most: whole 16-image blocks, at most
    /// `XBAR_MAX_BLOCKS` of them even when the first image is not a block's lane 0.
    static let imagesPerCall = 16 * (Int(XBAR_MAX_BLOCKS) - 2)

    /// Splits the batch's images over threads (ranges of whole 16-column blocks, so the
    /// thread count does not change the split's shape) and hands each range, as
    /// `(first column, count, lane of the first image in its block, windows)`, the pool
    /// windows of every key in `keys` (`windows[k]` for `keys[k]`; `NormalPool`).
    static func walk(
        images n: Int, outputs: Int, keys: [NoiseKey], threads: Int,
        _ body: @escaping @Sendable (Int, Int, Int32, UnsafePointer<xbar_noise_windows>) -> Void
    ) {
        let segments = max(1, (outputs + NormalPool.segmentOutputs - 1) / NormalPool.segmentOutputs)
        NormalPool.values.withUnsafeBufferPointer { pool in
        NormalPool.tailPositions.withUnsafeBufferPointer { tails in
            let poolBox = UncheckedSendable((pool.baseAddress!, tails.baseAddress!, Int32(tails.count)))
            let blocks = (n + 15) / 16
            Parallel.forEachChunk(blocks, threads: threads) { chunk in
                var first = chunk.lowerBound * 16
                let end = min(n, chunk.upperBound * 16)
                while first < end {
                    let count = min(end - first, imagesPerCall)
                    let image = keys[0].firstImage + first
                    let (firstBlock, lane0) = image.quotientAndRemainder(dividingBy: NormalPool.blockImages)
                    let touched = (lane0 + count + 15) / 16
                    var states = [UInt64](repeating: 0, count: keys.count * touched * segments * 4)
                    var offsets = [UInt32](repeating: 0, count: keys.count * touched * segments)
                    for (k, key) in keys.enumerated() {
                        precondition(key.firstImage == keys[0].firstImage)
                        let streamKey = key.crossbar + [StreamPurpose.readNoise.rawValue]
                        for block in 0..<touched {
                            for segment in 0..<segments {
                                let w = (k * touched + block) * segments + segment
                                let (stream, offset) = NormalPool.window(
                                    seed: key.seed, key: streamKey, block: firstBlock + block, segment: segment)
                                (states[4 * w], states[4 * w + 1], states[4 * w + 2], states[4 * w + 3]) = stream.state
                                offsets[w] = UInt32(offset)
                            }
                        }
                    }
                    states.withUnsafeBufferPointer { s in
                        offsets.withUnsafeBufferPointer { o in
                            let windows = (0..<keys.count).map { k in
                                xbar_noise_windows(
                                    states: s.baseAddress! + 4 * k * touched * segments,
                                    offsets: o.baseAddress! + k * touched * segments, segments: Int32(segments),
                                    pool: poolBox.value.0, pool_mask: UInt32(NormalPool.size - 1),
                                    tail_threshold: NormalPool.tailThreshold, tail_positions: poolBox.value.1,
                                    tail_count: poolBox.value.2)
                            }
                            windows.withUnsafeBufferPointer { body(first, count, Int32(lane0), $0.baseAddress!) }
                        }
                    }
                    first += count
                }
            }
        }
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// The array's base address, or nil for nil (C's "no array").
    func withUnsafeOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let array = self else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// One per-channel crossbar stage: `y = w_c·x + b_c`, read-noise variance `v_c·x² + bv_c`.
public struct PerChannelStage: Sendable {
    public var weight, bias, variance, biasVariance: [Float]
    public var key: NoiseKey

    public init(weight: [Float], bias: [Float], variance: [Float], biasVariance: [Float], key: NoiseKey) {
        (self.weight, self.bias, self.variance, self.biasVariance, self.key) = (weight, bias, variance, biasVariance, key)
    }
}

/// A pointwise crossbar's weights and read-noise variance weights (`outputs x inputs`
/// each), packed for `ReadNoiseSampler.pointwise` (`xbar_pointwise_pack_weights`,
/// `xbar_pointwise_pack_variance`: fp32, or bf16 variance words on AVX-512 BF16).
public struct PackedPointwise: Sendable {
    public let outputs, inputs: Int
    let weights: [Float]
    let variance: [UInt32]

    /// Whether this build runs `ReadNoiseSampler.pointwise` on AVX-512; elsewhere it is a
    /// slow scalar loop and crossbars use sgemms instead.
    public static var isFast: Bool { xbar_pointwise_kernel() != 0 }
    /// Whether the variance is summed over bf16 products (AVX-512 BF16 builds).
    public static var bf16Variance: Bool { xbar_pointwise_kernel() == 2 }

    public init(weights w: [Float], variance v: [Float], outputs: Int, inputs: Int) {
        precondition(w.count == outputs * inputs && v.count == w.count && outputs > 0 && inputs > 0)
        (self.outputs, self.inputs) = (outputs, inputs)
        let count = Int(xbar_pointwise_weight_count(Int32(outputs), Int32(inputs)))
        weights = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            xbar_pointwise_pack_weights(buffer.baseAddress!, w, Int32(outputs), Int32(inputs))
            initialized = count
        }
        let words = Int(xbar_pointwise_variance_count(Int32(outputs), Int32(inputs)))
        variance = [UInt32](unsafeUninitializedCapacity: words) { buffer, initialized in
            xbar_pointwise_pack_variance(buffer.baseAddress!, v, Int32(outputs), Int32(inputs))
            initialized = words
        }
    }
}

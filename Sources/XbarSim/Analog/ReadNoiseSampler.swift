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
/// The normals of image `n` come from the stream `(seed, chip, op, part, readNoise, n)`
/// (output `j` uses 16-bit field `j mod 4` of the stream's word `j/4`, the order of
/// `RandomStream.fillGaussianFromTable`): results do not depend on batch size, batch
/// order or thread count. Each thread owns a contiguous range of images and walks the
/// `[C, H, W, N]` tensor in memory order, advancing its images' streams side by side;
/// the loop itself is C (`CKernels`), where the streams, `sqrtf` and the clamps vectorise.
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
                walk(images: n, key: key, threads: threads) { first, count, state, words, table in
                    let (out, v) = box.value
                    let (b, bv) = parameters.value
                    b.withUnsafeOptionalPointer { b in
                        bv.withUnsafeOptionalPointer { bv in
                            xbar_read_noise_add(out + first, v + first, b, bv, Int32(spatial), rail, Int32(outputs),
                                                Int32(n), Int32(count), state, words, table)
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
                walk(images: n, key: key, threads: threads) { first, count, state, words, table in
                    let (out, input) = box.value
                    let (w, b, v, bv) = parameters.value
                    xbar_read_noise_per_channel(
                        out + first, input + first, w, b, v, bv, Int32(spatial), rail, Int32(outputs), Int32(n),
                        Int32(count), state, words, table)
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
                walk(images: n, keys: [first.key, second.key], threads: threads) { start, count, state, words, table in
                    let (out, input) = box.value
                    let (a, b) = stages.value
                    xbar_read_noise_per_channel_pair(
                        out + start, input + start, a.weight, a.bias, a.variance, a.biasVariance, b.weight, b.bias,
                        b.variance, b.biasVariance, Int32(spatial), rail, Int32(outputs), Int32(n), Int32(count),
                        state, words, table)
                }
            }
        }
    }

    /// Splits the batch's images over threads and hands each range its streams' states
    /// (`4 x count` words: s0, s1, s2, s3), a scratch word buffer and the normal table.
    static func walk(
        images n: Int, key: NoiseKey, threads: Int,
        _ body: @escaping @Sendable (Int, Int, UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<UInt64>, UnsafePointer<Float>)
            -> Void
    ) {
        walk(images: n, keys: [key], threads: threads, body)
    }

    /// `walk` for several crossbars at once: the states of `keys[k]` start at
    /// `state + 4·count·k`, their scratch words at `words + count·k`.
    static func walk(
        images n: Int, keys: [NoiseKey], threads: Int,
        _ body: @escaping @Sendable (Int, Int, UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<UInt64>, UnsafePointer<Float>)
            -> Void
    ) {
        GaussianTable.values.withUnsafeBufferPointer { table in
            let tableBox = UncheckedSendable(table.baseAddress!)
            // Ranges of whole 16-image blocks, so thread count does not change the work split's shape.
            let blocks = (n + 15) / 16
            Parallel.forEachChunk(blocks, threads: threads) { chunk in
                let first = chunk.lowerBound * 16
                let count = min(n, chunk.upperBound * 16) - first
                guard count > 0 else { return }
                var state = [UInt64](repeating: 0, count: 4 * count * keys.count)
                var words = [UInt64](repeating: 0, count: count * keys.count)
                for (k, key) in keys.enumerated() {
                    let base = 4 * count * k
                    for i in 0..<count {
                        let r = RandomStream(
                            seed: key.seed,
                            key: key.crossbar + [StreamPurpose.readNoise.rawValue, UInt64(key.firstImage + first + i)])
                        (state[base + i], state[base + count + i], state[base + 2 * count + i], state[base + 3 * count + i])
                            = r.state
                    }
                }
                state.withUnsafeMutableBufferPointer { s in
                    words.withUnsafeMutableBufferPointer { w in
                        body(first, count, s.baseAddress!, w.baseAddress!, tableBox.value)
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

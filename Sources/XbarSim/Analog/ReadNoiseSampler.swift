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
    public static func addNoise(to y: inout Tensor, variance: Tensor, key: NoiseKey, threads: Int) {
        precondition(y.shape == variance.shape && y.shape.count == 4)
        let (outputs, n) = (y.count / y.shape[3], y.shape[3])
        y.scalars.withUnsafeMutableBufferPointer { out in
            variance.scalars.withUnsafeBufferPointer { v in
                let box = UncheckedSendable((out.baseAddress!, v.baseAddress!))
                walk(images: n, key: key, threads: threads) { first, count, state, words, table in
                    let (out, v) = box.value
                    xbar_read_noise_add(out + first, v + first, Int32(outputs), Int32(n), Int32(count), state, words, table)
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

    /// Splits the batch's images over threads and hands each range its streams' states
    /// (`4 x count` words: s0, s1, s2, s3), a scratch word buffer and the normal table.
    static func walk(
        images n: Int, key: NoiseKey, threads: Int,
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
                var state = [UInt64](repeating: 0, count: 4 * count)
                var words = [UInt64](repeating: 0, count: count)
                for i in 0..<count {
                    let r = RandomStream(
                        seed: key.seed,
                        key: key.crossbar + [StreamPurpose.readNoise.rawValue, UInt64(key.firstImage + first + i)])
                    (state[i], state[count + i], state[2 * count + i], state[3 * count + i]) = r.state
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

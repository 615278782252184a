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
/// The normals of image `n` come from the stream `(seed, chip, op, part, readNoise, n)`:
/// results do not depend on batch size, batch order or thread count.
public enum ReadNoiseSampler {
    public static func addNoise(to y: inout Tensor, variance: Tensor, key: NoiseKey, threads: Int) {
        precondition(y.shape == variance.shape && y.shape.count == 4)
        // [C, H, W, N]: image innermost. Image i's normals come from its own stream
        // (`fillGaussianFromTable` order: output j uses 16-bit field j mod 4 of word j/4).
        // Blocks of 16 images advance their 16 streams side by side, so each output
        // element's 16 images are one contiguous run of the tensor.
        let (outputs, n) = (y.count / y.shape[3], y.shape[3])
        let block = 16
        let blocks = (n + block - 1) / block
        y.scalars.withUnsafeMutableBufferPointer { out in
            variance.scalars.withUnsafeBufferPointer { v in
                GaussianTable.values.withUnsafeBufferPointer { table in
                    let box = UncheckedSendable((out.baseAddress!, v.baseAddress!, table.baseAddress!))
                    Parallel.forEachChunk(blocks, threads: threads) { chunk in
                        let (out, v, t) = box.value
                        for b in chunk {
                            let first = b * block
                            let count = min(block, n - first)
                            let streams = (0..<count).map { i in
                                RandomStream(
                                    seed: key.seed,
                                    key: key.crossbar + [StreamPurpose.readNoise.rawValue, UInt64(key.firstImage + first + i)])
                            }
                            var bundle = RandomStreamBundle16(streams)
                            var words = SIMD16<UInt64>()
                            for j in 0..<outputs {
                                let field = j & 3
                                if field == 0 { words = bundle.next() }
                                let shift = UInt64(16 * field)
                                let base = j * n + first
                                if count == block {
                                    let index = (words &>> shift) & 0xFFFF
                                    var z = SIMD16<Float>()
                                    for lane in 0..<16 { z[lane] = t[Int(truncatingIfNeeded: index[lane])] }
                                    let variance = UnsafeRawPointer(v + base).loadUnaligned(as: SIMD16<Float>.self)
                                    let target = UnsafeMutableRawPointer(out + base)
                                    let y = target.loadUnaligned(as: SIMD16<Float>.self)
                                    let noise = variance.replacing(with: 0, where: variance .< 0).squareRoot() * z
                                    target.storeBytes(of: y + noise, as: SIMD16<Float>.self)
                                } else {
                                    for i in 0..<count {
                                        let z = t[Int(truncatingIfNeeded: (words[i] >> shift) & 0xFFFF)]
                                        out[base + i] += max(v[base + i], 0).squareRoot() * z
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

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
        let (c, n, plane) = (y.shape[0], y.shape[1], y.shape[2] * y.shape[3])
        y.scalars.withUnsafeMutableBufferPointer { out in
            variance.scalars.withUnsafeBufferPointer { v in
                let box = UncheckedSendable((out, v))
                Parallel.forEachChunk(n, threads: threads) { images in
                    let (out, v) = box.value
                    let z = UnsafeMutableBufferPointer<Float>.allocate(capacity: c * plane)
                    defer { z.deallocate() }
                    for image in images {
                        var stream = RandomStream(
                            seed: key.seed,
                            key: key.crossbar + [StreamPurpose.readNoise.rawValue, UInt64(key.firstImage + image)])
                        stream.fillGaussianFromTable(z, standardDeviation: 1)
                        for ch in 0..<c {
                            let base = (ch * n + image) * plane
                            for k in 0..<plane { out[base + k] += max(v[base + k], 0).squareRoot() * z[ch * plane + k] }
                        }
                    }
                }
            }
        }
    }
}

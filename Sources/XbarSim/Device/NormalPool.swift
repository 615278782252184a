/// Standard normals for read noise, read from a fixed pool through keyed windows.
///
/// Read noise needs one normal per crossbar output and read: about 1.4 million per
/// CIFAR-10 image for MobileNetV3 with the BN stages. Drawing each from its own generator
/// (xoshiro, then a table lookup or Box–Muller) cost more than the crossbar arithmetic it
/// perturbs. Here they come from a pool instead:
///
/// - The pool holds `size` = 2²⁰ independent N(0, 1) values (`RandomStream.fillGaussian`,
///   fixed stream), rescaled to an empirical second moment of exactly 1.
/// - A *window* is one crossbar's (stream key's) normals for one block of 16 consecutive
///   test images and one segment of `segmentOutputs` = 4,096 outputs: 65,536 normals.
///   Its stream `RandomStream(seed, key + [block, segment])` gives a random 16-aligned
///   offset `o` (first word: `(w >> 46) << 4`) and then one word of sign bits per four
///   outputs.
/// - Output `j` (`j_s = j mod 4096` inside its segment) of the image in lane `l` of the
///   block reads
///
///       z = ±pool[(o + 16·j_s + l) mod size],   sign bit 16·(j_s mod 4) + l of word ⌊j_s/4⌋
///
/// Properties (tested in `NormalPoolTests`): inside one window the 65,536 values are
/// distinct pool entries, so independent normals. Across windows, two normals share a
/// pool entry only where windows overlap, and then carry independent random signs, so
/// every pair of normals is uncorrelated and each is exactly symmetric. What remains
/// shared is the magnitude `|z|` of such pairs, a dependence no crossbar output can
/// express in its mean or variance. Reading the pool is a contiguous load, about ten
/// times cheaper than a generator per value.
///
/// The result is a pure function of `(seed, key, image, output)`: it does not depend on
/// batch size, batch order or thread count.
public enum NormalPool {
    public static let log2Size = 20
    public static let size = 1 << log2Size
    /// Outputs per window (and lanes per block: `blockImages`).
    public static let segmentOutputs = 4096
    public static let blockImages = 16

    /// The pool, computed once per process (a few milliseconds).
    public static let values: [Float] = {
        var z = [Float](repeating: 0, count: size)
        var r = RandomStream(seed: 0x4E4F_524D_414C_504F, key: [0x504F_4F4C])  // "NORMALPO", "POOL"
        z.withUnsafeMutableBufferPointer { r.fillGaussian($0, standardDeviation: 1) }
        let secondMoment = z.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(size)
        let scale = Float(1 / secondMoment.squareRoot())
        return z.map { $0 * scale }
    }()

    /// A window's stream, already past its offset word, and its offset into the pool.
    public static func window(seed: UInt64, key: [UInt64], block: Int, segment: Int) -> (stream: RandomStream, offset: Int) {
        var r = RandomStream(seed: seed, key: key + [UInt64(block), UInt64(segment)])
        let offset = Int(truncatingIfNeeded: r.next() >> UInt64(64 - (log2Size - 4))) << 4
        return (r, offset)
    }

    /// The normal of output `output` for test image `image` (the definition the C kernels
    /// implement; scalar, for tests and references).
    public static func normal(seed: UInt64, key: [UInt64], image: Int, output: Int) -> Float {
        precondition(image >= 0 && output >= 0)
        let (block, lane) = image.quotientAndRemainder(dividingBy: blockImages)
        let (segment, j) = output.quotientAndRemainder(dividingBy: segmentOutputs)
        var (stream, offset) = window(seed: seed, key: key, block: block, segment: segment)
        var word: UInt64 = 0
        for _ in 0...(j / 4) { word = stream.next() }
        let negative = (word >> UInt64(16 * (j % 4) + lane)) & 1 == 1
        let z = values[(offset + 16 * j + lane) & (size - 1)]
        return negative ? -z : z
    }
}

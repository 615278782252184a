import Foundation

/// Standard normals for read noise, read from a fixed pool through keyed windows, with
/// exact Gaussian tails.
///
/// Read noise needs one normal per crossbar output and read: about 1.4 million per
/// CIFAR-10 image for MobileNetV3 with the BN stages. Drawing each from its own generator
/// (xoshiro, then a table lookup or Box–Muller) cost more than the crossbar arithmetic it
/// perturbs. Here they come from a pool instead:
///
/// - The pool holds `size` = 2²⁰ *magnitudes* in 16 classes (entries `i ≡ r mod 16`, the
///   entries lane `r` of a window reads), 65,536 each. Every class holds the same values in
///   its own random order (fixed stream): `tailsPerClass` = 4 *tail markers* (stored as −1)
///   and 65,532 magnitudes of the normal conditioned on `|z| ≤ t` at stratified quantiles,
///
///       b_i = Q⁻¹((p + (1 − p)·(1 − (i + ½)/65,532)) / 2),   i = 0 ..< 65,532,
///
///   with `Q` the normal's upper tail and `t = Q⁻¹(p/2)` ≈ 4.008 for `p = 4/65,536`, so
///   that a marker is read exactly as often as a normal lies beyond `t`. The `b_i` are scaled
///   by a factor `1 − O(10⁻⁹)` so that the second moment, tails included, is exactly 1.
/// - A *window* is one crossbar's (stream key's) normals for one block of 16 consecutive
///   test images and one segment of `segmentOutputs` = 4,096 outputs: 65,536 normals.
///   Its stream `RandomStream(seed, key + [block, segment])` gives a random 16-aligned
///   offset `o` (first word: `(w >> 46) << 4`) and then one word of sign bits per four
///   outputs.
/// - Output `j` (`j_s = j mod 4096` inside its segment) of the image in lane `l` of the
///   block reads `m = pool[(o + 16·j_s + l) mod size]` and is
///
///       z = ±m                       (m ≥ 0; sign bit 16·(j_s mod 4) + l of word ⌊j_s/4⌋)
///       z = tail(window, j_s, l)     (m a marker)
///
///   `tail` is an exact draw from the normal conditioned on `|z| > t`, with its own random
///   sign (`tailNormal`: Marsaglia's tail method), keyed by the window's stream state, `j_s`
///   and `l`: a fresh value for every marker read, computable without the sign words.
///
/// Properties (tested in `NormalPoolTests`): inside one window the 65,536 values are
/// distinct pool entries, so independent normals. Every lane reads a class with the same
/// values, so every image (whatever its index mod 16) gets the same distribution and
/// variance. Beyond `t` the values are exact Gaussian tail draws, unbounded (no pool
/// maximum). Across windows, two normals share a pool entry only where windows overlap,
/// and then carry independent random signs (and, for markers, independent tail draws), so
/// every pair of normals is uncorrelated and each is exactly symmetric. What remains
/// shared is the magnitude `|z|` of such pairs (below `t`), a dependence no crossbar
/// output can express in its mean or variance. Reading the pool is a contiguous load and
/// a sign test, about ten times cheaper than a generator per value; a tail draw costs a
/// few logarithms but happens for 1 normal in 16,384.
///
/// The result is a pure function of `(seed, key, image, output)`: it does not depend on
/// batch size, batch order or thread count.
public enum NormalPool {
    public static let log2Size = 20
    public static let size = 1 << log2Size
    /// Outputs per window (and lanes per block: `blockImages`).
    public static let segmentOutputs = 4096
    public static let blockImages = 16
    /// Entries per class (one class per lane).
    public static let classSize = size / blockImages
    /// Tail markers per class, and the probability `p` of reading one.
    public static let tailsPerClass = 4
    public static let tailProbability = Double(tailsPerClass) / Double(classSize)
    /// What a marker entry holds (any negative value is one).
    public static let tailMarker: Float = -1
    /// `t`: the magnitude beyond which values are tail draws, `Q(t) = p/2`.
    public static let tailThreshold: Double = -inverseNormalCDF(tailProbability / 2)

    /// The pool, computed once per process (a few tens of milliseconds).
    public static let values: [Float] = {
        let bodyCount = classSize - tailsPerClass
        let p = tailProbability
        var body = (0..<bodyCount).map { i -> Double in
            let q = (p + (1 - p) * (1 - (Double(i) + 0.5) / Double(bodyCount))) / 2
            return -inverseNormalCDF(q)
        }
        // E[z² | |z| > t] = 1 + t·φ(t)/Q(t).
        let t = tailThreshold
        let tailSecond = 1 + t * exp(-t * t / 2) / (2 * Double.pi).squareRoot() / (p / 2)
        let bodySecond = body.reduce(0) { $0 + $1 * $1 }
        let scale = ((Double(classSize) - Double(tailsPerClass) * tailSecond) / bodySecond).squareRoot()
        body = body.map { $0 * scale }
        var pool = [Float](repeating: 0, count: size)
        for r in 0..<blockImages {
            var entries = body.map(Float.init) + [Float](repeating: tailMarker, count: tailsPerClass)
            var stream = RandomStream(seed: 0x4E4F_524D_414C_504F, key: [0x504F_4F4C, UInt64(r)])  // "NORMALPO", "POOL"
            for i in stride(from: entries.count - 1, to: 0, by: -1) {
                let k = Int(stream.next() % UInt64(i + 1))
                entries.swapAt(i, k)
            }
            for (i, m) in entries.enumerated() { pool[16 * i + r] = m }
        }
        return pool
    }()

    /// The pool indices of the tail markers, ascending (the C kernels find the outputs that
    /// read one from these and the window offsets).
    public static let tailPositions: [UInt32] = values.indices.filter { values[$0] < 0 }.map { UInt32($0) }

    /// A window's stream, already past its offset word, and its offset into the pool.
    public static func window(seed: UInt64, key: [UInt64], block: Int, segment: Int) -> (stream: RandomStream, offset: Int) {
        var r = RandomStream(seed: seed, key: key + [UInt64(block), UInt64(segment)])
        let offset = Int(truncatingIfNeeded: r.next() >> UInt64(64 - (log2Size - 4))) << 4
        return (r, offset)
    }

    /// The tail draw for a marker read at output `j_s` (inside the segment) of lane `lane`
    /// of the window whose stream (past its offset word) has state `state`: a normal
    /// conditioned on `|z| > t`. SplitMix64 seeded with `mix(s₀ ⊕ mix(16·j_s + lane + γ))`
    /// gives the sign (top bit of its first word), then uniforms for Marsaglia's tail method:
    ///
    ///     u = (⌊w/2¹¹⌋ + ½)·2⁻⁵³,  x = −ln(u₁)/t,  y = −ln(u₂),  until 2y > x²;  ±(t + x)
    ///
    /// in double precision, rounded to `Float` (the C kernels do the same operations).
    public static func tailNormal(state: (UInt64, UInt64, UInt64, UInt64), output j: Int, lane: Int) -> Float {
        let index = UInt64(16 * j + lane)
        var g = SplitMix64(state: SplitMix64.mix(state.0 ^ SplitMix64.mix(index &+ SplitMix64.gamma)))
        let negative = g.next() >> 63 == 1
        let t = tailThreshold
        while true {
            let u1 = (Double(g.next() >> 11) + 0.5) * 0x1p-53
            let u2 = (Double(g.next() >> 11) + 0.5) * 0x1p-53
            let x = -log(u1) / t
            let y = -log(u2)
            if y + y > x * x { return negative ? -Float(t + x) : Float(t + x) }
        }
    }

    /// The normal of output `output` for test image `image` (the definition the C kernels
    /// implement; scalar, for tests and references).
    public static func normal(seed: UInt64, key: [UInt64], image: Int, output: Int) -> Float {
        precondition(image >= 0 && output >= 0)
        let (segment, j) = output.quotientAndRemainder(dividingBy: segmentOutputs)
        return normals(seed: seed, key: key, image: image, segment: segment, outputs: j..<(j + 1))[0]
    }

    /// The normals of outputs `segmentOutputs·segment + j` for `j` in `outputs` (inside
    /// the segment) for test image `image`: `normal` for each, walking the window once.
    public static func normals(seed: UInt64, key: [UInt64], image: Int, segment: Int, outputs: Range<Int>) -> [Float] {
        precondition(image >= 0 && segment >= 0 && outputs.lowerBound >= 0 && outputs.upperBound <= segmentOutputs)
        let (block, lane) = image.quotientAndRemainder(dividingBy: blockImages)
        var (stream, offset) = window(seed: seed, key: key, block: block, segment: segment)
        let state = stream.state
        for _ in 0..<(outputs.lowerBound / 4) { _ = stream.next() }
        var word = stream.next()   // word ⌊j/4⌋ for j = outputs.lowerBound
        var result = [Float]()
        result.reserveCapacity(outputs.count)
        for j in outputs {
            if j % 4 == 0 && j > outputs.lowerBound { word = stream.next() }
            let negative = (word >> UInt64(16 * (j % 4) + lane)) & 1 == 1
            let m = values[(offset + 16 * j + lane) & (size - 1)]
            result.append(m < 0 ? tailNormal(state: state, output: j, lane: lane) : negative ? -m : m)
        }
        return result
    }

    /// `Φ⁻¹(q)`, the standard normal quantile, for `q` in (0, 1): Acklam's rational
    /// approximation refined by one Halley step on `erfc` (relative error near 10⁻¹⁵).
    public static func inverseNormalCDF(_ q: Double) -> Double {
        precondition(q > 0 && q < 1)
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if q < low || q > 1 - low {
            let r = (-2 * log(q < low ? q : 1 - q)).squareRoot()
            let v = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5])
                / ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1)
            x = q < low ? v : -v
        } else {
            let s = q - 0.5, r = s * s
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * s
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        // Halley: e = Φ(x) − q, with Φ(x) = erfc(−x/√2)/2.
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - q
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}

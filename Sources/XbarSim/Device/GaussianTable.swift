import Foundation

/// Fast approximately normal numbers for read noise, by table lookup.
///
/// Each 64-bit word of the stream yields four normals: its four 16-bit fields index
/// a table of the 65,536 quantile midpoints `z_k = Φ⁻¹((k + ½)/65536)`, rescaled to unit
/// variance. The result is a symmetric discrete distribution with exact mean 0,
/// variance 1, kurtosis within 0.2 % of 3 and tails cut at |z| ≤ 4.33 (a normal lies
/// beyond that with probability 1.5·10⁻⁵). That is ample for read noise, where one
/// normal per crossbar output and read is needed (hundreds of thousands per image),
/// and about four times faster than Box–Muller (`RandomStream.fillGaussian`, kept
/// for programming variation and everything else).
public enum GaussianTable {
    public static let size = 1 << 16

    /// The table, computed once (bisection on `erfc`, to double precision).
    public static let values: [Float] = {
        var z = [Double](repeating: 0, count: size)
        for k in 0..<(size / 2) {
            let p = (Double(k) + 0.5) / Double(size)      // lower half: p < 1/2, z < 0
            z[k] = inverseNormalCDF(p)
            z[size - 1 - k] = -z[k]
        }
        let variance = z.reduce(0) { $0 + $1 * $1 } / Double(size)
        let scale = 1 / variance.squareRoot()
        return z.map { Float($0 * scale) }
    }()

    /// `Φ⁻¹(p)` for `0 < p < 1`, by bisection on `Φ(z) = erfc(−z/√2)/2` (64 halvings of
    /// [−40, 40]: converged to double precision; robust in the tails, where Newton is not).
    public static func inverseNormalCDF(_ p: Double) -> Double {
        precondition(p > 0 && p < 1)
        var (low, high) = (-40.0, 40.0)
        for _ in 0..<64 {
            let mid = 0.5 * (low + high)
            if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { low = mid } else { high = mid }
        }
        return 0.5 * (low + high)
    }
}

extension RandomStream {
    /// Fills `buffer` with `standardDeviation · z`, `z` from `GaussianTable` (four per
    /// 64-bit word; output `i` comes from field `i mod 4` of word `⌊i/4⌋`).
    public mutating func fillGaussianFromTable(_ buffer: UnsafeMutableBufferPointer<Float>, standardDeviation: Float) {
        guard let out = buffer.baseAddress else { return }
        GaussianTable.values.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            let count = buffer.count
            var i = 0
            while i + 4 <= count {
                let w = next()
                out[i] = standardDeviation * t[Int(truncatingIfNeeded: w & 0xFFFF)]
                out[i + 1] = standardDeviation * t[Int(truncatingIfNeeded: (w >> 16) & 0xFFFF)]
                out[i + 2] = standardDeviation * t[Int(truncatingIfNeeded: (w >> 32) & 0xFFFF)]
                out[i + 3] = standardDeviation * t[Int(truncatingIfNeeded: w >> 48)]
                i += 4
            }
            if i < count {
                var w = next()
                while i < count {
                    out[i] = standardDeviation * t[Int(truncatingIfNeeded: w & 0xFFFF)]
                    w >>= 16
                    i += 1
                }
            }
        }
    }
}

/// Sixteen `RandomStream`s advanced in lock step, one per SIMD lane: the same
/// xoshiro256** words as the scalar streams, sixteen at a time (read-noise sampling
/// draws one stream per image for blocks of sixteen images).
public struct RandomStreamBundle16: Sendable {
    var s0, s1, s2, s3: SIMD16<UInt64>

    /// Lane `i` continues `streams[i]`; missing lanes (fewer than 16 streams) repeat the last.
    public init(_ streams: [RandomStream]) {
        precondition(!streams.isEmpty && streams.count <= 16)
        (s0, s1, s2, s3) = (.zero, .zero, .zero, .zero)
        for lane in 0..<16 {
            let r = streams[min(lane, streams.count - 1)]
            s0[lane] = r.s0
            s1[lane] = r.s1
            s2[lane] = r.s2
            s3[lane] = r.s3
        }
    }

    /// The next word of every lane (lane `i` equals `streams[i].next()`).
    @inline(__always)
    public mutating func next() -> SIMD16<UInt64> {
        let t1 = s1 &* 5
        let result = ((t1 &<< 7) | (t1 &>> 57)) &* 9
        let t = s1 &<< 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 &<< 45) | (s3 &>> 19)
        return result
    }
}

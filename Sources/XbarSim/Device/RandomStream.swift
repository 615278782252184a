import Foundation

/// A seeded, keyed pseudo-random stream: xoshiro256** (Blackman & Vigna, "Scrambled linear
/// pseudorandom number generators", ACM TOMS 2021; period 2²⁵⁶ − 1), its 256-bit state
/// filled by SplitMix64 from a hash of the seed and the key.
///
/// The key names what the stream is for, e.g. `[chip, layer, tile, StreamPurpose.stuck.rawValue]`.
/// Equal `(seed, key)` always give the same sequence; streams for different keys are
/// statistically independent (the key hash is the SplitMix64 finaliser applied to each
/// component in order, so order and length matter; distinct 256-bit states make overlapping
/// subsequences negligibly likely). Draw a separate stream per chip, crossbar, purpose or image
/// instead of sharing one across threads: results never depend on scheduling.
///
/// Not cryptographic.
public struct RandomStream: RandomNumberGenerator, Sendable {
    @usableFromInline var s0, s1, s2, s3: UInt64

    /// The xoshiro256** state words, for kernels that advance many streams side by side
    /// (the read-noise sampler's C loop); `next()` continues from the same state.
    public var state: (UInt64, UInt64, UInt64, UInt64) { (s0, s1, s2, s3) }

    /// The stream for `seed` and the key components, e.g. `RandomStream(seed: 7, chip, layer)`.
    public init(seed: UInt64, _ key: UInt64...) {
        self.init(seed: seed, key: key)
    }

    /// The stream for `seed` and `key`.
    public init(seed: UInt64, key: [UInt64]) {
        var h = SplitMix64.mix(seed &+ SplitMix64.gamma)
        for component in key {
            h = SplitMix64.mix(h ^ SplitMix64.mix(component &+ 0x243F_6A88_85A3_08D3)) &+ SplitMix64.gamma
        }
        h = SplitMix64.mix(h ^ UInt64(truncatingIfNeeded: key.count))
        var splitmix = SplitMix64(state: h)
        self.init(state: (splitmix.next(), splitmix.next(), splitmix.next(), splitmix.next()))
    }

    /// A generator with the raw xoshiro256** state (reference-vector tests). An all-zero state
    /// is replaced by `(1, 0, 0, 0)`, since xoshiro's zero state is a fixed point.
    init(state: (UInt64, UInt64, UInt64, UInt64)) {
        (s0, s1, s2, s3) = state
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    /// The next 64 random bits (xoshiro256**).
    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inlinable @inline(__always)
    func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform `Double` in [0, 1) with 53 random bits: `(next() >> 11)·2⁻⁵³`.
    @inlinable @inline(__always)
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A standard normal `Double` (Box–Muller; consumes exactly two 64-bit words):
    ///
    ///     z = √(−2·ln u₁)·cos(2π·u₂),  u₁ = (k₁ + ½)·2⁻⁵³ ∈ (0, 1),  u₂ = k₂·2⁻⁵³ ∈ [0, 1)
    ///
    /// Uses Foundation's `log` and `cos` in double precision; |z| < 8.6.
    public mutating func nextGaussian() -> Double {
        let u1 = (Double(next() >> 11) + 0.5) * 0x1p-53
        let u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Fills `buffer` with independent `N(0, standardDeviation²)` values: the fast path.
    ///
    /// Box–Muller in single precision, one 64-bit word per pair: with `a` the low and `b` the
    /// high 32 bits,
    ///
    ///     u₁ = (⌊a/2⌋ | 1)·2⁻³¹ ∈ (0, 1],   u₂ = ⌊b/2⁸⌋·2⁻²⁴ ∈ [0, 1)
    ///     r = σ·√(−2·ln u₁),   buffer[2p] = r·cos(2π·u₂),   buffer[2p+1] = r·sin(2π·u₂)
    ///
    /// `ln`, `sin` and `cos` are polynomial approximations (error in z below 4·10⁻⁶·(1 + r),
    /// tested against libm) in a branch-free loop the compiler vectorises (~350 M normals/s on
    /// one core), and results do not depend on the platform's libm.
    /// Tails are cut at |z| ≤ √(62·ln 2) ≈ 6.55 (probability 6·10⁻¹¹ of a normal lying beyond).
    ///
    /// Output `i` comes from word `⌊i/2⌋` of this call, so a buffer's prefix does not depend on
    /// its length; an odd count consumes `⌈count/2⌉` words and drops the last sine. No allocation.
    public mutating func fillGaussian(_ buffer: UnsafeMutableBufferPointer<Float>, standardDeviation: Float) {
        guard let out = buffer.baseAddress else { return }
        let count = buffer.count
        let chunk = 256  // pairs per batch of words
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: chunk) { words in
            let w = words.baseAddress!
            var done = 0  // outputs written
            while done < count {
                let pairs = min(chunk, (count - done + 1) / 2)
                for p in 0..<pairs { w[p] = next() }
                let full = min(pairs, (count - done) / 2)
                let o = out + done
                for p in 0..<full {
                    let (c, s) = GaussianKernel.pair(w[p], standardDeviation)
                    o[2 &* p] = c
                    o[2 &* p &+ 1] = s
                }
                if full < pairs {  // odd tail: keep the cosine only
                    o[2 * full] = GaussianKernel.pair(w[full], standardDeviation).0
                }
                done += min(2 * pairs, count - done)
            }
        }
    }
}

/// Purposes of random streams: append `rawValue` to a key so that, e.g., turning on stuck
/// faults leaves the programming-variation draws unchanged.
public enum StreamPurpose: UInt64, Sendable, Hashable, Codable, CaseIterable {
    case programming = 1
    case stuck = 2
    case drift = 3
    case readNoise = 4
    case periphery = 5
    /// Write-verify rounds (`WriteVerify`): `key + [writeVerify, round, programming|readNoise]`.
    case writeVerify = 6
}

/// SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): seeds xoshiro and hashes keys.
struct SplitMix64 {
    static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    var state: UInt64

    /// The SplitMix64 output function (a bijection on 64 bits with full avalanche).
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next() -> UInt64 {
        state &+= Self.gamma
        return Self.mix(state)
    }
}

/// The single-precision Box–Muller pair of `RandomStream.fillGaussian`, branch-free.
enum GaussianKernel {
    /// `(r·cos θ, r·sin θ)` with `r = σ·√(−2 ln u₁)`, `θ = 2π·u₂` from one word.
    ///
    /// Written without trapping arithmetic or float-to-integer conversions, so that the loop in
    /// `fillGaussian` vectorises.
    @inline(__always)
    static func pair(_ word: UInt64, _ sigma: Float) -> (Float, Float) {
        let a = UInt32(truncatingIfNeeded: word)
        let b = UInt32(truncatingIfNeeded: word >> 32)
        let u1 = Float(Int32(bitPattern: (a >> 1) | 1)) * 0x1p-31
        let r = sigma * max(0, -2 * logUnit(u1)).squareRoot()
        let (c, s) = cosSinTurns(b >> 8)
        return (r * c, r * s)
    }

    /// `ln u` for normal, positive `u` ≤ 1: `u = m·2ᵉ` with `m ∈ [√½, √2)`, `f = m − 1`,
    /// `s = f/(2 + f)`, `ln m = 2·(s + s³/3 + s⁵/5 + s⁷/7 + s⁹/9)` (|s| ≤ 0.172: error < 10⁻⁹).
    @inline(__always)
    static func logUnit(_ u: Float) -> Float {
        let bits = u.bitPattern
        var e = Int32(bitPattern: bits >> 23) &- 127
        var m = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F80_0000)
        let big = m > 1.41421356
        m = big ? m * 0.5 : m
        e &+= big ? 1 : 0
        let f = m - 1
        let s = f / (2 + f)
        let s2 = s * s
        let poly = 1 + s2 * (1 / 3 + s2 * (1 / 5 + s2 * (1 / 7 + s2 * (1 / 9))))
        return Float(e) * 0.693147180559945 + 2 * s * poly
    }

    /// `(cos 2πt, sin 2πt)` for `t = k·2⁻²⁴ ∈ [0, 1)` (`k < 2²⁴`): quadrant
    /// `q = ⌊4t + ½⌋ = (k + 2²¹) >> 22`, `φ = 2π(t − q/4)` in [−π/4, π/4] (exact in integers),
    /// Taylor polynomials to φ⁸ and φ⁹ (error < 3·10⁻⁸), rotated by `q·π/2`.
    @inline(__always)
    static func cosSinTurns(_ k: UInt32) -> (Float, Float) {
        let quadrant = (k &+ (1 << 21)) >> 22  // 0...4
        let reduced = Int32(bitPattern: k) &- Int32(bitPattern: quadrant << 22)  // −2²¹ ..< 2²¹
        let phi = Float(reduced) * (0x1p-24 * 2 * Float.pi)
        let p2 = phi * phi
        let c = 1 + p2 * (-1 / 2 + p2 * (1 / 24 + p2 * (-1 / 720 + p2 * (1 / 40320))))
        let s = phi * (1 + p2 * (-1 / 6 + p2 * (1 / 120 + p2 * (-1 / 5040 + p2 * (1 / 362880)))))
        let qi = quadrant & 3
        // q = 0: (c, s); 1: (−s, c); 2: (−c, −s); 3: (s, −c).
        let swap = qi & 1 != 0
        let x = swap ? s : c
        let y = swap ? c : s
        let cosSign = ((qi ^ (qi >> 1)) & 1) << 31
        let sinSign = (qi >> 1) << 31
        return (Float(bitPattern: x.bitPattern ^ cosSign), Float(bitPattern: y.bitPattern ^ sinSign))
    }
}

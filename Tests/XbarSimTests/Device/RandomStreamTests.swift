import Foundation
import Testing
@testable import XbarSimDevice

struct RandomStreamTests {
    /// Published reference outputs: xoshiro256** from state (1, 2, 3, 4) (as in the Rust
    /// `rand_xoshiro` tests; re-derived with a separate Python implementation) and SplitMix64
    /// from seed 1234567 (Vigna's reference C code).
    @Test func referenceVectors() {
        var x = RandomStream(state: (1, 2, 3, 4))
        let expected: [UInt64] = [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240, 1_216_172_134_540_287_360,
                                  607_988_272_756_665_600]
        #expect((0..<6).map { _ in x.next() } == expected)
        var s = SplitMix64(state: 1_234_567)
        #expect((0..<5).map { _ in s.next() } == [6_457_827_717_110_365_317, 3_203_168_211_198_807_973,
                                                 9_817_491_932_198_370_423, 4_593_380_528_125_082_431,
                                                 16_408_922_859_458_223_821])
    }

    @Test func sameKeyGivesSameSequenceAndKeysAreDistinct() {
        func words(_ r: RandomStream) -> [UInt64] { var r = r; return (0..<8).map { _ in r.next() } }
        let base = words(RandomStream(seed: 42, 3, 1, 4))
        #expect(words(RandomStream(seed: 42, key: [3, 1, 4])) == base)
        let others = [RandomStream(seed: 43, 3, 1, 4), RandomStream(seed: 42, 1, 3, 4), RandomStream(seed: 42, 3, 1),
                      RandomStream(seed: 42, 3, 1, 4, 0), RandomStream(seed: 42, 3, 1, 5), RandomStream(seed: 42)]
        for other in others { #expect(words(other) != base) }
        #expect(words(RandomStream(seed: 0)) != words(RandomStream(seed: 0, 0)))
    }

    /// Streams with adjacent keys: the sample correlation of 10⁵ uniform pairs has standard
    /// error 1/√n for independent streams, so |ρ| ≤ 5/√n.
    @Test func adjacentKeysAreUncorrelated() {
        let n = 100_000
        var a = RandomStream(seed: 7, 0, StreamPurpose.programming.rawValue)
        var b = RandomStream(seed: 7, 1, StreamPurpose.programming.rawValue)
        var sab = 0.0, sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0
        for _ in 0..<n {
            let (x, y) = (a.nextUniform(), b.nextUniform())
            sab += x * y; sa += x; sb += y; saa += x * x; sbb += y * y
        }
        let N = Double(n)
        let rho = (sab / N - sa / N * sb / N) / ((saa / N - sa * sa / N / N) * (sbb / N - sb * sb / N / N)).squareRoot()
        #expect(abs(rho) <= 5 / N.squareRoot())
    }

    /// Uniform on [0, 1): mean ½ and variance 1/12, so SE(mean) = √(1/12n).
    @Test func uniformIsInRangeWithMeanOneHalf() {
        var r = RandomStream(seed: 1)
        let n = 100_000
        let u = (0..<n).map { _ in r.nextUniform() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(abs(meanAndStandardDeviation(u).mean - 0.5) <= 5 * (1.0 / 12 / Double(n)).squareRoot())
    }

    /// Moments and a tail fraction of N(0, 1) for both generators: mean within 5/√n,
    /// std within 5/√(2n) (≈ 1.1 % at n = 10⁵), E[z⁴] = 3 within 5·√(96/n) (Var z⁴ = 105 − 9),
    /// and P(|z| > 2) = 2Φ(−2) within 5·√(p(1 − p)/n).
    @Test(arguments: [false, true])
    func gaussianMomentsAndTails(fast: Bool) {
        let n = 100_000
        var r = RandomStream(seed: 11, fast ? 1 : 0)
        var z: [Double]
        if fast {
            var f = [Float](repeating: .nan, count: n)
            f.withUnsafeMutableBufferPointer { r.fillGaussian($0, standardDeviation: 1) }
            z = f.map(Double.init)
        } else {
            z = (0..<n).map { _ in r.nextGaussian() }
        }
        let N = Double(n)
        let (mean, std) = meanAndStandardDeviation(z)
        #expect(abs(mean) <= 5 / N.squareRoot())
        #expect(abs(std - 1) <= 5 / (2 * N).squareRoot())
        let fourth = z.reduce(0) { $0 + $1 * $1 * $1 * $1 } / N
        #expect(abs(fourth - 3) <= 5 * (96 / N).squareRoot())
        let p = 2 * standardNormalCDF(-2)
        let tail = Double(z.filter { abs($0) > 2 }.count) / N
        #expect(abs(tail - p) <= 5 * (p * (1 - p) / N).squareRoot())
    }

    /// `fillGaussian` scales by σ (checked at n = 10⁵ like the moments above).
    @Test func fillGaussianScalesByStandardDeviation() {
        var r = RandomStream(seed: 5)
        var f = [Float](repeating: .nan, count: 100_000)
        f.withUnsafeMutableBufferPointer { r.fillGaussian($0, standardDeviation: 0.25) }
        let std = meanAndStandardDeviation(f.map(Double.init)).std
        #expect(abs(std / 0.25 - 1) <= 5 / (2 * 100_000.0).squareRoot())
    }

    /// The single-precision Box–Muller kernel against the same formula in double precision with
    /// Foundation's `log`, `cos` and `sin` (same u₁, u₂ from the word): error ≤ 4·10⁻⁶·(1 + r).
    @Test func fastKernelMatchesLibm() {
        var r = RandomStream(seed: 3)
        var words = (0..<20_000).map { _ in r.next() }
        words += [0, .max, 0xFFFF_FFFF, 0xFFFF_FFFF_0000_0000, 0x0000_0001_0000_0001]  // extremes of u₁, u₂
        for w in words {
            let a = UInt32(truncatingIfNeeded: w), b = UInt32(truncatingIfNeeded: w >> 32)
            let u1 = Double(Float(Int32(bitPattern: (a >> 1) | 1)) * 0x1p-31)
            let u2 = Double(b >> 8) * 0x1p-24
            let radius = (-2 * log(u1)).squareRoot()
            let (c, s) = GaussianKernel.pair(w, 1)
            #expect(abs(Double(c) - radius * cos(2 * .pi * u2)) <= 4e-6 * (1 + radius))
            #expect(abs(Double(s) - radius * sin(2 * .pi * u2)) <= 4e-6 * (1 + radius))
        }
    }

    /// Output i comes from word ⌊i/2⌋: a prefix does not depend on the buffer length or on
    /// splitting the fill into even-sized calls (the chunking inside is invisible).
    @Test func fillGaussianPrefixIsStable() {
        func fill(_ sizes: [Int]) -> [Float] {
            var r = RandomStream(seed: 9, 2)
            var out: [Float] = []
            for size in sizes {
                var f = [Float](repeating: .nan, count: size)
                f.withUnsafeMutableBufferPointer { r.fillGaussian($0, standardDeviation: 1) }
                out += f
            }
            return out
        }
        let long = fill([1337])
        #expect(fill([37]) == Array(long[0..<37]))
        #expect(fill([512, 600, 225]) == long)
        #expect(fill([0, 1]) == [long[0]])
        #expect(!long.contains { $0.isNaN })
    }
}

import Foundation
import Testing
@testable import XbarSimDevice

/// The read-noise normals (`NormalPool`) against the properties the noise model needs.
struct NormalPoolTests {
    let key: [UInt64] = [0, 7, 1, StreamPurpose.readNoise.rawValue]

    /// Standard normal quantities from `erfc` (independent of `NormalPool.inverseNormalCDF`).
    static func upperTail(_ x: Double) -> Double { 0.5 * erfc(x / 2.0.squareRoot()) }
    static func density(_ x: Double) -> Double { exp(-x * x / 2) / (2 * Double.pi).squareRoot() }

    @Test func inverseNormalCDFInvertsErfc() {
        for q in [1e-12, 3.05e-5, 1e-3, 0.02, 0.3, 0.5, 0.77, 0.999] {
            let x = NormalPool.inverseNormalCDF(q)
            #expect(abs(Self.upperTail(-x) - q) <= 1e-12 * q, "q \(q)")
        }
    }

    /// Every lane's class holds the same magnitudes: 4 tail markers and the stratified body;
    /// with the tails' exact moments the second moment is 1 and the fourth 3.
    @Test func poolClassesAreStratifiedNormalMagnitudes() {
        let pool = NormalPool.values
        let t = NormalPool.tailThreshold
        let p = NormalPool.tailProbability
        #expect(abs(2 * Self.upperTail(t) - p) <= 1e-12)
        #expect(t > 4.0 && t < 4.01)
        let classSize = Double(NormalPool.classSize)
        var reference: [Float] = []
        for r in 0..<16 {
            let entries = stride(from: r, to: pool.count, by: 16).map { pool[$0] }
            #expect(entries.filter { $0 < 0 }.count == NormalPool.tailsPerClass)
            let body = entries.filter { $0 >= 0 }.sorted()
            if r == 0 { reference = body } else { #expect(body == reference, "class \(r)") }
        }
        let body = reference.map(Double.init)
        #expect(body.last! <= t * (1 + 1e-6) && body.first! > 0)
        // E[z²; |z| > t] = p + 2tφ(t), E[z⁴; |z| > t] = 3p + 2(t³ + 3t)φ(t).
        let second = body.reduce(0) { $0 + $1 * $1 } / classSize + p + 2 * t * Self.density(t)
        let fourth = body.reduce(0) { $0 + $1 * $1 * $1 * $1 } / classSize + 3 * p + 2 * (t * t * t + 3 * t) * Self.density(t)
        let first = body.reduce(0, +) / classSize + 2 * Self.density(t)
        #expect(abs(second - 1) < 1e-9)
        #expect(abs(fourth - 3) < 1e-5)
        #expect(abs(first - (2 / Double.pi).squareRoot()) < 1e-6)
        // Stratified: the fraction beyond x matches P(|z| > x) to within a stratum.
        for x in [0.5, 1.0, 2.0, 3.0, 3.5, 3.9] {
            let beyond = Double(body.filter { $0 > x }.count + NormalPool.tailsPerClass) / classSize
            #expect(abs(beyond - 2 * Self.upperTail(x)) <= 1.5 / classSize, "x \(x)")
        }
    }

    /// Tail draws follow z given |z| > t: fair signs; magnitudes with mean φ(t)/Q(t) and
    /// P(|z| > x) = Q(x)/Q(t) (5 standard errors).
    @Test func tailDrawsFollowTheGaussianTail() {
        let t = NormalPool.tailThreshold
        var stream = RandomStream(seed: 5, key: [1])
        let signed = (0..<40_000).map { i -> Double in
            let state = (stream.next(), stream.next(), stream.next(), stream.next())
            return Double(NormalPool.tailNormal(state: state, output: i % 4096, lane: i % 16))
        }
        // Fair signs, then magnitudes.
        let negative = Double(signed.filter { $0 < 0 }.count)
        #expect(abs(negative - Double(signed.count) / 2) < 5 * (Double(signed.count) / 4).squareRoot())
        let draws = signed.map(abs)
        let n = Double(draws.count)
        #expect(draws.allSatisfy { $0 > t })
        let q = Self.upperTail(t)
        let mean = draws.reduce(0, +) / n
        let expected = Self.density(t) / q
        // Var(X | X > t) = 1 + tλ − λ², λ = φ(t)/Q(t).
        let sd = ((1 + t * expected - expected * expected) / n).squareRoot()
        #expect(abs(mean - expected) < 5 * sd)
        for x in [4.2, 4.5, 5.0, 5.5] {
            let expectedFraction = Self.upperTail(x) / q
            let fraction = Double(draws.filter { $0 > x }.count) / n
            #expect(abs(fraction - expectedFraction) < 5 * (expectedFraction * (1 - expectedFraction) / n).squareRoot() + 1 / n,
                    "x \(x)")
        }
        // Same arguments, same draw; other output or lane, other draw.
        let s = (UInt64(1), UInt64(2), UInt64(3), UInt64(4))
        let z = NormalPool.tailNormal(state: s, output: 7, lane: 3)
        #expect(z == NormalPool.tailNormal(state: s, output: 7, lane: 3))
        #expect(z != NormalPool.tailNormal(state: s, output: 7, lane: 4))
        #expect(z != NormalPool.tailNormal(state: s, output: 8, lane: 3))
    }

    /// One window (16 images x 4,096 outputs) reads 65,536 distinct pool entries.
    @Test func aWindowReadsDistinctEntries() {
        let (_, offset) = NormalPool.window(seed: 3, key: key, block: 5, segment: 0)
        #expect(offset % 16 == 0 && offset < NormalPool.size)
        var seen = Set<Int>()
        for j in stride(from: 0, to: NormalPool.segmentOutputs, by: 97) {
            for lane in 0..<16 { seen.insert((offset + 16 * j + lane) & (NormalPool.size - 1)) }
        }
        #expect(seen.count == 16 * ((NormalPool.segmentOutputs + 96) / 97))
        // The scalar definition reads that entry, up to its sign (a magnitude, not a tail marker here).
        for (image, output) in [(80, 0), (95, 4095), (83, 1234)] {
            let z = NormalPool.normal(seed: 3, key: key, image: image, output: output)
            let entry = NormalPool.values[(offset + 16 * output + image % 16) & (NormalPool.size - 1)]
            #expect(entry >= 0 && abs(z) == entry)
        }
        // A tail marker in the window reads as the tail draw keyed by the window's state.
        let (stream, _) = NormalPool.window(seed: 3, key: key, block: 5, segment: 0)
        var markers = 0
        for j in 0..<NormalPool.segmentOutputs {
            for lane in 0..<16 where NormalPool.values[(offset + 16 * j + lane) & (NormalPool.size - 1)] < 0 {
                markers += 1
                let z = NormalPool.normals(seed: 3, key: key, image: 80 + lane, segment: 0, outputs: j..<(j + 1))[0]
                #expect(z == NormalPool.tailNormal(state: stream.state, output: j, lane: lane))
                #expect(Double(abs(z)) > NormalPool.tailThreshold)
            }
        }
        #expect(markers > 0)
    }

    /// Normals across images, outputs, segments and keys: mean 0, variance 1, no
    /// correlation between neighbouring images, outputs or crossbars (5 standard errors).
    @Test func normalsAreUncorrelatedAcrossImagesOutputsAndKeys() {
        let images = 64, outputs = 4200   // four blocks, two segments
        var z = [[Float]](repeating: [], count: 2)
        for (k, crossbar) in [key, [0, 8, 1, StreamPurpose.readNoise.rawValue]].enumerated() {
            for i in 0..<images {
                for j in 0..<outputs {
                    z[k].append(NormalPool.normal(seed: 1, key: crossbar, image: i, output: j))
                }
            }
        }
        let n = Double(images * outputs)
        let a = z[0].map(Double.init), b = z[1].map(Double.init)
        let mean = a.reduce(0, +) / n
        let variance = a.reduce(0) { $0 + $1 * $1 } / n
        #expect(abs(mean) < 5 / n.squareRoot())
        #expect(abs(variance - 1) < 5 * (2 / n).squareRoot())
        func correlation(_ pairs: [(Double, Double)]) -> Double {
            pairs.reduce(0) { $0 + $1.0 * $1.1 } / Double(pairs.count)
        }
        let bound = 5 / (n / 2).squareRoot()
        // Neighbouring images (lanes, and across a block boundary), outputs, and crossbars.
        let nextImage = (0..<(images - 1)).flatMap { i in (0..<outputs).map { (a[i * outputs + $0], a[(i + 1) * outputs + $0]) } }
        let nextOutput = (0..<images).flatMap { i in (0..<(outputs - 1)).map { (a[i * outputs + $0], a[i * outputs + $0 + 1]) } }
        let otherKey = (0..<a.count).map { (a[$0], b[$0]) }
        #expect(abs(correlation(nextImage)) < bound)
        #expect(abs(correlation(nextOutput)) < bound)
        #expect(abs(correlation(otherKey)) < bound)
        // Signs are fair coins.
        let negative = Double(a.filter { $0 < 0 }.count) / n
        #expect(abs(negative - 0.5) < 5 * (0.25 / n).squareRoot())
    }

    /// `normals` over a range equals `normal` output by output.
    @Test func normalsOverARangeEqualTheScalarDefinition() {
        let z = NormalPool.normals(seed: 4, key: key, image: 21, segment: 1, outputs: 5..<40)
        #expect(z == (5..<40).map { NormalPool.normal(seed: 4, key: key, image: 21, output: 4096 + $0) })
    }

    @Test func sameArgumentsSameNormalOtherSeedOtherNormal() {
        let z = (0..<50).map { NormalPool.normal(seed: 9, key: key, image: 17 + $0, output: 4096 + 3 * $0) }
        let again = (0..<50).map { NormalPool.normal(seed: 9, key: key, image: 17 + $0, output: 4096 + 3 * $0) }
        let other = (0..<50).map { NormalPool.normal(seed: 10, key: key, image: 17 + $0, output: 4096 + 3 * $0) }
        #expect(z == again)
        #expect(zip(z, other).filter { $0 == $1 }.count < 3)
    }
}

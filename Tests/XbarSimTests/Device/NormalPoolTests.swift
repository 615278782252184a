import Foundation
import Testing
@testable import XbarSimDevice

/// The read-noise normals (`NormalPool`) against the properties the noise model needs.
struct NormalPoolTests {
    let key: [UInt64] = [0, 7, 1, StreamPurpose.readNoise.rawValue]

    @Test func poolIsStandardNormal() {
        let z = NormalPool.values.map(Double.init)
        let n = Double(z.count)
        let mean = z.reduce(0, +) / n
        let second = z.reduce(0) { $0 + $1 * $1 } / n
        let fourth = z.reduce(0) { $0 + $1 * $1 * $1 * $1 } / n
        #expect(abs(second - 1) < 1e-6)              // rescaled to exactly 1
        #expect(abs(mean) < 5 / n.squareRoot())        // 5 standard errors
        #expect(abs(fourth - 3) < 5 * (96 / n).squareRoot())  // Var(z⁴) = 96
        // P(|z| > 2) = 0.0455 for a normal; standard error √(p(1−p)/n).
        let tail = Double(z.filter { abs($0) > 2 }.count) / n
        #expect(abs(tail - 0.0455) < 5 * (0.0455 * 0.9545 / n).squareRoot())
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
        // The scalar definition reads that entry, up to its sign.
        for (image, output) in [(80, 0), (95, 4095), (83, 1234)] {
            let z = NormalPool.normal(seed: 3, key: key, image: image, output: output)
            let entry = NormalPool.values[(offset + 16 * output + image % 16) & (NormalPool.size - 1)]
            #expect(abs(z) == abs(entry))
        }
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

    @Test func sameArgumentsSameNormalOtherSeedOtherNormal() {
        let z = (0..<50).map { NormalPool.normal(seed: 9, key: key, image: 17 + $0, output: 4096 + 3 * $0) }
        let again = (0..<50).map { NormalPool.normal(seed: 9, key: key, image: 17 + $0, output: 4096 + 3 * $0) }
        let other = (0..<50).map { NormalPool.normal(seed: 10, key: key, image: 17 + $0, output: 4096 + 3 * $0) }
        #expect(z == again)
        #expect(zip(z, other).filter { $0 == $1 }.count < 3)
    }
}

import CKernels
import Foundation
import Testing
@testable import XbarSim

/// The read-noise sampler against its definition: image `i`'s output `j` gets
/// `sqrt(variance)·z` with `z = NormalPool.normal(seed, crossbar + [readNoise], i, j)`
/// (the scalar reference) — whatever the batch split or thread count.
struct ReadNoiseSamplerTests {
    let key = NoiseKey(seed: 11, crossbar: [2, 5, 0], firstImage: 0)
    // [C=3, H=2, W=2, N=37]: 37 images = two 16-image blocks and a partial one.
    let shape = [3, 2, 2, 37]

    func variance() -> Tensor {
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 7919) % 101) / 50 })
    }

    /// The normals image `i` must receive, from the scalar definition.
    func normals(image i: Int, outputs: Int) -> [Float] {
        (0..<outputs).map {
            NormalPool.normal(seed: key.seed, key: key.crossbar + [StreamPurpose.readNoise.rawValue], image: i, output: $0)
        }
    }

    @Test(arguments: [1, 2, 3])
    func noiseIsTheImagesOwnStreamScaledBySigma(threads: Int) {
        let v = variance()
        var y = Tensor(shape: shape, scalars: [Float](repeating: 0.5, count: shape.reduce(1, *)))
        ReadNoiseSampler.addNoise(to: &y, variance: v, key: key, threads: threads)
        let (outputs, n) = (12, 37)
        for i in 0..<n {
            let z = normals(image: i, outputs: outputs)
            for j in 0..<outputs {
                let index = j * n + i
                let expected = 0.5 + v.scalars[index].squareRoot() * z[j]
                #expect(abs(y.scalars[index] - expected) <= 1e-6 * max(1, abs(expected)), "image \(i) output \(j)")
            }
        }
    }

    /// More than one 4,096-output segment, a batch starting mid-block, and more images
    /// than one C call takes (`imagesPerCall`).
    @Test(arguments: [(13, 20, 2), (5, 1000, 2)])
    func segmentsAndPartialBlocksFollowTheDefinition(firstImage: Int, images: Int, threads: Int) {
        let shape = [1, 65, 65, images]   // 4,225 outputs: two segments
        var y = Tensor(zeros: shape)
        let v = Tensor(shape: shape, scalars: [Float](repeating: 4, count: shape.reduce(1, *)))
        var k = key
        k.firstImage = firstImage
        ReadNoiseSampler.addNoise(to: &y, variance: v, key: k, threads: threads)
        let outputs = 65 * 65
        for i in Set([0, 1, 2, 3, 7, images / 2, images - 2, images - 1]) {
            for j in [0, 1, 5, 4095, 4096, 4097, outputs - 1] {
                let z = NormalPool.normal(seed: key.seed, key: key.crossbar + [StreamPurpose.readNoise.rawValue],
                                          image: firstImage + i, output: j)
                #expect(y.scalars[j * images + i] == 2 * z, "image \(i) output \(j)")
            }
        }
    }

    @Test func splittingTheBatchGivesTheSameNoise() {
        let v = variance()
        var whole = Tensor(zeros: shape)
        ReadNoiseSampler.addNoise(to: &whole, variance: v, key: key, threads: 2)
        // Images 0..<20 and 20..<37 as two batches.
        for (first, count) in [(0, 20), (20, 17)] {
            func slice(_ t: Tensor) -> Tensor {
                Tensor(shape: [3, 2, 2, count], scalars: (0..<12).flatMap { j in
                    (0..<count).map { t.scalars[j * 37 + first + $0] }
                })
            }
            var part = Tensor(zeros: [3, 2, 2, count])
            var k = key
            k.firstImage = first
            ReadNoiseSampler.addNoise(to: &part, variance: slice(v), key: k, threads: 1)
            #expect(part.scalars == slice(whole).scalars)
        }
    }

    /// The fused per-channel pass equals y = w·x + b, variance v·x² + bv, addNoise, rails.
    @Test func fusedPerChannelPassEqualsTheUnfusedSteps() {
        let count = shape.reduce(1, *)
        let x = Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 31) % 23) / 7 - 1.5 })
        let (w, b, v, bv): ([Float], [Float], [Float], [Float]) = ([0.5, -1.2, 2], [0.1, 0, -0.3], [1e-3, 4e-4, 0], [1e-4, 0, 2e-4])
        let rail: Float = 2.5
        let fused = ReadNoiseSampler.perChannel(x, weight: w, bias: b, variance: v, biasVariance: bv, railUnits: rail,
                                                key: key, threads: 2)
        var y = x
        var variance = x
        for k in 0..<count {
            let c = k / (4 * 37)
            y.scalars[k] = w[c] * x.scalars[k] + b[c]
            variance.scalars[k] = v[c] * x.scalars[k] * x.scalars[k] + bv[c]
        }
        ReadNoiseSampler.addNoise(to: &y, variance: variance, key: key, threads: 1)
        Kernels.clip(&y, rail)
        for k in 0..<count {
            #expect(abs(fused.scalars[k] - y.scalars[k]) <= 1e-5, "element \(k)")
        }
        #expect(fused.scalars.contains(rail) || fused.scalars.contains(-rail))
    }

    /// The fused depthwise pass equals the depthwise convolution, the variance convolution
    /// of the squared input and `addNoise` (bias, noise, rails) one after another: batches
    /// starting mid-block, and full blocks over two 4,096-output segments (`large`).
    @Test(arguments: [(3, 1, 1, false), (5, 2, 2, false), (4, 1, 0, false), (3, 1, 1, true)])
    func fusedDepthwiseEqualsTheUnfusedSteps(kernel: Int, stride: Int, padding: Int, large: Bool) {
        let (c, h, w, n) = large ? (3, 40, 40, 32) : (3, 7, 6, 21)
        let g = Conv2DGeometry(inChannels: c, outChannels: c, kernel: (kernel, kernel), stride: (stride, stride),
                               padding: (padding, padding), groups: c, input: (h, w))
        let x = Tensor(shape: [c, h, w, n], scalars: (0..<(c * h * w * n)).map { Float(($0 * 37) % 41) / 13 - 1.5 })
        let weights = (0..<(c * g.fanIn)).map { Float(($0 * 7) % 11) / 10 - 0.5 }
        let variances = weights.map { 1e-3 * $0 * $0 + 1e-4 }
        let (b, bv): ([Float], [Float]) = ([0.2, -0.1, 0.05], [1e-4, 0, 3e-4])
        var k = key
        k.firstImage = large ? 16 : 9
        let rail: Float = 0.6
        let fused = ReadNoiseSampler.depthwise(x, weight: weights, variance: variances, bias: b, biasVariance: bv,
                                               geometry: g, railUnits: rail, key: k, threads: 2)
        var y = Kernels.conv2d(x, weight: weights, bias: nil, geometry: g, threads: 1)
        let variance = Kernels.conv2d(Kernels.squared(x), weight: variances, bias: nil, geometry: g, threads: 1)
        ReadNoiseSampler.addNoise(to: &y, variance: variance, bias: b, biasVariance: bv, railUnits: rail, key: k, threads: 1)
        #expect(fused.shape == y.shape)
        for i in 0..<y.count { #expect(abs(fused.scalars[i] - y.scalars[i]) <= 1e-5, "element \(i)") }
        #expect(y.scalars.contains(rail) || y.scalars.contains(-rail))
    }

    /// The BN module's two stages in one pass equal the two stages one after another: a
    /// partial block, and full blocks over two 4,096-output segments (the segment-at-a-time path).
    @Test(arguments: [[3, 2, 2, 37], [3, 40, 40, 32]])
    func fusedStagePairEqualsTwoStages(shape: [Int]) {
        let count = shape.reduce(1, *)
        let x = Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 13) % 29) / 9 - 1.5 })
        var k2 = key
        k2.crossbar = [2, 5, 1]
        let a = PerChannelStage(weight: [1, -1, 1], bias: [-0.2, 0.4, 0], variance: [4e-4, 4e-4, 4e-4],
                                biasVariance: [1e-5, 2e-5, 0], key: key)
        let b = PerChannelStage(weight: [0.7, 2.5, 1.1], bias: [0.1, -0.5, 0.3], variance: [2e-4, 3e-3, 0],
                                biasVariance: [1e-5, 0, 1e-4], key: k2)
        let rail: Float = 2
        let fused = ReadNoiseSampler.perChannelPair(x, first: a, second: b, railUnits: rail, threads: 2)
        let u = ReadNoiseSampler.perChannel(x, weight: a.weight, bias: a.bias, variance: a.variance,
                                            biasVariance: a.biasVariance, railUnits: rail, key: a.key, threads: 1)
        let y = ReadNoiseSampler.perChannel(u, weight: b.weight, bias: b.bias, variance: b.variance,
                                            biasVariance: b.biasVariance, railUnits: rail, key: b.key, threads: 3)
        for i in 0..<count { #expect(abs(fused.scalars[i] - y.scalars[i]) <= 1e-6, "element \(i)") }
        #expect(fused.scalars != u.scalars)
    }

    /// Bias, read noise and rails fused after bias-free GEMMs equal the unfused steps.
    @Test func fusedBiasNoiseAndRailsEqualTheSteps() {
        let v = variance()
        let count = shape.reduce(1, *)
        let start = Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 17) % 31) / 10 - 1.5 })
        let (b, bv): ([Float], [Float]) = ([0.3, -0.1, 0], [0.01, 0, 0.2])
        var fused = start
        ReadNoiseSampler.addNoise(to: &fused, variance: v, bias: b, biasVariance: bv, railUnits: 1.2, key: key, threads: 2)
        var y = start
        var variance = v
        for k in 0..<count {
            y.scalars[k] += b[k / (4 * 37)]
            variance.scalars[k] += bv[k / (4 * 37)]
        }
        ReadNoiseSampler.addNoise(to: &y, variance: variance, key: key, threads: 1)
        Kernels.clip(&y, 1.2)
        for k in 0..<count { #expect(abs(fused.scalars[k] - y.scalars[k]) <= 1e-5, "element \(k)") }
    }

    /// The one-pass pointwise crossbar against its definition in double precision:
    /// W·x + bias + sqrt(V·x² + bv)·z with the definition's normals, rails after. An odd input
    /// count, outputs not a multiple of the tile, an odd pixel count, more than one 4,096-output
    /// segment, a batch starting mid-block with a partial last block, two threads. The value is
    /// an fp32 dot product; bf16 variance products (AVX-512 BF16) may move the noise by at most
    /// 2^-8 of sigma, fp32 ones by rounding only. `skip`: the crossbar reads channels
    /// skip ..< skip + inputs of a larger input (a row tile), with 2 more channels after.
    @Test(arguments: [0, 3])
    func onePassPointwiseFollowsTheDefinition(skip: Int) {
        let (inputs, outputs, h, w, n) = (23, 11, 21, 19, 37)   // 11·399 = 4,389 outputs: two segments
        let plane = h * w
        let channels = skip == 0 ? inputs : skip + inputs + 2
        let x = Tensor(shape: [channels, h, w, n], scalars: (0..<(channels * plane * n)).map {
            Float(($0 * 37) % 41) / 13 - 1.5
        })
        let weights = (0..<(outputs * inputs)).map { Float(($0 * 7) % 11) / 10 - 0.5 }
        let variances = (0..<(outputs * inputs)).map { 1e-3 * Float(($0 * 5) % 13 + 1) / 13 }
        let b = (0..<outputs).map { Float($0 % 3) / 10 - 0.1 }
        let bv = (0..<outputs).map { Float($0 % 4) * 1e-4 }
        var k = key
        k.firstImage = 5
        let rail: Float = 1.6
        let packed = PackedPointwise(weights: weights, variance: variances, outputs: outputs, inputs: inputs)
        let rows = skip == 0 ? nil : skip..<(skip + inputs)
        let y = ReadNoiseSampler.pointwise(x, rows: rows, crossbar: packed, bias: b, biasVariance: bv, railUnits: rail,
                                           key: k, threads: 2)
        #expect(y.shape == [outputs, h, w, n])
        let noiseBound = PackedPointwise.bf16Variance ? 0x1p-8 : 1e-6
        var (railed, compared) = (0, 0)
        for o in 0..<outputs {
            for p in 0..<plane {
                let j = o * plane + p
                for i in 0..<n {
                    var (mean, magnitude, variance) = (Double(b[o]), 0.0, Double(bv[o]))
                    for c in 0..<inputs {
                        let xc = Double(x.scalars[((skip + c) * plane + p) * n + i])
                        mean += Double(weights[o * inputs + c]) * xc
                        magnitude += abs(Double(weights[o * inputs + c]) * xc)
                        variance += Double(variances[o * inputs + c]) * xc * xc
                    }
                    let z = Double(NormalPool.normal(seed: k.seed, key: k.crossbar + [StreamPurpose.readNoise.rawValue],
                                                     image: k.firstImage + i, output: j))
                    let exact = mean + variance.squareRoot() * z
                    let got = Double(y.scalars[j * n + i])
                    if abs(exact) >= Double(rail) + 1e-3 {
                        railed += 1
                        #expect(got == (exact > 0 ? 1 : -1) * Double(rail), "output \(j) image \(i)")
                    } else if abs(exact) < Double(rail) - 1e-3 {
                        compared += 1
                        let bound = noiseBound * variance.squareRoot() * abs(z) + 1e-6 * (magnitude + Double(abs(b[o])) + 1)
                        #expect(abs(got - exact) <= bound, "output \(j) image \(i)")
                    }
                }
            }
        }
        #expect(railed > 0 && compared > outputs * plane)
    }

    /// The C tail draw equals the Swift definition bit for bit.
    @Test func cTailDrawEqualsTheDefinition() {
        var stream = RandomStream(seed: 8, key: [2])
        for i in 0..<2000 {
            let state = [stream.next(), stream.next(), stream.next(), stream.next()]
            let (j, lane) = (Int(stream.next() % 4096), i % 16)
            let c = xbar_tail_normal(state, Int32(j), Int32(lane), NormalPool.tailThreshold)
            #expect(c == NormalPool.tailNormal(state: (state[0], state[1], state[2], state[3]), output: j, lane: lane))
        }
    }

    /// Every kernel's normals, tail draws included, equal the scalar definition: each kernel
    /// with zero weights and a unit (bias) variance outputs z itself. A batch starting
    /// mid-block (partial blocks: scalar lanes) and one of whole blocks (vec16, segment at a
    /// time), two 4,096-output segments.
    @Test(arguments: [(13, 37), (32, 32)])
    func everyKernelsNormalsIncludingTailsFollowTheDefinition(firstImage: Int, n: Int) {
        let (c, h, w) = (2, 48, 48)   // 4,608 outputs
        let outputs = c * h * w
        var k = key
        k.firstImage = firstImage
        var k2 = k
        k2.crossbar = [2, 5, 1]
        func reference(_ key: NoiseKey) -> [Float] {
            var z = [Float](repeating: 0, count: outputs * n)
            let streamKey = key.crossbar + [StreamPurpose.readNoise.rawValue]
            for i in 0..<n {
                for segment in 0..<2 {
                    let j0 = 4096 * segment, j1 = min(outputs, j0 + 4096)
                    let normals = NormalPool.normals(seed: key.seed, key: streamKey, image: key.firstImage + i,
                                                     segment: segment, outputs: 0..<(j1 - j0))
                    for j in j0..<j1 { z[j * n + i] = normals[j - j0] }
                }
            }
            return z
        }
        let (z, z2) = (reference(k), reference(k2))
        let tails = z.filter { Double(abs($0)) > NormalPool.tailThreshold }.count
        #expect(tails > 0)
        let shape = [c, h, w, n]
        let x = Tensor(shape: shape, scalars: (0..<(outputs * n)).map { Float($0 % 7) - 3 })
        var added = Tensor(zeros: shape)
        ReadNoiseSampler.addNoise(to: &added, variance: Tensor(shape: shape, scalars: [Float](repeating: 1, count: outputs * n)),
                                  key: k, threads: 2)
        #expect(added.scalars == z)
        let perChannel = ReadNoiseSampler.perChannel(x, weight: [0, 0], bias: [0, 0], variance: [0, 0],
                                                     biasVariance: [1, 1], railUnits: nil, key: k, threads: 2)
        #expect(perChannel.scalars == z)
        let unit = PerChannelStage(weight: [0, 0], bias: [0, 0], variance: [0, 0], biasVariance: [1, 1], key: k)
        let identity = PerChannelStage(weight: [1, 1], bias: [0, 0], variance: [0, 0], biasVariance: [0, 0], key: k2)
        let quiet = PerChannelStage(weight: [0, 0], bias: [0, 0], variance: [0, 0], biasVariance: [0, 0], key: k)
        let unit2 = PerChannelStage(weight: [0, 0], bias: [0, 0], variance: [0, 0], biasVariance: [1, 1], key: k2)
        #expect(ReadNoiseSampler.perChannelPair(x, first: unit, second: identity, railUnits: nil, threads: 2).scalars == z)
        #expect(ReadNoiseSampler.perChannelPair(x, first: quiet, second: unit2, railUnits: nil, threads: 2).scalars == z2)
        let g = Conv2DGeometry(inChannels: c, outChannels: c, kernel: (1, 1), groups: c, input: (h, w))
        let depthwise = ReadNoiseSampler.depthwise(x, weight: [0, 0], variance: [0, 0], bias: nil, biasVariance: [1, 1],
                                                   geometry: g, railUnits: nil, key: k, threads: 2)
        #expect(depthwise.scalars == z)
        let packed = PackedPointwise(weights: [0, 0, 0, 0], variance: [0, 0, 0, 0], outputs: c, inputs: c)
        let pointwise = ReadNoiseSampler.pointwise(x, crossbar: packed, bias: nil, biasVariance: [1, 1], railUnits: nil,
                                                   key: k, threads: 2)
        #expect(pointwise.scalars == z)
    }

    /// Per lane (test image index mod 16): tail counts beyond 3, 4 and 5 sigma against the
    /// Gaussian expectation (Poisson, 5 standard deviations), every lane's maximum beyond 4.5
    /// (the old 16-aligned pool capped lane 12 at 3.87 and every lane at 4.63), the largest
    /// beyond 5, and every lane's second moment 1 within 5 standard errors (√(2/N)).
    /// 2²² normals per lane, from the C kernel (`addNoise` of unit variance onto zeros).
    @Test func tailsAndVariancePerLaneAreGaussian() {
        let perCall = 4096 * 16, calls = 64   // per lane: 2^22 normals
        var beyond = [[Int]](repeating: [0, 0, 0], count: 16)
        var second = [Double](repeating: 0, count: 16)
        var largest = [Float](repeating: 0, count: 16)
        let ones = Tensor(shape: [1, 1, perCall, 16], scalars: [Float](repeating: 1, count: perCall * 16))
        for call in 0..<calls {
            var y = Tensor(zeros: [1, 1, perCall, 16])
            let k = NoiseKey(seed: 3, crossbar: [0, UInt64(call), 0], firstImage: 16 * (call % 5))
            ReadNoiseSampler.addNoise(to: &y, variance: ones, key: k, threads: 2)
            y.scalars.withUnsafeBufferPointer { z in
                for lane in 0..<16 {
                    var (s, m) = (0.0, Float(0))
                    var (b3, b4, b5) = (0, 0, 0)
                    for j in 0..<perCall {
                        let v = abs(z[j * 16 + lane])
                        s += Double(v) * Double(v)
                        m = max(m, v)
                        if v > 3 { b3 += 1 }
                        if v > 4 { b4 += 1 }
                        if v > 5 { b5 += 1 }
                    }
                    second[lane] += s
                    largest[lane] = max(largest[lane], m)
                    beyond[lane][0] += b3
                    beyond[lane][1] += b4
                    beyond[lane][2] += b5
                }
            }
        }
        let n = Double(perCall * calls)
        let probabilities = [3.0, 4.0, 5.0].map { erfc($0 / 2.0.squareRoot()) }
        for lane in 0..<16 {
            for (i, p) in probabilities.enumerated() {
                let expected = n * p
                #expect(abs(Double(beyond[lane][i]) - expected) < 5 * expected.squareRoot() + 1,
                        "lane \(lane): \(beyond[lane][i]) beyond \(i + 3) sigma, expected \(expected)")
            }
            #expect(largest[lane] > 4.5, "lane \(lane) max \(largest[lane])")
            #expect(abs(second[lane] / n - 1) < 5 * (2 / n).squareRoot(), "lane \(lane) second moment \(second[lane] / n)")
        }
        let total5 = beyond.reduce(0) { $0 + $1[2] }
        let expected5 = 16 * n * probabilities[2]
        #expect(abs(Double(total5) - expected5) < 5 * expected5.squareRoot())
        #expect(largest.max()! > 5)
    }
}

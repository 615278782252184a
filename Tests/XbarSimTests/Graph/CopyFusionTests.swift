import Testing
@testable import XbarSim
@testable import XbarSimGraph
@testable import XbarSimAnalog

/// The float engine's fused channel wiring (slices as views, concat + shuffle in one write)
/// against the same ops run one at a time.
struct CopyFusionTests {
    @Test func fusedConcatAndShuffleEqualTheTwoCopies() {
        var values = TestValues(seed: 3)
        // Planes of 64x64x3 values, so that the copy is split over threads (>= 16,384 values per worker).
        let a = Tensor(shape: [6, 64, 64, 3], scalars: values.array(6 * 12_288))
        let b = Tensor(shape: [4, 64, 64, 3], scalars: values.array(4 * 12_288))
        for groups in [1, 2, 5] {
            let fused = Kernels.concatenateChannels([(a, 1..<5), (b, 0..<4), (a, 5..<6), (b, 3..<4)],
                                                    shuffleGroups: groups)
            let separate = Kernels.shuffleChannels(Kernels.concatenateChannels([
                Kernels.sliceChannels(a, start: 1, stop: 5), b, Kernels.sliceChannels(a, start: 5, stop: 6),
                Kernels.sliceChannels(b, start: 3, stop: 4),
            ]), groups: groups)
            #expect(fused == separate, "groups \(groups)")
            // Split over threads (per channel, by index): the same bytes.
            let threaded = Kernels.concatenateChannels([(a, 1..<5), (b, 0..<4), (a, 5..<6), (b, 3..<4)],
                                                       shuffleGroups: groups, threads: 3)
            #expect(threaded == separate, "groups \(groups), 3 threads")
        }
        // Hand-checked: channels [a1, a2] ++ [b0, b1], 2 groups: a1, b0, a2, b1.
        let x = Tensor(shape: [3, 1], scalars: [10, 11, 12])
        let y = Tensor(shape: [2, 1], scalars: [20, 21])
        #expect(Kernels.concatenateChannels([(x, 1..<3), (y, 0..<2)], shuffleGroups: 2).scalars == [11, 20, 12, 21])
    }

    /// A ShuffleNetV2 unit (split, branch, concat, shuffle), then a slice read by a
    /// non-concatenation and a concatenation with no shuffle after it.
    static func unitGraph() -> Graph {
        var values = TestValues(seed: 11)
        let pointwise = Conv2DGeometry(inChannels: 2, outChannels: 2, kernel: (1, 1), input: (3, 3))
        let ops = [
            Op(name: "s1", path: "", kind: .channelSlice(start: 0, stop: 2), inputs: [0], outputShape: [2, 3, 3]),
            Op(name: "s2", path: "", kind: .channelSlice(start: 2, stop: 4), inputs: [0], outputShape: [2, 3, 3]),
            Op(name: "pw", path: "", kind: .conv2d(geometry: pointwise, weight: values.array(4), bias: values.array(2)),
               inputs: [2], outputShape: [2, 3, 3]),
            Op(name: "cat", path: "", kind: .concat, inputs: [1, 3], outputShape: [4, 3, 3]),
            Op(name: "sh", path: "", kind: .channelShuffle(groups: 2), inputs: [4], outputShape: [4, 3, 3]),
            Op(name: "s3", path: "", kind: .channelSlice(start: 1, stop: 3), inputs: [5], outputShape: [2, 3, 3]),
            Op(name: "r", path: "", kind: .relu, inputs: [6], outputShape: [2, 3, 3]),
            Op(name: "s4", path: "", kind: .channelSlice(start: 3, stop: 4), inputs: [5], outputShape: [1, 3, 3]),
            Op(name: "cat2", path: "", kind: .concat, inputs: [8, 7, 5], outputShape: [7, 3, 3]),
            Op(name: "g", path: "", kind: .globalAveragePool, inputs: [9], outputShape: [7, 1, 1]),
            Op(name: "f", path: "", kind: .flatten, inputs: [10], outputShape: [7]),
        ]
        return Graph(inputShape: [4, 3, 3], ops: ops, outputIndex: 10)
    }

    /// A pointwise convolution reading channels 3..<5 of a 6-channel batch in place equals one
    /// on the copied slice, and a hand computation.
    @Test func pointwiseConvolutionReadsAChannelRangeInPlace() {
        var values = TestValues(seed: 5)
        let x = Tensor(shape: [6, 2, 3, 3], scalars: values.array(6 * 18))
        let g = Conv2DGeometry(inChannels: 2, outChannels: 3, kernel: (1, 1), input: (2, 3))
        let w = values.array(6), b = values.array(3)
        let inPlace = Kernels.pointwiseConv2d(x, channels: 3..<5, weight: w, bias: b, geometry: g)
        let copied = Kernels.conv2d(Kernels.sliceChannels(x, start: 3, stop: 5), weight: w, bias: b, geometry: g, threads: 1)
        #expect(inPlace == copied)
        let plane = 18
        for o in 0..<3 {
            for k in 0..<plane {
                let hand = b[o] + w[o * 2] * x.scalars[3 * plane + k] + w[o * 2 + 1] * x.scalars[4 * plane + k]
                #expect(abs(inPlace.scalars[o * plane + k] - hand) <= 1e-5 * max(1, abs(hand)))
            }
        }
    }

    /// An op that reads one value twice at its last use (`x + x`, `cat([x, x])`): the float
    /// engine (fused and op by op), the analog engine and chip calibration all read it twice.
    @Test func aValueReadTwiceAtItsLastUse() throws {
        let ops = [
            Op(name: "r", path: "", kind: .relu, inputs: [0], outputShape: [2, 2, 2]),
            Op(name: "twice", path: "", kind: .add, inputs: [1, 1], outputShape: [2, 2, 2]),
            Op(name: "cat", path: "", kind: .concat, inputs: [2, 2], outputShape: [4, 2, 2]),
            Op(name: "g", path: "", kind: .globalAveragePool, inputs: [3], outputShape: [4, 1, 1]),
            Op(name: "f", path: "", kind: .flatten, inputs: [4], outputShape: [4]),
        ]
        let graph = Graph(inputShape: [2, 2, 2], ops: ops, outputIndex: 4)
        let x = Tensor(shape: [2, 2, 2, 3], scalars: (0..<24).map { Float($0 % 7) - 2.5 })
        let float = try FloatExecutor(graph: graph).run(x)
        #expect(float.scalars == FloatExecutor(graph: graph).runKeepingAll(x)[4].scalars)
        // Output (c, n) is 2·mean(relu(x_c)) for c and c + 2.
        for c in 0..<2 {
            for n in 0..<3 {
                let mean = (0..<4).map { max(x.scalars[(c * 4 + $0) * 3 + n], 0) }.reduce(0, +) / 4
                #expect(abs(float.scalars[c * 3 + n] - 2 * mean) <= 1e-6)
                #expect(float.scalars[(c + 2) * 3 + n] == float.scalars[c * 3 + n])
            }
        }
        let calibration = Calibration(maxAbs: [Float](repeating: 8, count: ops.count + 1), images: 1)
        let chip = try AnalogChip(graph: graph, config: Preset.ideal.config, seed: 1, chip: 0, inputMaxAbs: 8,
                                  calibration: calibration)
        #expect(GoldenCheck.relativeError(try chip.run(x, firstImage: 0, threads: 1).scalars, float.scalars) <= 1e-5)
        let (calibrated, _) = try chip.calibrated(images: x, mode: .column, source: "test", threads: 1)
        #expect(GoldenCheck.relativeError(try calibrated.run(x, firstImage: 0, threads: 1).scalars, float.scalars) <= 1e-4)
    }

    /// The analog engine writes a concatenation read only by the shuffle after it shuffled, in
    /// one copy, unless a value observer must see every op: same bits either way (rram chip,
    /// read noise on), and the plain run reports the shuffle with no time of its own.
    @Test func analogChipWritesTheConcatenationShuffled() throws {
        let graph = Self.unitGraph()
        var config = Preset.rram.config
        config.mode = .analog
        let calibration = Calibration(maxAbs: [Float](repeating: 3, count: graph.ops.count + 1), images: 1)
        let chip = try AnalogChip(graph: graph, config: config, seed: 4, chip: 0, inputMaxAbs: 3, calibration: calibration)
        #expect(graph.shuffleGroupsAfterConcatenation(3, lastUse: graph.lastUse) == 2)
        #expect(graph.shuffleGroupsAfterConcatenation(8, lastUse: graph.lastUse) == nil)   // cat2: no shuffle after it
        var values = TestValues(seed: 9)
        let x = Tensor(shape: [4, 3, 3, 6], scalars: values.array(36 * 6))
        var timed: [Int: Double] = [:]
        let fused = try chip.run(x, firstImage: 0, threads: 2, timing: { timed[$0] = $1 })
        var seen = 0
        let observed = try chip.run(x, firstImage: 0, threads: 2, values: { _, _ in seen += 1 })
        #expect(fused == observed && seen == graph.ops.count)
        #expect(timed.count == graph.ops.count && timed[4] == 0)
    }

    @Test func planFusesOnlyWhatItMay() {
        let fusion = CopyFusion(Self.unitGraph())
        // s1 feeds only the concatenation; s2 a pointwise convolution (read in place); s3 a ReLU;
        // s4 a concatenation.
        #expect(fusion.sliceIsView == [true, true, false, false, false, false, false, true, false, false, false])
        #expect(fusion.shuffleAfter == [3: 2])
        // The pointwise convolution is read only by the shuffled concatenation: its GEMM writes
        // the odd rows (concatenated channels 2, 3 land at rows 1, 3). The ReLU reads a slice.
        #expect(fusion.inConcatenation == [3: CopyFusion.Rows(concat: 3, firstRow: 1, rowStride: 2)])
    }

    /// Branches computed in their concatenation's buffer: a pointwise convolution then BN and
    /// ReLU into a shuffled concatenation (reading a slice view), convolution + hard-swish and
    /// convolution + sigmoid + BN, beside parts that must be copied (a part across two shuffle
    /// groups, a convolution with two readers, an add).
    static func branchGraph() -> Graph {
        var values = TestValues(seed: 17)
        func pointwise(_ cin: Int, _ cout: Int) -> Conv2DGeometry {
            Conv2DGeometry(inChannels: cin, outChannels: cout, kernel: (1, 1), input: (3, 3))
        }
        func bn(_ c: Int) -> BatchNormParameters {
            BatchNormParameters(gamma: values.array(c), beta: values.array(c), runningMean: values.array(c),
                                runningVariance: values.array(c).map { 1 + abs($0) }, epsilon: 1e-5)
        }
        let ops = [
            Op(name: "s1", path: "", kind: .channelSlice(start: 0, stop: 2), inputs: [0], outputShape: [2, 3, 3]),
            Op(name: "s2", path: "", kind: .channelSlice(start: 2, stop: 4), inputs: [0], outputShape: [2, 3, 3]),
            Op(name: "pw", path: "", kind: .conv2d(geometry: pointwise(2, 2), weight: values.array(4), bias: values.array(2)),
               inputs: [2], outputShape: [2, 3, 3]),
            Op(name: "bn", path: "", kind: .batchNorm(bn(2)), inputs: [3], outputShape: [2, 3, 3]),
            Op(name: "relu", path: "", kind: .relu, inputs: [4], outputShape: [2, 3, 3]),
            Op(name: "cat", path: "", kind: .concat, inputs: [1, 5], outputShape: [4, 3, 3]),
            Op(name: "sh", path: "", kind: .channelShuffle(groups: 2), inputs: [6], outputShape: [4, 3, 3]),
            Op(name: "pwA", path: "", kind: .conv2d(geometry: pointwise(4, 3), weight: values.array(12), bias: nil),
               inputs: [7], outputShape: [3, 3, 3]),
            Op(name: "hs", path: "", kind: .hardSwish, inputs: [8], outputShape: [3, 3, 3]),
            Op(name: "pwB", path: "", kind: .conv2d(geometry: pointwise(4, 3), weight: values.array(12), bias: values.array(3)),
               inputs: [7], outputShape: [3, 3, 3]),
            Op(name: "sig", path: "", kind: .elementwise(.sigmoid), inputs: [10], outputShape: [3, 3, 3]),
            Op(name: "bnC", path: "", kind: .batchNorm(bn(3)), inputs: [11], outputShape: [3, 3, 3]),
            Op(name: "pwD", path: "", kind: .conv2d(geometry: pointwise(4, 2), weight: values.array(8), bias: nil),
               inputs: [7], outputShape: [2, 3, 3]),
            Op(name: "cat2", path: "", kind: .concat, inputs: [9, 12, 13], outputShape: [8, 3, 3]),
            Op(name: "sh2", path: "", kind: .channelShuffle(groups: 2), inputs: [14], outputShape: [8, 3, 3]),
            Op(name: "add", path: "", kind: .add, inputs: [13, 13], outputShape: [2, 3, 3]),
            Op(name: "cat3", path: "", kind: .concat, inputs: [15, 16], outputShape: [10, 3, 3]),
            Op(name: "g", path: "", kind: .globalAveragePool, inputs: [17], outputShape: [10, 1, 1]),
            Op(name: "f", path: "", kind: .flatten, inputs: [18], outputShape: [10]),
        ]
        return Graph(inputShape: [4, 3, 3], ops: ops, outputIndex: 18)
    }

    @Test func branchesComputedInTheConcatenationAreTheOnesThatMayBe() {
        let fusion = CopyFusion(Self.branchGraph())
        // pw → bn → relu: cat's channels 2, 3 → rows 1, 3. pwA → hs: cat2's channels 0-2, all in
        // shuffle group 0 (4 channels per group) → rows 0, 2, 4. Not: pwB → sig → bnC (cat2's
        // channels 3-5 span both groups), pwD (read by cat2 and add), add, the shuffle's output.
        let odd = CopyFusion.Rows(concat: 5, firstRow: 1, rowStride: 2)
        let even = CopyFusion.Rows(concat: 13, firstRow: 0, rowStride: 2)
        #expect(fusion.inConcatenation == [3: odd, 4: odd, 5: odd, 8: even, 9: even])
        #expect(fusion.shuffleAfter == [5: 2, 13: 2])
    }

    @Test(arguments: [1, 40])
    func branchesComputedInTheConcatenationEqualTheOpByOpRun(images: Int) throws {
        let graph = Self.branchGraph()
        var values = TestValues(seed: 100 + UInt64(images))
        // 40 images: 360 values per channel plane (several SIMD blocks).
        let x = Tensor(shape: [4, 3, 3, images], scalars: values.array(36 * images).map { 4 * $0 })
        let executor = FloatExecutor(graph: graph, threads: 2)
        let fused = try executor.run(x)
        let opByOp = executor.runKeepingAll(x)
        #expect(fused.shape == [10, images])
        #expect(fused.scalars == opByOp[18].scalars)
        // Independent check of output 0: cat3's channel 0 is cat2's shuffled channel 0, hard-swish
        // of pwA's channel 0 on the unit [in0, r0, in1, r1], r = relu(bn(pw(in2, in3))).
        guard case .conv2d(_, let w, let b?) = graph.ops[2].kind, case .batchNorm(let norm) = graph.ops[3].kind,
              case .conv2d(_, let wA, _) = graph.ops[7].kind else { Issue.record("graph"); return }
        let hardSwish: (Float) -> Float = { $0 * min(max($0 + 3, 0), 6) / 6 }
        for n in 0..<images {
            var sum: Float = 0
            for pixel in 0..<9 {
                let input = (0..<4).map { x.scalars[($0 * 9 + pixel) * images + n] }
                let r = (0..<2).map { o in
                    max((w[o * 2] * input[2] + w[o * 2 + 1] * input[3] + b[o]) * norm.scale[o] + norm.shift[o], 0)
                }
                let unit = [input[0], r[0], input[1], r[1]]
                sum += hardSwish((0..<4).reduce(Float(0)) { $0 + wA[$1] * unit[$1] })
            }
            #expect(abs(fused.scalars[n] - sum / 9) <= 1e-5)
        }
    }

    @Test(arguments: [1, 5])
    func fusedRunEqualsOpByOpRun(images: Int) throws {
        let executor = FloatExecutor(graph: Self.unitGraph(), threads: 2)
        var values = TestValues(seed: UInt64(images))
        let x = Tensor(shape: [4, 3, 3, images], scalars: values.array(36 * images))
        let fused = try executor.run(x)
        let opByOp = executor.runKeepingAll(x)
        #expect(fused.shape == [7, images])
        #expect(fused.scalars == opByOp[10].scalars)
        // With an observer nothing is fused, and every op's output is seen.
        var seen = 0
        let observed = try executor.run(x, observe: { i, t in
            #expect(t == opByOp[i], "op \(i)")
            seen += 1
        })
        #expect(observed == fused && seen == 11)
        // Independent check: the shuffled unit is [in0, pw0, in1, pw1], so channel 2 of the
        // last concatenation ([pw1, relu pw0, relu in1, in0, pw0, in1, pw1]) averages relu(in1).
        let pooled = (0..<images).map { n in (0..<9).map { max(x.scalars[(9 + $0) * images + n], 0) }.reduce(0, +) / 9 }
        for n in 0..<images {
            #expect(abs(fused.scalars[2 * images + n] - pooled[n]) <= 1e-6)
        }
    }
}

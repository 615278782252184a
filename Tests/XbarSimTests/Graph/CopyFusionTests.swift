import Testing
@testable import XbarSim
@testable import XbarSimGraph

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

    @Test func planFusesOnlyWhatItMay() {
        let fusion = CopyFusion(Self.unitGraph())
        // s1 feeds only the concatenation; s2 a pointwise convolution (read in place); s3 a ReLU;
        // s4 a concatenation.
        #expect(fusion.sliceIsView == [true, true, false, false, false, false, false, true, false, false, false])
        #expect(fusion.shuffleAfter == [3: 2])
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

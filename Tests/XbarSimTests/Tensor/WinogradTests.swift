import Testing
@testable import XbarSim
@testable import XbarSimTensor
@testable import XbarSimGraph

/// `[Cout, OH, OW, N]` output of the im2col + GEMM path alone (no Winograd), no bias.
func im2colConv2d(_ x: Tensor, weight: [Float], g: Conv2DGeometry, threads: Int) -> Tensor {
    let n = x.shape[3]
    return Tensor(shape: [g.outChannels, g.outHeight, g.outWidth, n]) { out in
        x.scalars.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                Kernels.im2colConvolution(x, w, out, g, images: n, threads: threads)
            }
        }
    }
}

/// `[Cout, OH, OW, N]` output of Winograd F(2x2, 3x3) alone, no bias.
func winogradConv2d(_ x: Tensor, weight: [Float], g: Conv2DGeometry, threads: Int) -> Tensor {
    let n = x.shape[3]
    return Tensor(shape: [g.outChannels, g.outHeight, g.outWidth, n]) { out in
        x.scalars.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                Kernels.winogradConvolution(x, w, out, g, images: n, threads: threads)
            }
        }
    }
}

/// Largest absolute difference over the largest absolute reference value.
func relativeError(_ y: [Float], _ reference: [Double]) -> Double {
    let scale = reference.map(abs).max() ?? 0
    let worst = zip(y, reference).map { abs(Double($0) - $1) }.max() ?? 0
    return worst / max(scale, 1e-30)
}

struct WinogradTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var g: Conv2DGeometry
        var images: Int
        var testDescription: String {
            "\(g.inChannels)->\(g.outChannels) \(g.inHeight)x\(g.inWidth) pad \(g.paddingHeight),\(g.paddingWidth) N=\(images)"
        }
    }

    static func conv(_ cin: Int, _ cout: Int, _ h: Int, _ w: Int, pad: (Int, Int), n: Int) -> Case {
        Case(g: Conv2DGeometry(inChannels: cin, outChannels: cout, kernel: (3, 3), padding: pad, input: (h, w)),
             images: n)
    }

    static let cases: [Case] = [
        conv(1, 1, 3, 3, pad: (0, 0), n: 1),       // a single output
        conv(1, 3, 5, 7, pad: (1, 1), n: 1),       // odd map, batch 1
        conv(3, 8, 9, 9, pad: (1, 1), n: 5),       // odd outputs: half tiles on both edges
        conv(4, 5, 8, 6, pad: (0, 0), n: 9),       // padding 0, even outputs, N not a multiple of 8
        conv(7, 2, 6, 5, pad: (0, 1), n: 8),       // mixed padding
        conv(2, 3, 1, 1, pad: (1, 1), n: 3),       // 1x1 map: the kernel mostly outside
        conv(130, 17, 5, 6, pad: (1, 1), n: 3),    // many input channels
        conv(16, 130, 4, 4, pad: (1, 1), n: 11),   // many output channels
        conv(5, 4, 7, 4, pad: (2, 2), n: 2),       // padding wider than the kernel's half
    ]

    @Test(arguments: cases, [1, 2])
    func matchesDirectLoopAndIm2col(c: Case, threads: Int) {
        let (g, n) = (c.g, c.images)
        #expect(Kernels.usesWinograd(g))
        var values = TestValues(seed: UInt64(g.inChannels * 131 + g.outChannels * 7 + n))
        let inputNCHW = values.array(n * g.inChannels * g.inHeight * g.inWidth)
        let weight = values.array(g.outChannels * g.fanIn)
        let x = Tensor(shape: [n, g.inChannels, g.inHeight, g.inWidth], scalars: inputNCHW).movingFirstAxisToLast()
        let reference = referenceConv2d(input: inputNCHW, n: n, weight: weight, bias: nil, g: g)
        let winograd = winogradConv2d(x, weight: weight, g: g, threads: threads)
        let im2col = im2colConv2d(x, weight: weight, g: g, threads: threads)
        #expect(winograd.shape == [g.outChannels, g.outHeight, g.outWidth, n])
        let vsReference = relativeError(winograd.movingLastAxisToFirst().scalars, reference)
        #expect(vsReference <= 1e-5, "Winograd vs double reference: \(vsReference)")
        let vsIm2col = relativeError(winograd.scalars, im2col.scalars.map(Double.init))
        #expect(vsIm2col <= 1e-5, "Winograd vs im2col: \(vsIm2col)")
        // conv2d takes the Winograd path for these geometries (unless XBARSIM_CONV=im2col) and adds the bias.
        let bias = values.array(g.outChannels)
        let y = Kernels.conv2d(x, weight: weight, bias: bias, geometry: g, threads: threads)
        let expected = Tensor(shape: winograd.shape) { out in
            let plane = winograd.count / g.outChannels
            for k in 0..<winograd.count { out[k] = winograd.scalars[k] + bias[k / plane] }
        }
        #expect(relativeError(y.scalars, expected.scalars.map(Double.init)) <= 1e-6)
    }

    @Test func chunksOfTileRowsCoverTheWholeOutput() {
        // 16 channels, 17x17 outputs (9 tile rows): the budget allows 4 tile rows per chunk.
        let g = Conv2DGeometry(inChannels: 16, outChannels: 4, kernel: (3, 3), padding: (1, 1), input: (17, 17))
        let tilesW = (g.outWidth + 1) / 2
        let n = Kernels.winogradBudget / (16 * 16 * tilesW * 4) + 1
        let chunk = Kernels.winogradBudget / (16 * 16 * tilesW * n)
        #expect(chunk >= 1 && chunk < (g.outHeight + 1) / 2, "chunk of \(chunk) tile rows")
        var values = TestValues(seed: 15)
        let inputNCHW = values.array(n * g.inChannels * g.inHeight * g.inWidth)
        let weight = values.array(g.outChannels * g.fanIn)
        let x = Tensor(shape: [n, g.inChannels, g.inHeight, g.inWidth], scalars: inputNCHW).movingFirstAxisToLast()
        let reference = referenceConv2d(input: inputNCHW, n: n, weight: weight, bias: nil, g: g)
        let y = winogradConv2d(x, weight: weight, g: g, threads: 2).movingLastAxisToFirst()
        #expect(relativeError(y.scalars, reference) <= 1e-5)
    }

    /// Weights transformed once (`winogradWeights(_:geometry:)`, what a prepared `FloatExecutor`
    /// keeps) give `conv2d` the same bits as transforming them on the call; geometries without
    /// Winograd get none. A float executor with prepared weights runs a two-convolution
    /// network to the same bits as one without, batch after batch.
    @Test func weightsTransformedOnceGiveTheSameBits() throws {
        let g = Conv2DGeometry(inChannels: 6, outChannels: 5, kernel: (3, 3), padding: (1, 1), input: (7, 6))
        var values = TestValues(seed: 77)
        let weight = values.array(g.outChannels * g.fanIn), bias = values.array(g.outChannels)
        let x = Tensor(shape: [6, 7, 6, 4], scalars: values.array(6 * 42 * 4))
        let u = try #require(Kernels.winogradWeights(weight, geometry: g))
        #expect(u.count == 16 * 5 * 6)
        let once = Kernels.conv2d(x, weight: weight, bias: bias, geometry: g, threads: 2, transformedWeights: u)
        #expect(once == Kernels.conv2d(x, weight: weight, bias: bias, geometry: g, threads: 2))
        let strided = Conv2DGeometry(inChannels: 6, outChannels: 5, kernel: (3, 3), stride: (2, 2), padding: (1, 1),
                                     input: (7, 6))
        #expect(Kernels.winogradWeights(weight, geometry: strided) == nil)

        let second = Conv2DGeometry(inChannels: 5, outChannels: 3, kernel: (3, 3), padding: (1, 1), input: (7, 6))
        let graph = Graph(inputShape: [6, 7, 6], ops: [
            Op(name: "c1", path: "", kind: .conv2d(geometry: g, weight: weight, bias: bias), inputs: [0], outputShape: [5, 7, 6]),
            Op(name: "r", path: "", kind: .relu, inputs: [1], outputShape: [5, 7, 6]),
            Op(name: "c2", path: "", kind: .conv2d(geometry: second, weight: values.array(3 * 45), bias: nil),
               inputs: [2], outputShape: [3, 7, 6]),
            Op(name: "c3", path: "", kind: .conv2d(geometry: strided, weight: values.array(5 * 54), bias: nil),
               inputs: [0], outputShape: [5, 4, 3]),
            Op(name: "g", path: "", kind: .globalAveragePool, inputs: [3], outputShape: [3, 1, 1]),
            Op(name: "f", path: "", kind: .flatten, inputs: [5], outputShape: [3]),
        ], outputIndex: 5)
        let prepared = FloatExecutor(graph: graph, threads: 2, preparingWeights: true)
        #expect(prepared.transformedWeights.keys.sorted() == (Kernels.winogradAllowed ? [0, 2] : []))
        let plain = FloatExecutor(graph: graph, threads: 2)
        #expect(plain.transformedWeights.isEmpty)
        for batch in 0..<2 {
            let input = Tensor(shape: [6, 7, 6, 3], scalars: values.array(6 * 42 * 3))
            #expect(try prepared.run(input) == (try plain.run(input)), "batch \(batch)")
        }
    }

    @Test func otherGeometriesKeepIm2col() {
        let strided = Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1),
                                     input: (8, 8))
        let dilated = Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (3, 3), padding: (2, 2),
                                     dilation: (2, 2), input: (8, 8))
        let grouped = Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (3, 3), padding: (1, 1), groups: 2,
                                     input: (8, 8))
        let fiveByFive = Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (5, 5), padding: (2, 2), input: (8, 8))
        let regular = Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (3, 3), padding: (1, 1), input: (8, 8))
        #expect(!Kernels.usesWinograd(strided) && !Kernels.usesWinograd(dilated))
        #expect(!Kernels.usesWinograd(grouped) && !Kernels.usesWinograd(fiveByFive))
        #expect(Kernels.usesWinograd(regular))
    }
}

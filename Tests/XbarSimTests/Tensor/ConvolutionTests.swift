import Testing
@testable import XbarSim

/// Direct 7-loop convolution in double precision on NCHW data: the reference the
/// BLAS and depthwise paths are checked against (no BLAS here).
func referenceConv2d(input: [Float], n: Int, weight: [Float], bias: [Float]?, g: Conv2DGeometry) -> [Double] {
    var out = [Double](repeating: 0, count: n * g.outChannels * g.outHeight * g.outWidth)
    for image in 0..<n {
        for o in 0..<g.outChannels {
            let group = o / g.outChannelsPerGroup
            for y in 0..<g.outHeight {
                for x in 0..<g.outWidth {
                    var s = Double(bias?[o] ?? 0)
                    for ci in 0..<g.channelsPerGroup {
                        let c = group * g.channelsPerGroup + ci
                        for ki in 0..<g.kernelHeight {
                            for kj in 0..<g.kernelWidth {
                                let iy = y * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
                                let ix = x * g.strideWidth - g.paddingWidth + kj * g.dilationWidth
                                guard iy >= 0, iy < g.inHeight, ix >= 0, ix < g.inWidth else { continue }
                                let xv = input[((image * g.inChannels + c) * g.inHeight + iy) * g.inWidth + ix]
                                let wv = weight[((o * g.channelsPerGroup + ci) * g.kernelHeight + ki) * g.kernelWidth + kj]
                                s += Double(xv) * Double(wv)
                            }
                        }
                    }
                    out[((image * g.outChannels + o) * g.outHeight + y) * g.outWidth + x] = s
                }
            }
        }
    }
    return out
}

struct ConvolutionTests {
    @Test func handComputedTwoByTwoKernel() {
        // 1 channel, 3x3 input 1...9, kernel [[1, 0], [0, -1]], no padding: out[y][x] = in[y][x] - in[y+1][x+1] = -4.
        let g = Conv2DGeometry(inChannels: 1, outChannels: 1, kernel: (2, 2), input: (3, 3))
        let x = Tensor(shape: [1, 3, 3, 1], scalars: (1...9).map(Float.init))
        let y = Kernels.conv2d(x, weight: [1, 0, 0, -1], bias: [0.5], geometry: g, threads: 1)
        #expect(y.shape == [1, 2, 2, 1])
        #expect(y.scalars == [-3.5, -3.5, -3.5, -3.5])
    }

    static let geometries: [Conv2DGeometry] = [
        // stem: regular 3x3, padding 1
        Conv2DGeometry(inChannels: 3, outChannels: 8, kernel: (3, 3), padding: (1, 1), input: (9, 9)),
        // regular, stride 2, non-square kernel and input
        Conv2DGeometry(inChannels: 4, outChannels: 5, kernel: (3, 2), stride: (2, 2), padding: (1, 0), input: (7, 6)),
        // grouped
        Conv2DGeometry(inChannels: 6, outChannels: 4, kernel: (3, 3), padding: (1, 1), groups: 2, input: (5, 5)),
        // depthwise 3x3 stride 1 and 5x5 stride 2 (the MobileNetV3 cases)
        Conv2DGeometry(inChannels: 5, outChannels: 5, kernel: (3, 3), padding: (1, 1), groups: 5, input: (8, 8)),
        Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (5, 5), stride: (2, 2), padding: (2, 2), groups: 4, input: (8, 8)),
        // depthwise on a 1x1 map (kernel mostly outside the image)
        Conv2DGeometry(inChannels: 3, outChannels: 3, kernel: (5, 5), padding: (2, 2), groups: 3, input: (1, 1)),
        // depthwise, dilated (generic path)
        Conv2DGeometry(inChannels: 3, outChannels: 3, kernel: (3, 3), padding: (2, 2), dilation: (2, 2), groups: 3, input: (6, 6)),
        // pointwise
        Conv2DGeometry(inChannels: 7, outChannels: 3, kernel: (1, 1), input: (4, 4)),
    ]

    @Test(arguments: geometries, [1, 2])
    func matchesDirectLoop(g: Conv2DGeometry, threads: Int) {
        let n = 3
        var values = TestValues(seed: UInt64(g.inChannels * 31 + g.kernelHeight))
        let inputNCHW = values.array(n * g.inChannels * g.inHeight * g.inWidth)
        let weight = values.array(g.outChannels * g.fanIn)
        let bias = values.array(g.outChannels)
        let expected = referenceConv2d(input: inputNCHW, n: n, weight: weight, bias: bias, g: g)
        let x = Tensor(shape: [n, g.inChannels, g.inHeight, g.inWidth], scalars: inputNCHW).movingFirstAxisToLast()
        let y = Kernels.conv2d(x, weight: weight, bias: bias, geometry: g, threads: threads).movingLastAxisToFirst()
        #expect(y.shape == [n, g.outChannels, g.outHeight, g.outWidth])
        let worst = zip(y.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * Double(g.fanIn), "worst abs error \(worst)")
    }

    /// A regular convolution is the pointwise one (`W · unfolded`) of its unfolded input.
    @Test(arguments: geometries.filter { $0.groups == 1 && !$0.isPointwise })
    func unfoldedInputMakesTheConvolutionPointwise(g: Conv2DGeometry) {
        let n = 3
        var values = TestValues(seed: UInt64(g.inChannels * 17 + g.kernelWidth))
        let inputNCHW = values.array(n * g.inChannels * g.inHeight * g.inWidth)
        let weight = values.array(g.outChannels * g.fanIn)
        let expected = referenceConv2d(input: inputNCHW, n: n, weight: weight, bias: nil, g: g)
        let x = Tensor(shape: [n, g.inChannels, g.inHeight, g.inWidth], scalars: inputNCHW).movingFirstAxisToLast()
        let cols = Kernels.unfolded(x, geometry: g, threads: 2)
        #expect(cols.shape == [g.fanIn, g.outHeight, g.outWidth, n])
        let pointwise = Conv2DGeometry(inChannels: g.fanIn, outChannels: g.outChannels, kernel: (1, 1),
                                       input: (g.outHeight, g.outWidth))
        let y = Kernels.conv2d(cols, weight: weight, bias: nil, geometry: pointwise, threads: 1).movingLastAxisToFirst()
        let worst = zip(y.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * Double(g.fanIn), "worst abs error \(worst)")
    }

    @Test func im2colChunkingCoversBatchesLargerThanOneChunk() {
        // Enough images that the im2col budget forces several chunks of output rows.
        let g = Conv2DGeometry(inChannels: 2, outChannels: 3, kernel: (3, 3), padding: (1, 1), input: (32, 32))
        let n = Kernels.im2colBudget / (g.fanIn * 1024) * 2 + 3
        var values = TestValues(seed: 7)
        let inputNCHW = values.array(n * 2 * 1024)
        let weight = values.array(3 * g.fanIn)
        let expected = referenceConv2d(input: inputNCHW, n: n, weight: weight, bias: nil, g: g)
        let x = Tensor(shape: [n, 2, 32, 32], scalars: inputNCHW).movingFirstAxisToLast()
        // conv2d takes the Winograd path for this geometry; the im2col path is checked directly.
        let y = Kernels.conv2d(x, weight: weight, bias: nil, geometry: g, threads: 2).movingLastAxisToFirst()
        let worst = zip(y.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst <= 1e-4)
        let z = im2colConv2d(x, weight: weight, g: g, threads: 2).movingLastAxisToFirst()
        let worstIm2col = zip(z.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worstIm2col <= 1e-4)
    }

    @Test func geometryArithmetic() {
        let g = Conv2DGeometry(inChannels: 16, outChannels: 16, kernel: (3, 3), stride: (2, 2), padding: (1, 1),
                               groups: 16, input: (32, 32))
        #expect(g.outHeight == 16 && g.outWidth == 16)
        #expect(g.isDepthwise && !g.isPointwise)
        #expect(g.fanIn == 9)
        #expect(g.macsPerImage == 16 * 16 * 16 * 9)
    }
}

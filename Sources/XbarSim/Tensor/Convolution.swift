/// Shape of a 2-D convolution over one image (PyTorch `Conv2d` semantics).
public struct Conv2DGeometry: Sendable, Hashable, Codable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int
    public var dilationHeight: Int
    public var dilationWidth: Int
    public var groups: Int
    public var inHeight: Int
    public var inWidth: Int

    public init(
        inChannels: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, input: (Int, Int)
    ) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = stride
        (paddingHeight, paddingWidth) = padding
        (dilationHeight, dilationWidth) = dilation
        self.groups = groups
        (inHeight, inWidth) = input
    }

    public var outHeight: Int { (inHeight + 2 * paddingHeight - dilationHeight * (kernelHeight - 1) - 1) / strideHeight + 1 }
    public var outWidth: Int { (inWidth + 2 * paddingWidth - dilationWidth * (kernelWidth - 1) - 1) / strideWidth + 1 }
    /// Input channels seen by one output channel.
    public var channelsPerGroup: Int { inChannels / groups }
    public var outChannelsPerGroup: Int { outChannels / groups }
    /// Length of one output channel's receptive field (`in/groups * kh * kw`): a crossbar's row count.
    public var fanIn: Int { channelsPerGroup * kernelHeight * kernelWidth }
    public var isDepthwise: Bool { groups == inChannels && groups == outChannels && groups > 1 }
    public var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && paddingHeight == 0 && paddingWidth == 0 && groups == 1
    }
    /// Multiply-accumulates per image.
    public var macsPerImage: Int { outChannels * outHeight * outWidth * fanIn }
}

extension Kernels {
    /// Upper bound on the floats of one im2col buffer; the batch is split into chunks to respect it.
    public static let im2colBudget = 1 << 21

    /// 2-D convolution of a `[C, H, W, N]` batch.
    ///
    /// - Parameters:
    ///   - weight: `(outChannels, inChannels/groups, kh, kw)` row-major, PyTorch layout.
    ///   - bias: `outChannels` values, or nil.
    /// - Returns: `[outChannels, outHeight, outWidth, N]`.
    ///
    /// Regular 3x3 stride-1 undilated convolutions run as Winograd F(2x2, 3x3) (see
    /// `winogradConvolution`); other regular and grouped ones as im2col + `cblas_sgemm`
    /// (pointwise ones as one GEMM with no copy); depthwise ones as a direct loop over kernel taps whose
    /// inner loop runs over the images, which BLAS cannot speed up.
    ///
    /// `transformedWeights`: this layer's `winogradWeights(_:geometry:)`, computed once by the
    /// caller (nil: computed here when Winograd is used).
    public static func conv2d(
        _ input: Tensor, weight: [Float], bias: [Float]?, geometry g: Conv2DGeometry, threads: Int,
        transformedWeights: [Float]? = nil
    ) -> Tensor {
        precondition(input.shape.count == 4 && input.shape[0] == g.inChannels
            && input.shape[1] == g.inHeight && input.shape[2] == g.inWidth, "input \(input.shape) vs \(g)")
        precondition(weight.count == g.outChannels * g.fanIn)
        let n = input.shape[3]
        let outPlane = g.outHeight * g.outWidth
        var output = Tensor(shape: [g.outChannels, g.outHeight, g.outWidth, n]) { out in
            input.scalars.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    if g.isPointwise {
                        BLAS.sgemm(m: g.outChannels, n: n * outPlane, k: g.inChannels,
                                   a: w.baseAddress!, lda: g.inChannels, b: x.baseAddress!, ldb: n * outPlane,
                                   c: out.baseAddress!, ldc: n * outPlane)
                    } else if g.isDepthwise && g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideHeight == 1
                                && g.strideWidth == 1 && g.paddingHeight == 0 && g.paddingWidth == 0 {
                        // Per-channel scaling (one device per channel, e.g. a batch-norm stage).
                        let inner = n * g.inHeight * g.inWidth
                        let box = UncheckedSendable((x, w, out))
                        Parallel.forEachChunk(g.inChannels, threads: threads) { channels in
                            let (x, w, out) = box.value
                            for c in channels {
                                let f = w[c]
                                for k in (c * inner)..<((c + 1) * inner) { out[k] = f * x[k] }
                            }
                        }
                    } else if g.isDepthwise {
                        depthwise(x, w, out, g, images: n, threads: threads)
                    } else if winogradAllowed && usesWinograd(g) {
                        winogradConvolution(x, w, out, g, images: n, threads: threads, transformed: transformedWeights)
                    } else {
                        im2colConvolution(x, w, out, g, images: n, threads: threads)
                    }
                }
            }
        }
        if let bias { addChannelBias(&output, bias, threads: threads) }
        return output
    }

    /// Pointwise (1x1, stride 1, ungrouped) convolution of input channels `channels` of
    /// `input` (a channel slice read in place: one contiguous block of `[C, H, W, N]`).
    public static func pointwiseConv2d(
        _ input: Tensor, channels: Range<Int>, weight: [Float], bias: [Float]?, geometry g: Conv2DGeometry
    ) -> Tensor {
        var output = Tensor(shape: [g.outChannels, g.outHeight, g.outWidth, input.shape.count == 4 ? input.shape[3] : 0],
                            filling: { _ in })
        pointwiseConv2d(input, channels: channels, weight: weight, bias: bias, geometry: g, into: &output, firstRow: 0,
                        rowStride: 1)
        return output
    }

    /// `pointwiseConv2d` written into rows of a bigger `[C', H, W, N]` batch `out`: output
    /// channel `o` becomes row `firstRow + o·rowStride` (a concatenation's channels, shuffled
    /// or not), the GEMM's `ldc` doing the spacing; the bias is added to those rows. The values
    /// are `pointwiseConv2d`'s, bit for bit.
    public static func pointwiseConv2d(
        _ input: Tensor, channels: Range<Int>, weight: [Float], bias: [Float]?, geometry g: Conv2DGeometry,
        into out: inout Tensor, firstRow: Int, rowStride: Int
    ) {
        precondition(g.isPointwise && channels.count == g.inChannels && channels.upperBound <= input.shape[0]
            && input.shape.count == 4 && input.shape[1] == g.inHeight && input.shape[2] == g.inWidth)
        precondition(weight.count == g.outChannels * g.inChannels && rowStride > 0)
        let n = input.shape[3]
        let plane = g.inHeight * g.inWidth * n
        precondition(out.shape.count == 4 && Array(out.shape.dropFirst()) == [g.outHeight, g.outWidth, n]
            && firstRow >= 0 && firstRow + (g.outChannels - 1) * rowStride < out.shape[0])
        input.scalars.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                out.scalars.withUnsafeMutableBufferPointer { o in
                    guard let xs = x.baseAddress, let ws = w.baseAddress, let os = o.baseAddress else { return }
                    BLAS.sgemm(m: g.outChannels, n: plane, k: g.inChannels, a: ws, lda: g.inChannels,
                               b: xs + channels.lowerBound * plane, ldb: plane, c: os + firstRow * plane,
                               ldc: rowStride * plane)
                }
            }
        }
        if let bias {
            forEachChannelRow(&out, firstRow: firstRow, rowStride: rowStride, channels: g.outChannels, threads: 1) { o, row, count in
                let b = bias[o]
                for k in 0..<count { row[k] += b }
            }
        }
    }

    /// Convolution over the receptive-field rows `inputRows` only (a row tile of a
    /// crossbar): `weight` is `outChannels x inputRows.count`; other rows count as zero
    /// weights. Regular (`groups == 1`) convolutions only, unless `inputRows` is every row.
    public static func conv2d(
        _ input: Tensor, weight: [Float], bias: [Float]?, geometry g: Conv2DGeometry, inputRows: Range<Int>, threads: Int
    ) -> Tensor {
        if inputRows == 0..<g.fanIn { return conv2d(input, weight: weight, bias: bias, geometry: g, threads: threads) }
        precondition(g.groups == 1 && weight.count == g.outChannels * inputRows.count && inputRows.upperBound <= g.fanIn)
        let n = input.shape[3]
        let plane = g.outHeight * g.outWidth
        var output = Tensor(shape: [g.outChannels, g.outHeight, g.outWidth, n]) { out in
            guard !inputRows.isEmpty else { return out.update(repeating: 0) }
            input.scalars.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    if g.isPointwise {
                        BLAS.sgemm(m: g.outChannels, n: n * plane, k: inputRows.count,
                                   a: w.baseAddress!, lda: inputRows.count,
                                   b: x.baseAddress! + inputRows.lowerBound * n * plane, ldb: n * plane,
                                   c: out.baseAddress!, ldc: n * plane)
                    } else {
                        im2colConvolution(x, w, out, g, images: n, rows: inputRows, threads: threads)
                    }
                }
            }
        }
        if let bias { addChannelBias(&output, bias, threads: threads) }
        return output
    }

    static func im2colConvolution(
        _ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<Float>,
        _ g: Conv2DGeometry, images n: Int, rows inputRows: Range<Int>? = nil, threads: Int
    ) {
        let selected = inputRows ?? 0..<g.fanIn
        let rows = selected.count
        let rowWidth = g.outWidth * n                    // columns per output row
        let total = g.outHeight * rowWidth
        // Chunks of whole output rows: their columns are contiguous in the [O, OH, OW, N] output.
        let chunkRows = max(1, min(g.outHeight, im2colBudget / max(1, rows * rowWidth)))
        var cols = [Float](repeating: 0, count: rows * chunkRows * rowWidth)
        cols.withUnsafeMutableBufferPointer { cols in
            var y0 = 0
            while y0 < g.outHeight {
                let m = min(chunkRows, g.outHeight - y0)
                for group in 0..<g.groups {
                    im2col(x, into: cols, g, group: group, outputRows: y0..<(y0 + m), images: n, rows: selected,
                           threads: threads)
                    let og = g.outChannelsPerGroup
                    BLAS.sgemm(m: og, n: m * rowWidth, k: rows,
                               a: w.baseAddress! + group * og * rows, lda: rows,
                               b: cols.baseAddress!, ldb: m * rowWidth,
                               c: out.baseAddress! + group * og * total + y0 * rowWidth, ldc: total)
                }
                y0 += m
            }
        }
    }

    /// The receptive fields of a `[C, H, W, N]` batch for a regular (`groups == 1`)
    /// convolution, `[fanIn, outHeight, outWidth, N]` (im2col over the whole batch): the
    /// convolution is then a pointwise one, `W · unfolded`.
    public static func unfolded(_ input: Tensor, geometry g: Conv2DGeometry, threads: Int) -> Tensor {
        precondition(g.groups == 1 && input.shape.count == 4 && input.shape[0] == g.inChannels
            && input.shape[1] == g.inHeight && input.shape[2] == g.inWidth, "input \(input.shape) vs \(g)")
        let n = input.shape[3]
        return Tensor(shape: [g.fanIn, g.outHeight, g.outWidth, n]) { cols in
            input.scalars.withUnsafeBufferPointer { x in
                im2col(x, into: cols, g, group: 0, outputRows: 0..<g.outHeight, images: n, threads: threads)
            }
        }
    }

    /// Unfolds the receptive fields of output rows `outputRows` for one group into `cols`:
    /// row `(ci*kh + ki)*kw + kj`, column `((oh − first)*outW + ow)*N + image`.
    static func im2col(
        _ x: UnsafeBufferPointer<Float>, into cols: UnsafeMutableBufferPointer<Float>, _ g: Conv2DGeometry,
        group: Int, outputRows: Range<Int>, images n: Int, rows: Range<Int>? = nil, threads: Int
    ) {
        let selected = rows ?? 0..<g.fanIn
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let ow = g.outWidth
        let (ih, iw) = (g.inHeight, g.inWidth)
        let width = outputRows.count * ow * n
        let box = UncheckedSendable((x, cols))
        Parallel.forEach(selected.count, threads: threads) { index in
            let (x, cols) = box.value
            let row = selected.lowerBound + index
            let kj = row % kw
            let ki = (row / kw) % kh
            let ci = row / (kw * kh) + group * g.channelsPerGroup
            let dst = cols.baseAddress! + index * width
            let src = x.baseAddress! + ci * ih * iw * n
            for (r, y) in outputRows.enumerated() {
                let iy = y * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
                for xo in 0..<ow {
                    let o = dst + (r * ow + xo) * n
                    let ix = xo * g.strideWidth - g.paddingWidth + kj * g.dilationWidth
                    if iy < 0 || iy >= ih || ix < 0 || ix >= iw {
                        o.update(repeating: 0, count: n)
                    } else {
                        o.update(from: src + (iy * iw + ix) * n, count: n)
                    }
                }
            }
        }
    }

    /// Depthwise convolution: each channel of each image filtered by its own kernel.
    ///
    /// Images are innermost, so every kernel tap is a vector update of length N; padding
    /// is handled by visiting only the taps that fall inside the image. Blocks of 32
    /// images stay in registers across all taps of an output pixel.
    static func depthwise(
        _ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<Float>,
        _ g: Conv2DGeometry, images n: Int, threads: Int
    ) {
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let (oh, ow) = (g.outHeight, g.outWidth)
        let (ih, iw) = (g.inHeight, g.inWidth)
        let box = UncheckedSendable((x, w, out))
        Parallel.forEachChunk(g.inChannels, threads: threads) { channels in
            let (x, w, out) = box.value
            var offsets: [(Int, Float)] = []
            offsets.reserveCapacity(kh * kw)
            for c in channels {
                let src = x.baseAddress! + c * ih * iw * n
                let taps = w.baseAddress! + c * kh * kw
                for y in 0..<oh {
                    for xo in 0..<ow {
                        let o = out.baseAddress! + ((c * oh + y) * ow + xo) * n
                        offsets.removeAll(keepingCapacity: true)   // the taps inside the image
                        for ki in 0..<kh {
                            let iy = y * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
                            guard iy >= 0 && iy < ih else { continue }
                            for kj in 0..<kw {
                                let ix = xo * g.strideWidth - g.paddingWidth + kj * g.dilationWidth
                                guard ix >= 0 && ix < iw else { continue }
                                offsets.append(((iy * iw + ix) * n, taps[ki * kw + kj]))
                            }
                        }
                        accumulateTaps(src, offsets, into: o, count: n)
                    }
                }
            }
        }
    }

    /// `o[k] = Σ_t weight_t · src[offset_t + k]` for `k < count`.
    @inline(__always)
    static func accumulateTaps(
        _ src: UnsafePointer<Float>, _ taps: [(Int, Float)], into o: UnsafeMutablePointer<Float>, count n: Int
    ) {
        var k = 0
        taps.withUnsafeBufferPointer { taps in
            while k + 32 <= n {
                var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
                for (offset, weight) in taps {
                    let wv = SIMD8<Float>(repeating: weight)
                    let p = UnsafeRawPointer(src + offset + k)
                    s0 += wv * p.loadUnaligned(as: SIMD8<Float>.self)
                    s1 += wv * p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    s2 += wv * p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                    s3 += wv * p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                }
                let q = UnsafeMutableRawPointer(o + k)
                q.storeBytes(of: s0, as: SIMD8<Float>.self)
                q.storeBytes(of: s1, toByteOffset: 32, as: SIMD8<Float>.self)
                q.storeBytes(of: s2, toByteOffset: 64, as: SIMD8<Float>.self)
                q.storeBytes(of: s3, toByteOffset: 96, as: SIMD8<Float>.self)
                k += 32
            }
            while k < n {
                var s: Float = 0
                for (offset, weight) in taps { s += weight * src[offset + k] }
                o[k] = s
                k += 1
            }
        }
    }

    /// Adds `bias[c]` to every element of channel `c` of a `[C, ...]` tensor.
    public static func addChannelBias(_ t: inout Tensor, _ bias: [Float], threads: Int) {
        let c = t.shape[0]
        precondition(bias.count == c)
        let inner = t.count / max(1, c)
        t.scalars.withUnsafeMutableBufferPointer { buf in
            let box = UncheckedSendable(buf.baseAddress!)
            Parallel.forEachChunk(c, threads: threads) { channels in
                let p = box.value
                for ch in channels {
                    let b = bias[ch]
                    let row = p + ch * inner
                    for k in 0..<inner { row[k] += b }
                }
            }
        }
    }
}

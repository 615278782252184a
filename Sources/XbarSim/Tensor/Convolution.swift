/// Shape of a 2-D convolution over one image (PyTorch `Conv2d` semantics).
public struct Conv2DGeometry: Sendable, Hashable, Codable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var stride: (Int, Int) { (strideHeight, strideWidth) }
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
    /// One output pixel whose window is the whole unpadded input (1x1 on 1x1, or a global
    /// weighted pooling), so each output is a dot product of one input plane.
    public var isFullWindow: Bool {
        kernelHeight == inHeight && kernelWidth == inWidth && paddingHeight == 0 && paddingWidth == 0
            && dilationHeight == 1 && dilationWidth == 1
    }

    /// Multiply-accumulates per image.
    public var macsPerImage: Int { outChannels * outHeight * outWidth * fanIn }
}

extension Kernels {
    /// Upper bound on the floats of one im2col buffer; the batch is split into chunks to respect it.
    public static let im2colBudget = 1 << 21

    /// 2-D convolution of a `[C, N, H, W]` batch.
    ///
    /// - Parameters:
    ///   - weight: `(outChannels, inChannels/groups, kh, kw)` row-major, PyTorch layout.
    ///   - bias: `outChannels` values, or nil.
    /// - Returns: `[outChannels, N, outHeight, outWidth]`.
    ///
    /// Regular and grouped convolutions run as im2col + `cblas_sgemm` (pointwise ones
    /// as one GEMM with no copy); depthwise ones as a direct loop, which BLAS cannot speed up.
    public static func conv2d(
        _ input: Tensor, weight: [Float], bias: [Float]?, geometry g: Conv2DGeometry, threads: Int
    ) -> Tensor {
        precondition(input.shape.count == 4 && input.shape[0] == g.inChannels
            && input.shape[2] == g.inHeight && input.shape[3] == g.inWidth)
        precondition(weight.count == g.outChannels * g.fanIn)
        let n = input.shape[1]
        let outPlane = g.outHeight * g.outWidth
        var output = Tensor(shape: [g.outChannels, n, g.outHeight, g.outWidth]) { out in
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
                    } else if g.isDepthwise && g.isFullWindow {
                        depthwiseFullWindow(x, w, out, g, images: n, threads: threads)
                    } else if g.isDepthwise && g.dilationHeight == 1 && g.dilationWidth == 1 {
                        depthwise(x, w, out, g, images: n, threads: threads)
                    } else {
                        im2colConvolution(x, w, out, g, images: n, threads: threads)
                    }
                }
            }
        }
        if let bias { addChannelBias(&output, bias, threads: threads) }
        return output
    }

    static func im2colConvolution(
        _ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<Float>,
        _ g: Conv2DGeometry, images n: Int, threads: Int
    ) {
        let rows = g.fanIn
        let outPlane = g.outHeight * g.outWidth
        let chunk = max(1, min(n, im2colBudget / max(1, rows * outPlane)))
        var cols = [Float](repeating: 0, count: rows * chunk * outPlane)
        cols.withUnsafeMutableBufferPointer { cols in
            var n0 = 0
            while n0 < n {
                let m = min(chunk, n - n0)
                for group in 0..<g.groups {
                    im2col(x, into: cols, g, group: group, images: n0..<(n0 + m), batch: n, threads: threads)
                    let og = g.outChannelsPerGroup
                    BLAS.sgemm(m: og, n: m * outPlane, k: rows,
                               a: w.baseAddress! + group * og * rows, lda: rows,
                               b: cols.baseAddress!, ldb: m * outPlane,
                               c: out.baseAddress! + group * og * n * outPlane + n0 * outPlane, ldc: n * outPlane)
                }
                n0 += m
            }
        }
    }

    /// Unfolds the receptive fields of images `images` for one group into `cols`:
    /// row `(ci*kh + ki)*kw + kj`, column `(image*outH + oh)*outW + ow`.
    static func im2col(
        _ x: UnsafeBufferPointer<Float>, into cols: UnsafeMutableBufferPointer<Float>, _ g: Conv2DGeometry,
        group: Int, images: Range<Int>, batch n: Int, threads: Int
    ) {
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let (oh, ow) = (g.outHeight, g.outWidth)
        let (ih, iw) = (g.inHeight, g.inWidth)
        let m = images.count
        let width = m * oh * ow
        let colsBox = UncheckedSendable(cols)
        Parallel.forEach(g.fanIn, threads: threads) { row in
            let cols = colsBox.value
            let kj = row % kw
            let ki = (row / kw) % kh
            let ci = row / (kw * kh) + group * g.channelsPerGroup
            let dst = row * width
            for (j, image) in images.enumerated() {
                let src = (ci * n + image) * ih * iw
                for y in 0..<oh {
                    let iy = y * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
                    let rowBase = dst + (j * oh + y) * ow
                    if iy < 0 || iy >= ih {
                        for xo in 0..<ow { cols[rowBase + xo] = 0 }
                        continue
                    }
                    for xo in 0..<ow {
                        let ix = xo * g.strideWidth - g.paddingWidth + kj * g.dilationWidth
                        cols[rowBase + xo] = (ix >= 0 && ix < iw) ? x[src + iy * iw + ix] : 0
                    }
                }
            }
        }
    }

    /// Depthwise convolution: each channel of each image filtered by its own kernel.
    ///
    /// Per channel, the `[N, H, W]` block is transposed into a zero-padded `[H+2p, W+2p, N]`
    /// buffer (images innermost), so every kernel tap is one long vector update of
    /// length N with no boundary tests; the result is transposed back to `[N, Ho, Wo]`.
    static func depthwise(
        _ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<Float>,
        _ g: Conv2DGeometry, images n: Int, threads: Int
    ) {
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let (oh, ow) = (g.outHeight, g.outWidth)
        let (ih, iw) = (g.inHeight, g.inWidth)
        let (sh, sw) = (g.strideHeight, g.strideWidth)
        let (ph, pw) = (g.paddingHeight, g.paddingWidth)
        let (hp, wp) = (ih + 2 * ph, iw + 2 * pw)
        let box = UncheckedSendable((x, out))
        Parallel.forEachChunk(g.inChannels, threads: threads) { channels in
            let (x, out) = box.value
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: hp * wp * n)
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: oh * ow * n)
            defer {
                padded.deallocate()
                acc.deallocate()
            }
            padded.initialize(repeating: 0, count: hp * wp * n)
            for c in channels {
                let src = x.baseAddress! + c * n * ih * iw
                for image in 0..<n {
                    for y in 0..<ih {
                        let row = src + (image * ih + y) * iw
                        let dst = padded + ((y + ph) * wp + pw) * n + image
                        for xi in 0..<iw { dst[xi * n] = row[xi] }
                    }
                }
                let taps = w.baseAddress! + c * kh * kw
                for y in 0..<oh {
                    for xo in 0..<ow {
                        let o = acc + (y * ow + xo) * n
                        let corner = padded + ((y * sh) * wp + xo * sw) * n
                        // Blocks of 32 images stay in registers across all taps.
                        var k = 0
                        while k + 32 <= n {
                            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    let weight = SIMD8<Float>(repeating: taps[ki * kw + kj])
                                    let p = UnsafeRawPointer(corner + (ki * wp + kj) * n + k)
                                    s0 += weight * p.loadUnaligned(as: SIMD8<Float>.self)
                                    s1 += weight * p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                                    s2 += weight * p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                                    s3 += weight * p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
                                }
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
                            for ki in 0..<kh {
                                for kj in 0..<kw { s += taps[ki * kw + kj] * corner[(ki * wp + kj) * n + k] }
                            }
                            o[k] = s
                            k += 1
                        }
                    }
                }
                let dst = out.baseAddress! + c * n * oh * ow
                for image in 0..<n {
                    for pix in 0..<(oh * ow) { dst[image * oh * ow + pix] = acc[pix * n + image] }
                }
            }
        }
    }

    /// Depthwise convolution whose kernel covers the whole input plane (1x1 maps, global
    /// weighted pooling): `out[c, n] = Σ_p w[c, p]·x[c, n, p]`.
    static func depthwiseFullWindow(
        _ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<Float>,
        _ g: Conv2DGeometry, images n: Int, threads: Int
    ) {
        let plane = g.inHeight * g.inWidth
        let box = UncheckedSendable((x, w, out))
        Parallel.forEachChunk(g.inChannels, threads: threads) { channels in
            let (x, w, out) = box.value
            for c in channels {
                let weights = w.baseAddress! + c * plane
                for image in 0..<n {
                    let src = x.baseAddress! + (c * n + image) * plane
                    var s: Float = 0
                    for p in 0..<plane { s += weights[p] * src[p] }
                    out[c * n + image] = s
                }
            }
        }
    }

    /// Adds `bias[c]` to every element of channel `c` of a `[C, ...]` tensor.
    public static func addChannelBias(_ t: inout Tensor, _ bias: [Float], threads: Int) {
        let c = t.shape[0]
        precondition(bias.count == c)
        let inner = t.count / max(1, c)
        t.scalars.withUnsafeMutableBufferPointer { buf in
            let box = UncheckedSendable(buf)
            Parallel.forEach(c, threads: threads) { ch in
                let b = bias[ch]
                let base = ch * inner
                for k in 0..<inner { box.value[base + k] += b }
            }
        }
    }
}

/// Window of a 2-D max or average pooling over one image (PyTorch `MaxPool2d` /
/// `AvgPool2d` semantics, including `ceil_mode`).
public struct PoolGeometry: Sendable, Hashable, Codable {
    public var channels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int
    public var dilationHeight: Int
    public var dilationWidth: Int
    public var ceilMode: Bool

    public init(
        channels: Int, input: (Int, Int), kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0),
        dilation: (Int, Int) = (1, 1), ceilMode: Bool = false
    ) {
        self.channels = channels
        (inHeight, inWidth) = input
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = stride
        (paddingHeight, paddingWidth) = padding
        (dilationHeight, dilationWidth) = dilation
        self.ceilMode = ceilMode
    }

    /// PyTorch's `pooling_output_shape`: floor (or ceil) of the window count, and with
    /// `ceil_mode` the last window must start inside the input or its left padding.
    static func outputSize(input: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, ceil: Bool) -> Int {
        let span = input + 2 * padding - dilation * (kernel - 1) - 1
        guard span >= 0 else { return 0 }
        var out = (ceil ? (span + stride - 1) / stride : span / stride) + 1
        if ceil && (out - 1) * stride >= input + padding { out -= 1 }
        return out
    }

    public var outHeight: Int {
        Self.outputSize(input: inHeight, kernel: kernelHeight, stride: strideHeight, padding: paddingHeight,
                        dilation: dilationHeight, ceil: ceilMode)
    }
    public var outWidth: Int {
        Self.outputSize(input: inWidth, kernel: kernelWidth, stride: strideWidth, padding: paddingWidth,
                        dilation: dilationWidth, ceil: ceilMode)
    }
    /// Taps of one window (`kh * kw`).
    public var windowSize: Int { kernelHeight * kernelWidth }

    /// Why PyTorch would refuse this window, or nil: positive kernel, stride and dilation,
    /// padding at most half the (dilated) kernel, and at least one output.
    public var invalidReason: String? {
        guard kernelHeight > 0, kernelWidth > 0 else { return "kernel \(kernelHeight)x\(kernelWidth) must be positive" }
        guard strideHeight > 0, strideWidth > 0 else { return "stride (\(strideHeight), \(strideWidth)) must be positive" }
        guard dilationHeight > 0, dilationWidth > 0 else { return "dilation (\(dilationHeight), \(dilationWidth)) must be positive" }
        guard paddingHeight >= 0, paddingWidth >= 0,
              2 * paddingHeight <= dilationHeight * (kernelHeight - 1) + 1,
              2 * paddingWidth <= dilationWidth * (kernelWidth - 1) + 1 else {
            return "padding (\(paddingHeight), \(paddingWidth)) must be non-negative and at most half the kernel"
        }
        guard outHeight > 0, outWidth > 0 else {
            return "the \(kernelHeight)x\(kernelWidth) window does not fit the \(inHeight)x\(inWidth) input"
        }
        return nil
    }

    /// Input rows (or columns) of output `o` along one axis that lie inside the input, as
    /// `(first tap, last tap + 1)` tap indices.
    @inline(__always)
    static func validTaps(_ o: Int, stride: Int, padding: Int, dilation: Int, kernel: Int, input: Int) -> (Int, Int) {
        let start = o * stride - padding
        var first = 0
        while first < kernel && start + first * dilation < 0 { first += 1 }
        var last = kernel
        while last > first && start + (last - 1) * dilation >= input { last -= 1 }
        return (first, last)
    }

    /// PyTorch's `avg_pool2d` divisor of output `(oy, ox)`: with `count_include_pad` the
    /// window clipped to the padded input, otherwise the taps inside the input.
    public func averageDivisor(_ oy: Int, _ ox: Int, countIncludePad: Bool) -> Int {
        func extent(_ o: Int, _ s: Int, _ p: Int, _ k: Int, _ n: Int) -> (Int, Int) {
            let start = o * s - p
            let end = min(start + k, n + p)
            let padded = end - start
            return (padded, min(end, n) - max(start, 0))
        }
        let (ph, vh) = extent(oy, strideHeight, paddingHeight, kernelHeight, inHeight)
        let (pw, vw) = extent(ox, strideWidth, paddingWidth, kernelWidth, inWidth)
        return countIncludePad ? ph * pw : vh * vw
    }
}

extension Kernels {
    /// Max or average pooling of a `[C, H, W, N]` batch; returns `[C, OH, OW, N]`.
    /// Padding never wins a max (PyTorch pads with -inf); averages divide by
    /// `averageDivisor` (PyTorch's `avg_pool2d`, `divisor_override` unset).
    public static func pool(
        _ x: Tensor, geometry g: PoolGeometry, average: Bool, countIncludePad: Bool = true, threads: Int
    ) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[0] == g.channels && x.shape[1] == g.inHeight && x.shape[2] == g.inWidth)
        let n = x.shape[3]
        let (oh, ow) = (g.outHeight, g.outWidth)
        let (h, w) = (g.inHeight, g.inWidth)
        return Tensor(shape: [g.channels, oh, ow, n]) { out in
            let outBox = UncheckedSendable(out)
            x.scalars.withUnsafeBufferPointer { src in
                let srcBox = UncheckedSendable(src)
                Parallel.forEach(g.channels, threads: threads) { c in
                    guard let s = srcBox.value.baseAddress, let o = outBox.value.baseAddress else { return }
                    let plane = s + c * h * w * n
                    if !average {
                        maxPoolPlane(plane, into: o + c * oh * ow * n, geometry: g, images: n)
                        return
                    }
                    for oy in 0..<oh {
                        let (ky0, ky1) = PoolGeometry.validTaps(oy, stride: g.strideHeight, padding: g.paddingHeight,
                                                                dilation: g.dilationHeight, kernel: g.kernelHeight, input: h)
                        for ox in 0..<ow {
                            let (kx0, kx1) = PoolGeometry.validTaps(ox, stride: g.strideWidth, padding: g.paddingWidth,
                                                                    dilation: g.dilationWidth, kernel: g.kernelWidth, input: w)
                            let dst = o + ((c * oh + oy) * ow + ox) * n
                            var first = true
                            for ky in ky0..<ky1 {
                                let iy = oy * g.strideHeight - g.paddingHeight + ky * g.dilationHeight
                                for kx in kx0..<kx1 {
                                    let ix = ox * g.strideWidth - g.paddingWidth + kx * g.dilationWidth
                                    let row = plane + (iy * w + ix) * n
                                    if first {
                                        for k in 0..<n { dst[k] = row[k] }
                                        first = false
                                    } else if average {
                                        for k in 0..<n { dst[k] += row[k] }
                                    } else {
                                        maxAccumulate(dst, row, n)
                                    }
                                }
                            }
                            if first {
                                // Every tap in the padding (ruled out by `invalidReason`): an empty window.
                                for k in 0..<n { dst[k] = average ? 0 : -.infinity }
                            } else if average {
                                let scale = 1 / Float(g.averageDivisor(oy, ox, countIncludePad: countIncludePad))
                                for k in 0..<n { dst[k] *= scale }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Max pooling of one channel's `[H, W, N]` plane into its `[OH, OW, N]` output: per
    /// output, the taps inside the input (row-major, as PyTorch visits them) folded with
    /// `maxOfRows`. A window entirely in the padding (ruled out by `invalidReason`) gives -inf.
    static func maxPoolPlane(_ plane: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, geometry g: PoolGeometry,
                             images n: Int) {
        let (oh, ow, w) = (g.outHeight, g.outWidth, g.inWidth)
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: max(1, g.windowSize)) { taps in
            guard let rows = taps.baseAddress else { return }
            for oy in 0..<oh {
                let (ky0, ky1) = PoolGeometry.validTaps(oy, stride: g.strideHeight, padding: g.paddingHeight,
                                                        dilation: g.dilationHeight, kernel: g.kernelHeight, input: g.inHeight)
                for ox in 0..<ow {
                    let (kx0, kx1) = PoolGeometry.validTaps(ox, stride: g.strideWidth, padding: g.paddingWidth,
                                                            dilation: g.dilationWidth, kernel: g.kernelWidth, input: w)
                    var count = 0
                    for ky in ky0..<ky1 {
                        let iy = oy * g.strideHeight - g.paddingHeight + ky * g.dilationHeight
                        for kx in kx0..<kx1 {
                            let ix = ox * g.strideWidth - g.paddingWidth + kx * g.dilationWidth
                            rows[count] = plane + (iy * w + ix) * n
                            count += 1
                        }
                    }
                    let dst = out + (oy * ow + ox) * n
                    if count == 0 {
                        dst.update(repeating: -.infinity, count: n)
                    } else {
                        maxOfRows(dst, rows, count, n)
                    }
                }
            }
        }
    }

    /// `dst[k] = max(rows[0][k], ..., rows[t-1][k])` for `k < n`, folded left to right with
    /// `maxAccumulate`'s rule (a NaN tap wins): 32 images at a time in registers, so each
    /// output is stored once (bitwise the same as `maxAccumulate` tap after tap).
    @inline(__always)
    static func maxOfRows(_ dst: UnsafeMutablePointer<Float>, _ rows: UnsafePointer<UnsafePointer<Float>>, _ t: Int, _ n: Int) {
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }
        @inline(__always) func fold(_ d: inout SIMD8<Float>, _ r: SIMD8<Float>) {
            d.replace(with: r, where: (r .> d) .| (r .!= r))
        }
        var k = 0
        while k + 32 <= n {
            var (a, b, c, d) = (load(rows[0] + k), load(rows[0] + k + 8), load(rows[0] + k + 16), load(rows[0] + k + 24))
            for r in 1..<t {
                let p = rows[r] + k
                fold(&a, load(p))
                fold(&b, load(p + 8))
                fold(&c, load(p + 16))
                fold(&d, load(p + 24))
            }
            let out = UnsafeMutableRawPointer(dst + k)
            out.storeBytes(of: a, as: SIMD8<Float>.self)
            out.storeBytes(of: b, toByteOffset: 32, as: SIMD8<Float>.self)
            out.storeBytes(of: c, toByteOffset: 64, as: SIMD8<Float>.self)
            out.storeBytes(of: d, toByteOffset: 96, as: SIMD8<Float>.self)
            k += 32
        }
        if k < n {
            (dst + k).update(from: rows[0] + k, count: n - k)
            for r in 1..<t { maxAccumulate(dst + k, rows[r] + k, n - k) }
        }
    }

    /// `dst[k] = max(dst[k], row[k])` for `k < n`, NaN propagating as in PyTorch (a NaN tap
    /// wins), eight images at a time (the batch is the innermost, contiguous axis).
    @inline(__always)
    static func maxAccumulate(_ dst: UnsafeMutablePointer<Float>, _ row: UnsafePointer<Float>, _ n: Int) {
        var k = 0
        while k + 8 <= n {
            let r = UnsafeRawPointer(row + k).loadUnaligned(as: SIMD8<Float>.self)
            var d = UnsafeRawPointer(dst + k).loadUnaligned(as: SIMD8<Float>.self)
            d.replace(with: r, where: (r .> d) .| (r .!= r))
            UnsafeMutableRawPointer(dst + k).storeBytes(of: d, as: SIMD8<Float>.self)
            k += 8
        }
        while k < n {
            if row[k] > dst[k] || row[k].isNaN { dst[k] = row[k] }
            k += 1
        }
    }

    /// Channel concatenation of `[C_i, H, W, N]` (or `[F_i, N]`) batches: in the
    /// channel-major layout, the buffers one after another.
    public static func concatenateChannels(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty)
        var shape = parts[0].shape
        shape[0] = parts.reduce(0) { $0 + $1.shape[0] }
        return Tensor(shape: shape) { out in
            var offset = 0
            for p in parts {
                p.scalars.withUnsafeBufferPointer { src in
                    guard let s = src.baseAddress, let o = out.baseAddress else { return }
                    (o + offset).update(from: s, count: src.count)
                }
                offset += p.count
            }
        }
    }

    /// Channels `channels` of each `[C_i, ...]` batch, concatenated, then (with `shuffleGroups`
    /// > 1) channel-shuffled, in one copy: concatenated channel `k = i·(C/g) + j` lands at
    /// `j·g + i`, as `shuffleChannels(concatenateChannels(slices), groups: g)` (ShuffleNet's
    /// concat + shuffle with its identity half taken straight from the unit's input).
    /// Channels are copied on up to `threads` threads (each channel whole, by index).
    public static func concatenateChannels(
        _ parts: [(tensor: Tensor, channels: Range<Int>)], shuffleGroups g: Int = 1, threads: Int = 1
    ) -> Tensor {
        precondition(!parts.isEmpty)
        var shape = parts[0].tensor.shape
        shape[0] = parts.reduce(0) { $0 + $1.channels.count }
        var out = Tensor(shape: shape, filling: { _ in })
        var first = 0                             // concatenated index of the part's first channel
        for (tensor, channels) in parts {
            placeChannels(tensor, channels: channels, into: &out, first: first, shuffleGroups: g, threads: threads)
            first += channels.count
        }
        return out
    }

    /// Where channel `k` of a `channels`-channel concatenation lands once channel-shuffled
    /// with `groups` groups: `(k % (C/g))·g + k / (C/g)` (with one group, `k`).
    @inline(__always)
    public static func shuffledChannel(_ k: Int, channels: Int, groups: Int) -> Int {
        let perGroup = channels / groups
        return (k % perGroup) * groups + k / perGroup
    }

    /// Copies channels `channels` of `x` into the concatenation `out` (allocated whole, filled
    /// part by part) as its channels `first...`, at their shuffled places (`shuffledChannel`).
    /// Channels are copied on up to `threads` threads (each channel whole, by index).
    public static func placeChannels(
        _ x: Tensor, channels: Range<Int>, into out: inout Tensor, first: Int, shuffleGroups g: Int, threads: Int
    ) {
        let inner = x.count / max(1, x.shape[0])
        let c = out.shape[0]
        precondition(g > 0 && c % g == 0 && channels.upperBound <= x.shape[0] && first + channels.count <= c)
        precondition(out.count == c * inner && Array(out.shape.dropFirst()) == Array(x.shape.dropFirst()))
        // Below about 64 KiB per worker a thread costs more than it copies.
        let workers = min(threads, max(1, channels.count * inner / 16_384))
        x.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let o = dst.baseAddress else { return }
                let (srcBox, outBox) = (UncheckedSendable(s), UncheckedSendable(o))
                Parallel.forEach(channels.count, threads: workers) { j in
                    let destination = shuffledChannel(first + j, channels: c, groups: g)
                    (outBox.value + destination * inner).update(from: srcBox.value + (channels.lowerBound + j) * inner,
                                                                count: inner)
                }
            }
        }
    }

    /// Channels `start..<stop` of a `[C, ...]` batch (a contiguous block).
    public static func sliceChannels(_ x: Tensor, start: Int, stop: Int) -> Tensor {
        precondition(0 <= start && start < stop && stop <= x.shape[0])
        let inner = x.count / max(1, x.shape[0])
        var shape = x.shape
        shape[0] = stop - start
        return Tensor(shape: shape, scalars: Array(x.scalars[(start * inner)..<(stop * inner)]))
    }

    /// Channel shuffle with `groups` groups (ShuffleNet): output channel `j·g + i` is input
    /// channel `i·(C/g) + j`, as `x.view(n, g, C/g, h, w).transpose(1, 2).reshape(n, C, h, w)`.
    public static func shuffleChannels(_ x: Tensor, groups g: Int) -> Tensor {
        let c = x.shape[0]
        precondition(g > 0 && c % g == 0)
        let perGroup = c / g
        let inner = x.count / max(1, c)
        return Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let o = out.baseAddress else { return }
                for i in 0..<g {
                    for j in 0..<perGroup {
                        (o + (j * g + i) * inner).update(from: s + (i * perGroup + j) * inner, count: inner)
                    }
                }
            }
        }
    }

    /// Zero-pads (or crops) the spatial axes of a `[C, H, W, N]` batch: the result is
    /// `[C, H', W', N]` whose row `r` is input row `r - top` (zero outside the input).
    public static func padSpatial(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
        precondition(x.shape.count == 4)
        let (c, h, w, n) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return Tensor(shape: [c, height, width, n]) { out in
            out.initialize(repeating: 0)
            x.scalars.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let o = out.baseAddress else { return }
                for ch in 0..<c {
                    for r in 0..<height {
                        let iy = r - top
                        guard iy >= 0 && iy < h else { continue }
                        let c0 = max(0, left), c1 = min(width, w + left)
                        guard c1 > c0 else { continue }
                        (o + ((ch * height + r) * width + c0) * n)
                            .update(from: s + ((ch * h + iy) * w + c0 - left) * n, count: (c1 - c0) * n)
                    }
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Winograd F(2x2, 3x3) convolution for 3x3, stride-1, undilated, ungrouped layers on
/// `[C, H, W, N]` batches (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016).
///
/// Every 2x2 block of outputs is computed from a 4x4 input tile `d` as
/// `Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A`: the elementwise product over the 16 positions ξ of
/// the transformed tile, summed over input channels, is 16 GEMMs
/// `M[ξ] = U[ξ] · V[ξ]` with `U[ξ]` the `Cout x Cin` transformed weights and `V[ξ]` the
/// `Cin x (tiles·N)` transformed input, 16 multiplies per 4 outputs instead of 36.
/// The images are innermost, so both transforms are vector operations over N.
extension Kernels {
    /// Whether `conv2d` may use Winograd F(2x2, 3x3); `XBARSIM_CONV=im2col` forces im2col
    /// for every geometry (an A/B switch for benchmarks).
    static let winogradAllowed: Bool = {
        guard let value = getenv("XBARSIM_CONV") else { return true }
        return String(cString: value) != "im2col"
    }()

    /// Geometries the Winograd path handles: 3x3, stride 1, dilation 1, groups 1, with at least one output.
    static func usesWinograd(_ g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
            && g.dilationHeight == 1 && g.dilationWidth == 1 && g.groups == 1
            && g.outHeight > 0 && g.outWidth > 0
    }

    /// The Winograd-transformed weights `conv2d` would compute on every call for this layer
    /// (nil when it does not use Winograd): computed once and passed back as
    /// `conv2d(transformedWeights:)`, a network's repeated batches skip the transform.
    public static func winogradWeights(_ weight: [Float], geometry g: Conv2DGeometry) -> [Float]? {
        guard winogradAllowed && usesWinograd(g) && weight.count == g.outChannels * g.fanIn else { return nil }
        return weight.withUnsafeBufferPointer { winogradWeights($0, outChannels: g.outChannels, inChannels: g.inChannels) }
    }

    /// `U[ξ] = G g Gᵀ` for every (out, in) kernel: `[16, Cout, Cin]`, computed in double.
    static func winogradWeights(_ w: UnsafeBufferPointer<Float>, outChannels: Int, inChannels: Int) -> [Float] {
        let plane = outChannels * inChannels
        return [Float](unsafeUninitializedCapacity: 16 * plane) { u, initialized in
            for k in 0..<plane {
                let g = w.baseAddress! + k * 9
                // t = G g (4x3), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], one column j at a time.
                var t = (SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>())
                for j in 0..<3 {
                    let (a, b, c) = (Double(g[j]), Double(g[3 + j]), Double(g[6 + j]))
                    let column = SIMD4<Double>(a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
                    switch j {
                    case 0: t.0 = column
                    case 1: t.1 = column
                    default: t.2 = column
                    }
                }
                // U = t Gᵀ: row i of U from row i of t, (a, b, c) = (t.0[i], t.1[i], t.2[i]).
                let (a, b, c) = t
                let (q1, q2) = (0.5 * (a + b + c), 0.5 * (a - b + c))
                for i in 0..<4 {
                    u[(i * 4) * plane + k] = Float(a[i])
                    u[(i * 4 + 1) * plane + k] = Float(q1[i])
                    u[(i * 4 + 2) * plane + k] = Float(q2[i])
                    u[(i * 4 + 3) * plane + k] = Float(c[i])
                }
            }
            initialized = 16 * plane
        }
    }

    /// Upper bound on the floats of one transformed-tile buffer (`V` or `M`); the output
    /// is computed in chunks of whole tile rows to respect it.
    static let winogradBudget = 1 << 21

    /// Winograd F(2x2, 3x3) convolution of a `[Cin, H, W, N]` batch into `[Cout, OH, OW, N]`
    /// (no bias). Requires `usesWinograd(g)`. `transformed`: the weights' `U`, if already
    /// computed (`winogradWeights(_:geometry:)`).
    static func winogradConvolution(
        _ x: UnsafeBufferPointer<Float>, _ w: UnsafeBufferPointer<Float>, _ out: UnsafeMutableBufferPointer<Float>,
        _ g: Conv2DGeometry, images n: Int, threads: Int, transformed: [Float]? = nil
    ) {
        precondition(usesWinograd(g))
        let (cin, cout) = (g.inChannels, g.outChannels)
        let (oh, ow) = (g.outHeight, g.outWidth)
        let tilesH = (oh + 1) / 2, tilesW = (ow + 1) / 2
        precondition(transformed == nil || transformed?.count == 16 * cout * cin)
        let u = transformed ?? winogradWeights(w, outChannels: cout, inChannels: cin)
        let perTileRow = 16 * max(cin, cout) * tilesW * n
        let chunk = max(1, min(tilesH, winogradBudget / max(1, perTileRow)))
        let maxColumns = chunk * tilesW * n
        // Scratch buffers are fully written before they are read: no zero fill.
        let v = UnsafeMutableBufferPointer<Float>.allocate(capacity: 16 * cin * maxColumns)
        let m = UnsafeMutableBufferPointer<Float>.allocate(capacity: 16 * cout * maxColumns)
        defer {
            v.deallocate()
            m.deallocate()
        }
        let zeros = [Float](repeating: 0, count: n)
        u.withUnsafeBufferPointer { u in
            zeros.withUnsafeBufferPointer { zeros in
                var t0 = 0
                while t0 < tilesH {
                    let rows = t0..<min(tilesH, t0 + chunk)
                    let columns = rows.count * tilesW * n
                    winogradInput(x, into: v, g, tileRows: rows, columns: columns, images: n,
                                  zeros: zeros, threads: threads)
                    for xi in 0..<16 {
                        BLAS.sgemm(m: cout, n: columns, k: cin,
                                   a: u.baseAddress! + xi * cout * cin, lda: cin,
                                   b: v.baseAddress! + xi * cin * columns, ldb: columns,
                                   c: m.baseAddress! + xi * cout * columns, ldc: columns)
                    }
                    winogradOutput(m, into: out, g, tileRows: rows, columns: columns, images: n, threads: threads)
                    t0 = rows.upperBound
                }
            }
        }
    }

    /// `V[ξ][c][(tileRow − first)·tilesW + tileCol][image] = (Bᵀ d B)[ξ]` for the 4x4 input
    /// tile `d` at `(2·tileRow − padH, 2·tileCol − padW)`, positions outside the image read as 0.
    /// `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]`.
    private static func winogradInput(
        _ x: UnsafeBufferPointer<Float>, into v: UnsafeMutableBufferPointer<Float>, _ g: Conv2DGeometry,
        tileRows: Range<Int>, columns: Int, images n: Int, zeros: UnsafeBufferPointer<Float>, threads: Int
    ) {
        let (ih, iw, cin) = (g.inHeight, g.inWidth, g.inChannels)
        let tilesW = (g.outWidth + 1) / 2
        let box = UncheckedSendable((x, v, zeros))
        Parallel.forEach(cin, threads: threads) { c in
            let (x, v, zeros) = box.value
            let src = x.baseAddress! + c * ih * iw * n
            let dst = v.baseAddress! + c * columns
            let stride = cin * columns        // between ξ planes
            var p = [UnsafePointer<Float>](repeating: zeros.baseAddress!, count: 16)
            p.withUnsafeMutableBufferPointer { p in
                for (r, ty) in tileRows.enumerated() {
                    for tx in 0..<tilesW {
                        for i in 0..<4 {
                            let iy = 2 * ty - g.paddingHeight + i
                            for j in 0..<4 {
                                let ix = 2 * tx - g.paddingWidth + j
                                p[i * 4 + j] = iy >= 0 && iy < ih && ix >= 0 && ix < iw
                                    ? src + (iy * iw + ix) * n : zeros.baseAddress!
                            }
                        }
                        transformInputTile(p, into: dst + (r * tilesW + tx) * n, stride: stride, count: n)
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func transformInputTile(
        _ p: UnsafeMutableBufferPointer<UnsafePointer<Float>>, into o: UnsafeMutablePointer<Float>, stride: Int,
        count n: Int
    ) {
        @inline(__always) func load(_ q: UnsafePointer<Float>, _ k: Int, _ lanes: Int) -> SIMD8<Float> {
            if lanes == 8 { return UnsafeRawPointer(q + k).loadUnaligned(as: SIMD8<Float>.self) }
            var s = SIMD8<Float>()
            for l in 0..<lanes { s[l] = q[k + l] }
            return s
        }
        var k = 0
        while k < n {
            let lanes = min(8, n - k)
            // Column j of Bᵀ d for j = 0..<4, then row i of (Bᵀ d) B.
            var c0 = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            var c1 = c0, c2 = c0, c3 = c0
            for j in 0..<4 {
                let d0 = load(p[j], k, lanes), d1 = load(p[4 + j], k, lanes)
                let d2 = load(p[8 + j], k, lanes), d3 = load(p[12 + j], k, lanes)
                let rows = (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                switch j {
                case 0: c0 = rows
                case 1: c1 = rows
                case 2: c2 = rows
                default: c3 = rows
                }
            }
            @inline(__always) func store(_ xi: Int, _ value: SIMD8<Float>) {
                let q = o + xi * stride + k
                if lanes == 8 {
                    UnsafeMutableRawPointer(q).storeBytes(of: value, as: SIMD8<Float>.self)
                } else {
                    for l in 0..<lanes { q[l] = value[l] }
                }
            }
            // Row i of Bᵀ d is (c0.i, c1.i, c2.i, c3.i); times B gives ξ = 4i + 0..3.
            store(0, c0.0 - c2.0); store(1, c1.0 + c2.0); store(2, c2.0 - c1.0); store(3, c1.0 - c3.0)
            store(4, c0.1 - c2.1); store(5, c1.1 + c2.1); store(6, c2.1 - c1.1); store(7, c1.1 - c3.1)
            store(8, c0.2 - c2.2); store(9, c1.2 + c2.2); store(10, c2.2 - c1.2); store(11, c1.2 - c3.2)
            store(12, c0.3 - c2.3); store(13, c1.3 + c2.3); store(14, c2.3 - c1.3); store(15, c1.3 - c3.3)
            k += lanes
        }
    }

    /// `out[co][2·tileRow + a][2·tileCol + b][image] = (Aᵀ M A)[a][b]` for the outputs inside
    /// the image, `Aᵀ = [1 1 1 0; 0 1 −1 −1]`.
    private static func winogradOutput(
        _ m: UnsafeMutableBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>, _ g: Conv2DGeometry,
        tileRows: Range<Int>, columns: Int, images n: Int, threads: Int
    ) {
        let (oh, ow, cout) = (g.outHeight, g.outWidth, g.outChannels)
        let tilesW = (ow + 1) / 2
        let box = UncheckedSendable((UnsafeBufferPointer(m), out))
        Parallel.forEach(cout, threads: threads) { co in
            let (m, out) = box.value
            let src = m.baseAddress! + co * columns
            let stride = cout * columns
            let dst = out.baseAddress! + co * oh * ow * n
            for (r, ty) in tileRows.enumerated() {
                for tx in 0..<tilesW {
                    let q = src + (r * tilesW + tx) * n
                    let y = 2 * ty, x = 2 * tx
                    let o00 = dst + (y * ow + x) * n
                    let right = x + 1 < ow, below = y + 1 < oh
                    var k = 0
                    while k < n {
                        let lanes = min(8, n - k)
                        @inline(__always) func load(_ xi: Int) -> SIMD8<Float> {
                            let a = q + xi * stride + k
                            if lanes == 8 { return UnsafeRawPointer(a).loadUnaligned(as: SIMD8<Float>.self) }
                            var s = SIMD8<Float>()
                            for l in 0..<lanes { s[l] = a[l] }
                            return s
                        }
                        @inline(__always) func store(_ a: UnsafeMutablePointer<Float>, _ value: SIMD8<Float>) {
                            if lanes == 8 {
                                UnsafeMutableRawPointer(a + k).storeBytes(of: value, as: SIMD8<Float>.self)
                            } else {
                                for l in 0..<lanes { a[k + l] = value[l] }
                            }
                        }
                        // s0 = row0 + row1 + row2, s1 = row1 − row2 − row3 of M (per column j).
                        var s0 = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                        var s1 = s0
                        for j in 0..<4 {
                            let m0 = load(j), m1 = load(4 + j), m2 = load(8 + j), m3 = load(12 + j)
                            let a = m0 + m1 + m2, b = m1 - m2 - m3
                            switch j {
                            case 0: (s0.0, s1.0) = (a, b)
                            case 1: (s0.1, s1.1) = (a, b)
                            case 2: (s0.2, s1.2) = (a, b)
                            default: (s0.3, s1.3) = (a, b)
                            }
                        }
                        store(o00, s0.0 + s0.1 + s0.2)
                        if right { store(o00 + n, s0.1 - s0.2 - s0.3) }
                        if below {
                            store(o00 + ow * n, s1.0 + s1.1 + s1.2)
                            if right { store(o00 + (ow + 1) * n, s1.1 - s1.2 - s1.3) }
                        }
                        k += lanes
                    }
                }
            }
        }
    }
}

/// First and second moments of a convolution's receptive-field vectors over all its reads.
///
/// A convolution reads, for every output position and image, the vector `x` of one group's
/// receptive field (rows `(ci·kh + ki)·kw + kj`, as `Kernels.im2col`, zeros where the window
/// leaves the padded input). Over those reads this holds, for a subset of the rows,
///
///     reads = number of reads,   sums_i = Σ x_i,   gram_ij = Σ x_i·x_j
///
/// in double precision (the quadratic energy of a linear circuit driven by `x` is
/// `trace(Q·gram)`: `ReadEnergy`).
public struct ReceptiveFieldMoments: Sendable {
    /// Receptive-field rows covered (`0..<fanIn`).
    public var rows: Range<Int>
    /// Output positions times images.
    public var reads: Int
    /// `rows.count` sums.
    public var sums: [Double]
    /// `rows.count x rows.count`, row-major, symmetric.
    public var gram: [Double]
}

extension Kernels {
    /// Moments of group `group`'s receptive-field rows `rows` over every read of a `[C, H, W, N]`
    /// batch (im2col in chunks of output rows, converted to double, `dsyrk`).
    ///
    /// - Parameter threads: for the im2col copy; the `dsyrk` uses BLAS's own thread setting.
    public static func receptiveFieldMoments(
        _ input: Tensor, geometry g: Conv2DGeometry, group: Int, rows: Range<Int>, threads: Int
    ) -> ReceptiveFieldMoments {
        precondition(input.shape.count == 4 && input.shape[0] == g.inChannels
            && input.shape[1] == g.inHeight && input.shape[2] == g.inWidth, "input \(input.shape) vs \(g)")
        precondition(rows.lowerBound >= 0 && rows.upperBound <= g.fanIn && (0..<g.groups).contains(group))
        let n = input.shape[3]
        let k = rows.count
        let rowWidth = g.outWidth * n
        let reads = g.outHeight * rowWidth
        var sums = [Double](repeating: 0, count: k)
        var gram = [Double](repeating: 0, count: k * k)
        guard k > 0, reads > 0 else { return ReceptiveFieldMoments(rows: rows, reads: reads, sums: sums, gram: gram) }
        let chunkRows = max(1, min(g.outHeight, im2colBudget / max(1, k * rowWidth)))
        var cols = [Float](repeating: 0, count: k * chunkRows * rowWidth)
        var wide = [Double](repeating: 0, count: k * chunkRows * rowWidth)
        input.scalars.withUnsafeBufferPointer { x in
            cols.withUnsafeMutableBufferPointer { cols in
                wide.withUnsafeMutableBufferPointer { wide in
                    gram.withUnsafeMutableBufferPointer { gram in
                        var y0 = 0
                        while y0 < g.outHeight {
                            let m = min(chunkRows, g.outHeight - y0)
                            let width = m * rowWidth
                            im2col(x, into: cols, g, group: group, outputRows: y0..<(y0 + m), images: n, rows: rows,
                                   threads: threads)
                            for i in 0..<k {
                                var s = 0.0
                                for j in 0..<width {
                                    let v = Double(cols[i * width + j])
                                    wide[i * width + j] = v
                                    s += v
                                }
                                sums[i] += s
                            }
                            // gram += X·Xᵀ (upper triangle), X = wide as k x width.
                            BLAS.dsyrk(n: k, k: width, a: wide.baseAddress!, lda: width, beta: y0 == 0 ? 0 : 1,
                                       c: gram.baseAddress!, ldc: k)
                            y0 += m
                        }
                    }
                }
            }
        }
        gram.withUnsafeMutableBufferPointer { BLAS.mirrorUpperTriangle($0.baseAddress!, n: k, ldc: k) }
        return ReceptiveFieldMoments(rows: rows, reads: reads, sums: sums, gram: gram)
    }
}

/// Float32 kernels of the reference engine, on `[C, H, W, N]` batches (see `Tensor`).
///
/// Every kernel is deterministic for any thread count: work is split by channel.
public enum Kernels {
    /// `x = x * scale[c] + shift[c]` per channel, in place (inference batch-norm, after
    /// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`).
    public static func channelAffine(_ x: inout Tensor, scale: [Float], shift: [Float], threads: Int) {
        let c = x.shape[0]
        precondition(scale.count == c && shift.count == c)
        let inner = x.count / max(1, c)
        x.scalars.withUnsafeMutableBufferPointer { buf in
            let box = UncheckedSendable(buf)
            Parallel.forEach(c, threads: threads) { ch in
                guard let base = box.value.baseAddress else { return }
                affineRow(base + ch * inner, inner, scale[ch], shift[ch])
            }
        }
    }

    /// `p[k] = p[k] * a + b` for `k < n`: the one formula of `channelAffine`, in place.
    @inline(__always)
    public static func affineRow(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ a: Float, _ b: Float) {
        for k in 0..<n { p[k] = p[k] * a + b }
    }

    /// `p[k] = f(p[k])` for `k < n`, one specialised loop per function so each vectorises:
    /// the one formula of `activate`, in place.
    @inline(__always)
    public static func activateRow(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ function: ActivationFunction) {
        switch function {
        case .relu: for k in 0..<n { p[k] = max(p[k], 0) }
        case .hardSigmoid: for k in 0..<n { p[k] = min(max(p[k] + 3, 0), 6) / 6 }
        case .hardSwish: for k in 0..<n { p[k] = p[k] * min(max(p[k] + 3, 0), 6) / 6 }
        }
    }

    /// Runs `body(c, row, count)` on channel rows `firstRow + c·rowStride` (`c < channels`)
    /// of a `[C, ...]` batch, in place, spread over up to `threads` threads: per-channel ops
    /// on a value that lives in some rows of a bigger buffer (a concatenation's).
    public static func forEachChannelRow(
        _ x: inout Tensor, firstRow: Int, rowStride: Int, channels: Int, threads: Int,
        _ body: (_ channel: Int, UnsafeMutablePointer<Float>, _ count: Int) -> Void
    ) {
        let inner = x.count / max(1, x.shape[0])
        precondition(channels == 0 || (firstRow >= 0 && firstRow + (channels - 1) * rowStride < x.shape[0]))
        let workers = min(threads, max(1, channels * inner / 16_384))
        x.scalars.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let box = UncheckedSendable(base)
            Parallel.forEach(channels, threads: workers) { c in
                body(c, box.value + (firstRow + c * rowStride) * inner, inner)
            }
        }
    }

    /// Applies an activation to every element, in place.
    public static func activate(_ x: inout Tensor, _ function: ActivationFunction, threads: Int) {
        let n = x.count
        let blocks = max(1, min(threads * 4, n / 16384))
        x.scalars.withUnsafeMutableBufferPointer { buf in
            let box = UncheckedSendable(buf)
            Parallel.forEach(blocks, threads: threads) { b in
                guard let p = box.value.baseAddress else { return }
                let range = (n * b / blocks)..<(n * (b + 1) / blocks)
                activateRow(p + range.lowerBound, range.count, function)
            }
        }
    }

    /// Elementwise sum of two equal-shaped tensors, written into the first.
    public static func add(_ a: inout Tensor, _ b: Tensor) {
        precondition(a.shape == b.shape)
        a.scalars.withUnsafeMutableBufferPointer { x in
            b.scalars.withUnsafeBufferPointer { y in
                for k in 0..<x.count { x[k] += y[k] }
            }
        }
    }

    /// Elementwise product; a `[C, 1, 1, N]` operand is broadcast over the other's H and W.
    /// Returns the product (reusing the larger operand's storage when it is not shared).
    public static func multiply(_ a: Tensor, _ b: Tensor) -> Tensor {
        var (big, small) = a.count >= b.count ? (a, b) : (b, a)
        if big.shape == small.shape {
            big.scalars.withUnsafeMutableBufferPointer { x in
                small.scalars.withUnsafeBufferPointer { y in
                    for k in 0..<x.count { x[k] *= y[k] }
                }
            }
            return big
        }
        precondition(big.shape.count == 4 && small.shape == [big.shape[0], 1, 1, big.shape[3]])
        let (c, plane, n) = (big.shape[0], big.shape[1] * big.shape[2], big.shape[3])
        big.scalars.withUnsafeMutableBufferPointer { x in
            small.scalars.withUnsafeBufferPointer { s in
                for ch in 0..<c {
                    let factors = s.baseAddress! + ch * n
                    for p in 0..<plane {
                        let row = x.baseAddress! + (ch * plane + p) * n
                        for k in 0..<n { row[k] *= factors[k] }
                    }
                }
            }
        }
        return big
    }

    /// Mean over H and W: `[C, H, W, N]` to `[C, 1, 1, N]`.
    public static func globalAveragePool(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4)
        let (c, plane, n) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        let scale = 1 / Float(plane)
        return Tensor(shape: [c, 1, 1, n]) { out in
            out.initialize(repeating: 0)
            x.scalars.withUnsafeBufferPointer { src in
                for ch in 0..<c {
                    let o = out.baseAddress! + ch * n
                    for p in 0..<plane {
                        let row = src.baseAddress! + (ch * plane + p) * n
                        for k in 0..<n { o[k] += row[k] }
                    }
                    for k in 0..<n { o[k] *= scale }
                }
            }
        }
    }

    /// `[C, H, W, N]` to `[C*H*W, N]`, features in PyTorch's `flatten(1)` order: the same
    /// memory, so only the shape changes.
    public static func flatten(_ x: Tensor) -> Tensor {
        if x.shape.count == 2 { return x }
        precondition(x.shape.count == 4)
        return Tensor(shape: [x.shape[0] * x.shape[1] * x.shape[2], x.shape[3]], scalars: x.scalars)
    }

    /// Fully connected layer on `[I, N]` features: `W (O x I) · X + b` as one GEMM.
    public static func linear(_ x: Tensor, weight: [Float], bias: [Float]?, outFeatures: Int, threads: Int) -> Tensor {
        precondition(x.shape.count == 2)
        let (inFeatures, n) = (x.shape[0], x.shape[1])
        precondition(weight.count == outFeatures * inFeatures)
        var y = Tensor(shape: [outFeatures, n]) { out in
            x.scalars.withUnsafeBufferPointer { xs in
                weight.withUnsafeBufferPointer { w in
                    BLAS.sgemm(m: outFeatures, n: n, k: inFeatures, a: w.baseAddress!, lda: inFeatures,
                               b: xs.baseAddress!, ldb: n, c: out.baseAddress!, ldc: n)
                }
            }
        }
        if let bias { addChannelBias(&y, bias, threads: threads) }
        return y
    }
}

/// The elementwise activations of the format.
public enum ActivationFunction: String, Sendable, CaseIterable, Codable {
    case relu, hardSigmoid, hardSwish
}

/// The scalar activation functions, exactly as PyTorch defines them.
public enum Activation {
    @Sendable public static func relu(_ x: Float) -> Float { x > 0 ? x : 0 }
    /// `min(max(x + 3, 0), 6) / 6`
    @Sendable public static func hardSigmoid(_ x: Float) -> Float { min(max(x + 3, 0), 6) / 6 }
    /// `x * min(max(x + 3, 0), 6) / 6`
    @Sendable public static func hardSwish(_ x: Float) -> Float { x * min(max(x + 3, 0), 6) / 6 }
}

extension Kernels {
    /// Elementwise square (read-noise variance needs `x²`).
    public static func squared(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { src in
                for k in 0..<out.count { out[k] = src[k] * src[k] }
            }
        }
    }

    /// Clips every element to `[-limit, limit]` in place (op-amp rails).
    public static func clip(_ x: inout Tensor, _ limit: Float) {
        x.scalars.withUnsafeMutableBufferPointer { p in
            for k in p.indices { p[k] = min(max(p[k], -limit), limit) }
        }
    }

    /// Multiplies channel `c` of a `[C, ...]` tensor by `factors[c]` in place.
    public static func scaleChannels(_ x: inout Tensor, _ factors: [Float]) {
        let channels = x.shape[0]
        precondition(factors.count == channels)
        let block = channels > 0 ? x.scalars.count / channels : 0
        x.scalars.withUnsafeMutableBufferPointer { p in
            for c in 0..<channels {
                let f = factors[c]
                for k in (c * block)..<((c + 1) * block) { p[k] *= f }
            }
        }
    }

    /// `clip(a − clip(b))`: a subtractor after two saturating TIAs.
    public static func subtractClipped(_ a: Tensor, _ b: Tensor, rail: Float) -> Tensor {
        precondition(a.shape == b.shape)
        return Tensor(shape: a.shape) { out in
            a.scalars.withUnsafeBufferPointer { x in
                b.scalars.withUnsafeBufferPointer { y in
                    for k in 0..<out.count { out[k] = min(max(x[k] - min(max(y[k], -rail), rail), -rail), rail) }
                }
            }
        }
    }
}

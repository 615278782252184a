/// Float32 kernels of the reference engine, on `[C, N, H, W]` batches (see `Tensor`).
///
/// Every kernel is deterministic for any thread count: work is split by channel.
public enum Kernels {
    /// `y = x * scale[c] + shift[c]` per channel (inference batch-norm, after
    /// `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale`).
    public static func channelAffine(_ x: Tensor, scale: [Float], shift: [Float], threads: Int) -> Tensor {
        let c = x.shape[0]
        precondition(scale.count == c && shift.count == c)
        let inner = x.count / max(1, c)
        return Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { src in
                let box = UncheckedSendable(out)
                Parallel.forEach(c, threads: threads) { ch in
                    let (a, b) = (scale[ch], shift[ch])
                    let base = ch * inner
                    for k in base..<(base + inner) { box.value[k] = src[k] * a + b }
                }
            }
        }
    }

    /// Applies `f` to every element.
    @inline(__always)
    public static func map(_ x: Tensor, threads: Int, _ f: @escaping @Sendable (Float) -> Float) -> Tensor {
        let blocks = max(1, min(threads * 4, x.count / 4096))
        return Tensor(shape: x.shape) { out in
            x.scalars.withUnsafeBufferPointer { src in
                let box = UncheckedSendable(out)
                let n = x.count
                Parallel.forEach(blocks, threads: threads) { b in
                    for k in (n * b / blocks)..<(n * (b + 1) / blocks) { box.value[k] = f(src[k]) }
                }
            }
        }
    }

    public static func relu(_ x: Tensor, threads: Int) -> Tensor { map(x, threads: threads, Activation.relu) }
    public static func hardSigmoid(_ x: Tensor, threads: Int) -> Tensor { map(x, threads: threads, Activation.hardSigmoid) }
    public static func hardSwish(_ x: Tensor, threads: Int) -> Tensor { map(x, threads: threads, Activation.hardSwish) }

    /// Elementwise sum of two equal-shaped tensors.
    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape)
        return Tensor(shape: a.shape) { out in
            a.scalars.withUnsafeBufferPointer { x in
                b.scalars.withUnsafeBufferPointer { y in
                    for k in 0..<out.count { out[k] = x[k] + y[k] }
                }
            }
        }
    }

    /// Elementwise product; a `[C, N, 1, 1]` operand is broadcast over the other's H and W.
    public static func multiply(_ a: Tensor, _ b: Tensor) -> Tensor {
        if a.shape == b.shape {
            return Tensor(shape: a.shape) { out in
                a.scalars.withUnsafeBufferPointer { x in
                    b.scalars.withUnsafeBufferPointer { y in
                        for k in 0..<out.count { out[k] = x[k] * y[k] }
                    }
                }
            }
        }
        let (big, small) = a.count >= b.count ? (a, b) : (b, a)
        precondition(big.shape.count == 4 && small.shape == [big.shape[0], big.shape[1], 1, 1])
        let plane = big.shape[2] * big.shape[3]
        return Tensor(shape: big.shape) { out in
            big.scalars.withUnsafeBufferPointer { x in
                small.scalars.withUnsafeBufferPointer { s in
                    for p in 0..<small.count {
                        let f = s[p]
                        for k in (p * plane)..<((p + 1) * plane) { out[k] = x[k] * f }
                    }
                }
            }
        }
    }

    /// Mean over H and W: `[C, N, H, W]` to `[C, N, 1, 1]`.
    public static func globalAveragePool(_ x: Tensor) -> Tensor {
        precondition(x.shape.count == 4)
        let plane = x.shape[2] * x.shape[3]
        let scale = 1 / Float(plane)
        return Tensor(shape: [x.shape[0], x.shape[1], 1, 1]) { out in
            x.scalars.withUnsafeBufferPointer { src in
                for p in 0..<out.count {
                    var s: Float = 0
                    for k in (p * plane)..<((p + 1) * plane) { s += src[k] }
                    out[p] = s * scale
                }
            }
        }
    }

    /// `[C, N, H, W]` to `[C*H*W, N]`, features in PyTorch's `flatten(1)` order.
    public static func flatten(_ x: Tensor) -> Tensor {
        if x.shape.count == 2 { return x }
        precondition(x.shape.count == 4)
        let (c, n, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        if plane == 1 { return Tensor(shape: [c, n], scalars: x.scalars) }
        return Tensor(shape: [c * plane, n]) { out in
            x.scalars.withUnsafeBufferPointer { src in
                for ch in 0..<c {
                    for image in 0..<n {
                        for k in 0..<plane { out[(ch * plane + k) * n + image] = src[(ch * n + image) * plane + k] }
                    }
                }
            }
        }
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

/// The scalar activation functions, exactly as PyTorch defines them.
public enum Activation {
    @Sendable public static func relu(_ x: Float) -> Float { x > 0 ? x : 0 }
    /// `min(max(x + 3, 0), 6) / 6`
    @Sendable public static func hardSigmoid(_ x: Float) -> Float { min(max(x + 3, 0), 6) / 6 }
    /// `x * min(max(x + 3, 0), 6) / 6`
    @Sendable public static func hardSwish(_ x: Float) -> Float { x * min(max(x + 3, 0), 6) / 6 }
}

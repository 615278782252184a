/// A dense float32 array with a shape, stored contiguously in row-major order.
///
/// XbarSim keeps activations of a whole batch in *channel-major, images-innermost*
/// layout, `[channels, height, width, images]` (CHWN), and feature vectors as
/// `[features, images]`. In that layout a pointwise convolution or a fully connected
/// layer over the whole batch is a single GEMM `W · X`; every per-channel operation
/// (batch-norm, activations) works on one contiguous block; and every depthwise kernel
/// tap, pooling sum or SE scaling is a contiguous vector operation over the images,
/// with no boundary tests inside. Flatten is free: `[C, H, W, N]` and `[C·H·W, N]` are
/// the same memory, in PyTorch's `flatten(1)` feature order. With one image, CHWN is
/// PyTorch's CHW. `movingFirstAxisToLast` turns PyTorch's NCHW into CHWN.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var scalars: [Float]

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) values")
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.scalars = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// Allocates an uninitialised-looking tensor filled by `body` (no zero fill pass).
    public init(shape: [Int], filling body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.scalars = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try body(buffer)
            initialized = count
        }
    }

    public var count: Int { scalars.count }

    /// Largest absolute value; NaN if any element is NaN.
    public var maxAbs: Float {
        // On the bit patterns with the sign cleared, IEEE order is integer order and every
        // NaN lies above +inf: one unsigned max (which vectorises, unlike Float's max
        // with its NaN rules) gives the largest magnitude and detects NaN.
        scalars.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: UInt32.self) { bits in
                var m: UInt32 = 0
                for b in bits { m = Swift.max(m, b & 0x7FFF_FFFF) }
                return m > 0x7F80_0000 ? .nan : Float(bitPattern: m)
            }
        }
    }

    /// Index of the first NaN or infinite element, if any.
    public var firstNonFiniteIndex: Int? { scalars.firstIndex { !$0.isFinite } }

    /// Reorders a `[n, c, rest...]` array to `[c, n, rest...]` (and back: the swap is its own inverse).
    public func swappingFirstTwoAxes() -> Tensor {
        precondition(shape.count >= 2)
        let a = shape[0], b = shape[1]
        let inner = shape.dropFirst(2).reduce(1, *)
        var newShape = shape
        newShape.swapAt(0, 1)
        return Tensor(shape: newShape) { out in
            scalars.withUnsafeBufferPointer { src in
                for i in 0..<a {
                    for j in 0..<b {
                        let from = (i * b + j) * inner
                        let to = (j * a + i) * inner
                        for k in 0..<inner { out[to + k] = src[from + k] }
                    }
                }
            }
        }
    }

    /// `[n, rest...]` to `[rest..., n]`: PyTorch's NCHW batch to XbarSim's CHWN.
    public func movingFirstAxisToLast() -> Tensor {
        precondition(shape.count >= 2)
        let n = shape[0], inner = count / max(1, shape[0])
        return Tensor(shape: Array(shape.dropFirst()) + [n]) { out in
            scalars.withUnsafeBufferPointer { src in
                for i in 0..<n { for k in 0..<inner { out[k * n + i] = src[i * inner + k] } }
            }
        }
    }

    /// `[rest..., n]` to `[n, rest...]`: XbarSim's CHWN batch to PyTorch's NCHW.
    public func movingLastAxisToFirst() -> Tensor {
        precondition(shape.count >= 2)
        let n = shape[shape.count - 1], inner = count / max(1, n)
        return Tensor(shape: [n] + Array(shape.dropLast())) { out in
            scalars.withUnsafeBufferPointer { src in
                for i in 0..<n { for k in 0..<inner { out[i * inner + k] = src[k * n + i] } }
            }
        }
    }
}

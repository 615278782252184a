import XbarSimTensor

/// Behavioural models of the op-amp circuits between crossbars.
///
/// - Hard-sigmoid: an op-amp adder forms `(x + 3)/6`, two diode limiters clamp it to
///   `[0, 1]`. A limiter whose clamp level is off by `δ` (in signal units) clamps to
///   `[δ, 1 + δ]`.
/// - Hard-swish: the hard-sigmoid circuit followed by an analog multiplier with gain
///   `g`: `g·x·hsig(x)`.
/// - ReLU: a diode limiter at `δ`: `max(x, δ)`; with an output limiter at `V_p`
///   (`Periphery.reluLimitVolts`, `reluLimitUnits = V_p/u`) also `min(·, V_p + δ)`.
/// Every op-amp output also saturates at the rails.
public enum AnalogCircuits {
    public static func activate(
        _ x: inout Tensor, _ f: ActivationFunction, limiterOffsetUnits d: Float, multiplierGain g: Float, railUnits: Float?,
        reluLimitUnits: Float? = nil
    ) {
        let r = railUnits ?? .infinity
        x.scalars.withUnsafeMutableBufferPointer { p in
            switch f {
            case .relu:
                let top = min(reluLimitUnits.map { $0 + d } ?? .infinity, r)
                for k in p.indices { p[k] = min(max(p[k], d), top) }
            case .hardSigmoid:
                for k in p.indices { p[k] = min(min(max((p[k] + 3) / 6, d), 1 + d), r) }
            case .hardSwish:
                for k in p.indices {
                    let s = min(max((min(max(p[k], -r), r) + 3) / 6, d), 1 + d)
                    p[k] = min(max(g * p[k] * s, -r), r)
                }
            }
        }
    }

    /// Multiplier gain error and rails on a product.
    public static func scale(_ x: inout Tensor, by g: Float, railUnits: Float?) {
        guard g != 1 || railUnits != nil else { return }
        let r = railUnits ?? .infinity
        x.scalars.withUnsafeMutableBufferPointer { p in
            for k in p.indices { p[k] = min(max(g * p[k], -r), r) }
        }
    }

    /// Two-sided diode limiter (clamp, ReLU6, hardtanh): `min(max(x, lo + δ), hi + δ)`,
    /// an open side has no limiter; then the rails.
    public static func limit(_ x: inout Tensor, lower: Float?, upper: Float?, offsetUnits d: Float, railUnits: Float?) {
        let r = railUnits ?? .infinity
        let lo = lower.map { $0 + d } ?? -.infinity
        let hi = upper.map { $0 + d } ?? .infinity
        x.scalars.withUnsafeMutableBufferPointer { p in
            for k in p.indices { p[k] = min(max(min(max(p[k], lo), hi), -r), r) }
        }
    }

    /// Diode max circuit per output element: each window input drives a diode (a precision
    /// "super diode", an op-amp per input closing the loop around it) onto a common node
    /// held by a pull-down; the node follows the largest input. The residual of the diode
    /// drop and the op-amp offsets leave an output offset `δ` (`Periphery.maxPoolOffsetVolts`):
    /// `y = max_i(x_i) + δ`, then the rails. Padding taps are absent (no diode), so padding
    /// never wins, as in PyTorch.
    public static func maxPool(
        _ x: Tensor, geometry: PoolGeometry, offsetUnits d: Float, railUnits: Float?, threads: Int
    ) -> Tensor {
        var y = Kernels.pool(x, geometry: geometry, average: false, threads: threads)
        guard d != 0 || railUnits != nil else { return y }
        let r = railUnits ?? .infinity
        y.scalars.withUnsafeMutableBufferPointer { p in
            for k in p.indices { p[k] = min(max(p[k] + d, -r), r) }
        }
        return y
    }

    /// Input extent of an average-pooling crossbar: the input with its padding and the
    /// `ceil_mode` overhang, so that an unpadded window walk gives PyTorch's output size.
    public static func paddedExtent(_ p: PoolGeometry) -> (height: Int, width: Int) {
        ((p.outHeight - 1) * p.strideHeight + p.kernelHeight, (p.outWidth - 1) * p.strideWidth + p.kernelWidth)
    }

    /// Multiplies every output position of a `[C, H, W, N]` batch by its factor (`H·W`
    /// factors), then the rails.
    public static func scalePositions(_ y: inout Tensor, _ factors: [Float], railUnits: Float?) {
        let (c, n) = (y.shape[0], y.shape[3])
        let plane = y.shape[1] * y.shape[2]
        precondition(factors.count == plane)
        let r = railUnits ?? .infinity
        y.scalars.withUnsafeMutableBufferPointer { p in
            for ch in 0..<c {
                for q in 0..<plane {
                    let f = factors[q]
                    let base = (ch * plane + q) * n
                    for k in base..<(base + n) { p[k] = min(max(p[k] * f, -r), r) }
                }
            }
        }
    }
}

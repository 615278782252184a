import XbarSimTensor

/// Behavioural models of the op-amp circuits between crossbars.
///
/// - Hard-sigmoid: an op-amp adder forms `(x + 3)/6`, two diode limiters clamp it to
///   `[0, 1]`. A limiter whose clamp level is off by `δ` (in signal units) clamps to
///   `[δ, 1 + δ]`.
/// - Hard-swish: the hard-sigmoid circuit followed by an analog multiplier with gain
///   `g`: `g·x·hsig(x)`.
/// - ReLU: a diode limiter at `δ`: `max(x, δ)`.
/// Every op-amp output also saturates at the rails.
public enum AnalogCircuits {
    public static func activate(
        _ x: inout Tensor, _ f: ActivationFunction, limiterOffsetUnits d: Float, multiplierGain g: Float, railUnits: Float?
    ) {
        let r = railUnits ?? .infinity
        x.scalars.withUnsafeMutableBufferPointer { p in
            switch f {
            case .relu:
                for k in p.indices { p[k] = min(max(p[k], d), r) }
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
}

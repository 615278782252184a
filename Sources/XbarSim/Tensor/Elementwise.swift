import Foundation

/// Elementwise functions of the format beyond the analog activations (`ActivationFunction`):
/// the ones without an established compact memristive circuit, which the analog engine
/// runs in digital periphery (ADC, function, DAC), and the two-sided clamp.
///
/// Each follows PyTorch's definition in float32 (`torch.nn.functional`).
public enum ElementwiseFunction: Sendable, Hashable, Codable {
    /// `min(max(x, lower), upper)`; `relu6` is `clamp(0, 6)`, `hardtanh(a, b)` is `clamp(a, b)`.
    /// A nil bound is open.
    case clamp(lower: Float?, upper: Float?)
    case sigmoid
    case tanh
    /// `x · sigmoid(x)` (swish).
    case silu
    /// `x · Φ(x)`; with `tanhApproximation` PyTorch's `approximate='tanh'` form.
    case gelu(tanhApproximation: Bool)
    /// `x` for `x ≥ 0`, `slope · x` below.
    case leakyReLU(negativeSlope: Float)
    /// `x` for `x > 0`, `alpha · (exp(x) − 1)` below.
    case elu(alpha: Float)
    /// `log(1 + exp(beta·x)) / beta`, and `x` where `beta·x > threshold`.
    case softplus(beta: Float, threshold: Float)
    /// `x · tanh(softplus(x))`.
    case mish

    /// The type name used in model files.
    public var typeName: String {
        switch self {
        case .clamp: "clamp"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .silu: "silu"
        case .gelu: "gelu"
        case .leakyReLU: "leaky_relu"
        case .elu: "elu"
        case .softplus: "softplus"
        case .mish: "mish"
        }
    }

    /// Model-file type names of every case.
    public static let typeNames: Set<String> = [
        "clamp", "sigmoid", "tanh", "silu", "gelu", "leaky_relu", "elu", "softplus", "mish",
    ]

    /// The function of one value, computed as PyTorch's CPU kernels do (float32, with
    /// double precision where PyTorch's reference is exact to float rounding).
    @inline(__always)
    public func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .clamp(let lo, let hi):
            var y = x
            if let lo, y < lo { y = lo }
            if let hi, y > hi { y = hi }
            return y
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .tanh: return Foundation.tanh(x)
        case .silu: return x / (1 + Foundation.exp(-x))
        case .gelu(let approx):
            let d = Double(x)
            if approx {
                let inner = 0.7978845608028654 * (d + 0.044715 * d * d * d)
                return Float(0.5 * d * (1 + Foundation.tanh(inner)))
            }
            return Float(0.5 * d * (1 + Foundation.erf(d * 0.7071067811865476)))
        case .leakyReLU(let s): return x >= 0 ? x : x * s
        case .elu(let a): return x > 0 ? x : a * Float(Foundation.expm1(Double(x)))
        case .softplus(let beta, let threshold):
            let bx = Double(x) * Double(beta)
            return bx > Double(threshold) ? x : Float(Foundation.log1p(Foundation.exp(bx)) / Double(beta))
        case .mish:
            let d = Double(x)
            let sp = d > 20 ? d : Foundation.log1p(Foundation.exp(d))
            return Float(d * Foundation.tanh(sp))
        }
    }
}

extension Kernels {
    /// Applies `f` to every element, in place.
    public static func apply(_ x: inout Tensor, _ f: ElementwiseFunction, threads: Int) {
        let n = x.count
        let blocks = max(1, min(threads * 4, n / 16384))
        x.scalars.withUnsafeMutableBufferPointer { buf in
            let box = UncheckedSendable(buf)
            Parallel.forEach(blocks, threads: threads) { b in
                guard let p = box.value.baseAddress else { return }
                let range = (n * b / blocks)..<(n * (b + 1) / blocks)
                applyRow(p + range.lowerBound, range.count, f)
            }
        }
    }

    /// `p[k] = f(p[k])` for `k < n`: the one formula of `apply`, in place.
    @inline(__always)
    public static func applyRow(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ f: ElementwiseFunction) {
        if case .clamp(let lo, let hi) = f {
            // The common case gets a loop that vectorises.
            let (l, h) = (lo ?? -.infinity, hi ?? .infinity)
            for k in 0..<n { p[k] = min(max(p[k], l), h) }
            return
        }
        for k in 0..<n { p[k] = f(p[k]) }
    }
}

import XbarSimTensor

/// Per-channel batch-norm parameters, kept separate from the convolution (the
/// memristive BN module is simulated on its own).
public struct BatchNormParameters: Sendable, Equatable {
    public var gamma: [Float]
    public var beta: [Float]
    public var runningMean: [Float]
    public var runningVariance: [Float]
    public var epsilon: Double

    public init(gamma: [Float], beta: [Float], runningMean: [Float], runningVariance: [Float], epsilon: Double) {
        self.gamma = gamma
        self.beta = beta
        self.runningMean = runningMean
        self.runningVariance = runningVariance
        self.epsilon = epsilon
    }

    public var channels: Int { gamma.count }

    /// `gamma / sqrt(var + eps)`: the factor that multiplies `x - mean`.
    public var scale: [Float] {
        zip(gamma, runningVariance).map { g, v in Float(Double(g) / (Double(v) + epsilon).squareRoot()) }
    }

    /// `beta - mean * scale`: the per-channel offset after scaling.
    public var shift: [Float] { zip(zip(beta, runningMean), scale).map { bm, s in bm.0 - bm.1 * s } }
}

/// What an op computes, with its parameters.
public enum OpKind: Sendable, Equatable {
    /// 2-D convolution; `weight` is `(out, in/groups, kh, kw)`. Regular, depthwise and pointwise alike.
    case conv2d(geometry: Conv2DGeometry, weight: [Float], bias: [Float]?)
    case batchNorm(BatchNormParameters)
    case relu
    case hardSigmoid
    case hardSwish
    /// Residual sum of two equal-shaped inputs.
    case add
    /// Product; a `(C, 1, 1)` input is broadcast over the other (SE scaling).
    case mul
    case globalAveragePool
    case flatten
    /// Fully connected; `weight` is `(out, in)`.
    case linear(inFeatures: Int, outFeatures: Int, weight: [Float], bias: [Float]?)
    /// Max pooling over windows (padding never wins).
    case maxPool(PoolGeometry)
    /// Average pooling over windows; `countIncludePad` as PyTorch's `avg_pool2d`.
    case avgPool(PoolGeometry, countIncludePad: Bool)
    /// Channel concatenation of two or more inputs (same H, W).
    case concat
    /// Channels `start..<stop` of the input (`split`, `chunk`, `x[:, a:b]`).
    case channelSlice(start: Int, stop: Int)
    /// ShuffleNet channel shuffle with `groups` groups.
    case channelShuffle(groups: Int)
    /// Clamp and the elementwise functions without an analog circuit (digital fallback).
    case elementwise(ElementwiseFunction)

    /// A finer name for profiles: convolutions split into regular, depthwise and pointwise.
    public var profileName: String {
        if case .elementwise(let f) = self { return f.typeName }
        guard case .conv2d(let g, _, _) = self else { return typeName }
        return g.isDepthwise ? "conv2d/depthwise" : g.isPointwise ? "conv2d/pointwise" : "conv2d/regular"
    }

    /// The type name used in model files.
    public var typeName: String {
        switch self {
        case .conv2d: "conv2d"
        case .batchNorm: "batchnorm"
        case .relu: "relu"
        case .hardSigmoid: "hardsigmoid"
        case .hardSwish: "hardswish"
        case .add: "add"
        case .mul: "mul"
        case .globalAveragePool: "global_avg_pool"
        case .flatten: "flatten"
        case .linear: "linear"
        case .maxPool: "max_pool2d"
        case .avgPool: "avg_pool2d"
        case .concat: "concat"
        case .channelSlice: "channel_slice"
        case .channelShuffle: "channel_shuffle"
        case .elementwise(let f): f.typeName
        }
    }

    /// True for ops that act on each element alone (activations, clamp, digital functions):
    /// the ops `--digital` can move to digital periphery.
    public var isElementwise: Bool {
        switch self {
        case .relu, .hardSigmoid, .hardSwish, .elementwise: true
        default: false
        }
    }
}

/// One node of the graph.
public struct Op: Sendable, Equatable {
    /// Unique name, e.g. `features.1.block.0.0`.
    public var name: String
    /// Where the op lives in its model file, e.g. `/ops/0003` (for error messages).
    public var path: String
    public var kind: OpKind
    /// Values consumed, as indices into the executor's value list: 0 is the network
    /// input, `i + 1` is the output of op `i`.
    public var inputs: [Int]
    /// Shape of this op's output for one image: `[C, H, W]` or `[features]`.
    public var outputShape: [Int]

    public init(name: String, path: String, kind: OpKind, inputs: [Int], outputShape: [Int]) {
        self.name = name
        self.path = path
        self.kind = kind
        self.inputs = inputs
        self.outputShape = outputShape
    }
}

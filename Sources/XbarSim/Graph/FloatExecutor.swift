import XbarSimTensor

/// An error while running a graph: a non-finite result, named by op.
public struct ExecutionError: Error, CustomStringConvertible, Sendable {
    public var op: String
    public var message: String
    public init(op: String, message: String) {
        self.op = op
        self.message = message
    }
    public var description: String { "op '\(op)': \(message)" }
}

/// The float32 reference engine: runs a graph exactly as PyTorch defines each op.
///
/// Batches are `[C, N, H, W]` (see `Tensor`); the output is `[classes, N]`.
/// Every analog mode of XbarSim is measured against this engine.
public struct FloatExecutor: Sendable {
    public let graph: Graph
    /// Threads for XbarSim's own loops (BLAS threads are set with `BLAS.setThreads`).
    public var threads: Int

    public init(graph: Graph, threads: Int = 1) {
        self.graph = graph
        self.threads = threads
    }

    /// Runs the network on a `[C, N, H, W]` batch; returns `[classes, N]` logits.
    /// Throws if the output holds NaN or Inf.
    public func run(_ input: Tensor) throws -> Tensor {
        var values = [Tensor?](repeating: nil, count: graph.ops.count + 1)
        values[0] = input
        let lastUse = graph.lastUse
        for (i, op) in graph.ops.enumerated() {
            values[i + 1] = apply(op, op.inputs.map { values[$0]! })
            for v in op.inputs where lastUse[v] == i { values[v] = nil }
        }
        let output = values[graph.outputIndex + 1]!
        if let bad = output.firstNonFiniteIndex {
            throw ExecutionError(op: graph.ops[graph.outputIndex].name,
                                 message: "output has a non-finite value (\(output.scalars[bad])) at index \(bad)")
        }
        return Kernels.flatten(output)
    }

    /// Runs the network and keeps every op's output (for op-by-op checks).
    public func runKeepingAll(_ input: Tensor) -> [Tensor] {
        var values: [Tensor] = [input]
        for op in graph.ops { values.append(apply(op, op.inputs.map { values[$0] })) }
        return Array(values.dropFirst())
    }

    /// Applies one op to its input batches.
    public func apply(_ op: Op, _ x: [Tensor]) -> Tensor {
        switch op.kind {
        case .conv2d(let geometry, let weight, let bias):
            return Kernels.conv2d(x[0], weight: weight, bias: bias, geometry: geometry, threads: threads)
        case .batchNorm(let bn):
            return Kernels.channelAffine(x[0], scale: bn.scale, shift: bn.shift, threads: threads)
        case .relu: return Kernels.relu(x[0], threads: threads)
        case .hardSigmoid: return Kernels.hardSigmoid(x[0], threads: threads)
        case .hardSwish: return Kernels.hardSwish(x[0], threads: threads)
        case .add: return Kernels.add(x[0], x[1])
        case .mul: return Kernels.multiply(x[0], x[1])
        case .globalAveragePool: return Kernels.globalAveragePool(x[0])
        case .flatten: return Kernels.flatten(x[0])
        case .linear(_, let outFeatures, let weight, let bias):
            return Kernels.linear(x[0], weight: weight, bias: bias, outFeatures: outFeatures, threads: threads)
        }
    }
}

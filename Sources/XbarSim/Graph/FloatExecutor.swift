import Dispatch
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
/// Batches are `[C, H, W, N]` (see `Tensor`); the output is `[classes, N]`.
/// Every analog mode of XbarSim is measured against this engine.
public struct FloatExecutor: Sendable {
    public let graph: Graph
    /// Threads for XbarSim's own loops (BLAS threads are set with `BLAS.setThreads`).
    public var threads: Int

    public init(graph: Graph, threads: Int = 1) {
        self.graph = graph
        self.threads = threads
    }

    /// Runs the network on a `[C, H, W, N]` batch; returns `[classes, N]` logits.
    /// Throws if the output holds NaN or Inf.
    ///
    /// - Parameters:
    ///   - timing: called after each op with its index and wall seconds (profiling).
    ///   - observe: called with each op's index and output batch (calibration).
    public func run(
        _ input: Tensor, timing: ((Int, Double) -> Void)? = nil, observe: ((Int, Tensor) -> Void)? = nil
    ) throws -> Tensor {
        var values = [Tensor?](repeating: nil, count: graph.ops.count + 1)
        values[0] = input
        let lastUse = graph.lastUse
        for (i, op) in graph.ops.enumerated() {
            let start = timing == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            // Inputs read for the last time are moved out, so elementwise ops can reuse their storage.
            var inputs: [Tensor] = []
            for v in op.inputs {
                inputs.append(values[v]!)
                if lastUse[v] == i { values[v] = nil }
            }
            values[i + 1] = apply(op, &inputs)
            if let timing { timing(i, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
            if let observe { observe(i, values[i + 1]!) }
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
        for op in graph.ops {
            var inputs = op.inputs.map { values[$0] }
            values.append(apply(op, &inputs))
        }
        return Array(values.dropFirst())
    }

    /// Applies one op to its input batches. Elementwise ops work in place on their
    /// first input's storage when nothing else holds it (Swift copy-on-write).
    /// `inputs` is emptied when the op takes ownership of its storage.
    public func apply(_ op: Op, _ x: inout [Tensor]) -> Tensor {
        switch op.kind {
        case .conv2d(let geometry, let weight, let bias):
            return Kernels.conv2d(x[0], weight: weight, bias: bias, geometry: geometry, threads: threads)
        case .batchNorm(let bn):
            var y = x.removeFirst()
            Kernels.channelAffine(&y, scale: bn.scale, shift: bn.shift, threads: threads)
            return y
        case .relu: return activate(x.removeFirst(), .relu)
        case .hardSigmoid: return activate(x.removeFirst(), .hardSigmoid)
        case .hardSwish: return activate(x.removeFirst(), .hardSwish)
        case .add:
            var y = x.removeFirst()
            Kernels.add(&y, x[0])
            return y
        case .mul:
            let a = x.removeFirst()
            return Kernels.multiply(a, x.removeFirst())
        case .globalAveragePool: return Kernels.globalAveragePool(x[0])
        case .flatten: return Kernels.flatten(x[0])
        case .linear(_, let outFeatures, let weight, let bias):
            return Kernels.linear(x[0], weight: weight, bias: bias, outFeatures: outFeatures, threads: threads)
        case .maxPool(let g): return Kernels.pool(x[0], geometry: g, average: false, threads: threads)
        case .avgPool(let g, let countIncludePad):
            return Kernels.pool(x[0], geometry: g, average: true, countIncludePad: countIncludePad, threads: threads)
        case .concat: return Kernels.concatenateChannels(x)
        case .channelSlice(let start, let stop): return Kernels.sliceChannels(x[0], start: start, stop: stop)
        case .channelShuffle(let groups): return Kernels.shuffleChannels(x[0], groups: groups)
        case .elementwise(let f):
            var y = x.removeFirst()
            Kernels.apply(&y, f, threads: threads)
            return y
        }
    }

    private func activate(_ x: Tensor, _ f: ActivationFunction) -> Tensor {
        var y = x
        Kernels.activate(&y, f, threads: threads)
        return y
    }
}

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
        // Without an observer (which must see every op's output), copies are fused: see `CopyFusion`.
        let fusion = observe == nil ? CopyFusion(graph) : nil
        var views: [Int: (tensor: Tensor, channels: Range<Int>)] = [:]
        var computedEarlier = -1                  // an op already computed with the one before it
        for (i, op) in graph.ops.enumerated() {
            if i == computedEarlier {
                timing?(i, 0)
                continue
            }
            let start = timing == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            // Inputs read for the last time are moved out, so elementwise ops can reuse their storage.
            var parts: [(tensor: Tensor, channels: Range<Int>)] = []
            for v in op.inputs {
                if let view = views[v] {
                    parts.append(view)
                } else {
                    let t = values[v]!
                    parts.append((t, 0..<t.shape[0]))
                }
                if lastUse[v] == i { (values[v], views[v]) = (nil, nil) }
            }
            if let fusion, fusion.sliceIsView[i], case .channelSlice(let first, let stop) = op.kind {
                let offset = parts[0].channels.lowerBound
                views[i + 1] = (parts[0].tensor, (offset + first)..<(offset + stop))
            } else if let fusion, case .concat = op.kind {
                if let groups = fusion.shuffleAfter[i] {
                    values[i + 2] = Kernels.concatenateChannels(parts, shuffleGroups: groups, threads: threads)
                    computedEarlier = i + 1
                } else {
                    values[i + 1] = Kernels.concatenateChannels(parts, threads: threads)
                }
            } else if case .conv2d(let geometry, let weight, let bias) = op.kind, geometry.isPointwise,
                      parts.count == 1, parts[0].channels.count != parts[0].tensor.shape[0] {
                // A pointwise convolution of a slice view: the GEMM reads the channels in place.
                values[i + 1] = Kernels.pointwiseConv2d(parts[0].tensor, channels: parts[0].channels, weight: weight, bias: bias,
                                                        geometry: geometry)
            } else {
                var inputs = parts.map { part in
                    part.channels.count == part.tensor.shape[0] ? part.tensor
                        : Kernels.sliceChannels(part.tensor, start: part.channels.lowerBound, stop: part.channels.upperBound)
                }
                parts = []                          // so elementwise ops own their input's storage
                values[i + 1] = apply(op, &inputs)
            }
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

/// Copies `FloatExecutor.run` leaves out in ShuffleNet-style graphs, where a unit's input
/// is split by two channel slices and its output is a concatenation then a channel shuffle:
/// a slice read only by concatenations and pointwise convolutions stays a view of its input
/// (its channels are copied once, by the concatenation; the convolution's GEMM reads them in
/// place: in `[C, H, W, N]` a channel range is one contiguous block), and a concatenation read only by the shuffle right after it
/// is written shuffled. Every value is bitwise the one the unfused ops give.
struct CopyFusion {
    /// `sliceIsView[i]`: op `i` is a channel slice read only by concatenations and pointwise
    /// convolutions, not the output.
    var sliceIsView: [Bool]
    /// Op `i` (a concatenation) → the groups of the channel shuffle `i + 1` that alone reads it.
    var shuffleAfter: [Int: Int] = [:]

    init(_ graph: Graph) {
        var readers = [[Int]](repeating: [], count: graph.ops.count + 1)
        for (i, op) in graph.ops.enumerated() { for v in op.inputs { readers[v].append(i) } }
        let isConcat: (Int) -> Bool = { if case .concat = graph.ops[$0].kind { true } else { false } }
        let isPointwise: (Int) -> Bool = { if case .conv2d(let g, _, _) = graph.ops[$0].kind { g.isPointwise } else { false } }
        sliceIsView = graph.ops.indices.map { i in
            guard case .channelSlice = graph.ops[i].kind, i != graph.outputIndex else { return false }
            return !readers[i + 1].isEmpty && readers[i + 1].allSatisfy { isConcat($0) || isPointwise($0) }
        }
        for i in graph.ops.indices where isConcat(i) && i != graph.outputIndex && i + 1 < graph.ops.count {
            if case .channelShuffle(let groups) = graph.ops[i + 1].kind, graph.ops[i + 1].inputs == [i + 1],
               readers[i + 1] == [i + 1] {
                shuffleAfter[i] = groups
            }
        }
    }
}

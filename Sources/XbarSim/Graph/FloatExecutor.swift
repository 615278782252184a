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
    /// Op index → the convolution's Winograd-transformed weights, when prepared.
    let transformedWeights: [Int: [Float]]

    /// - Parameter preparingWeights: transform the weights of Winograd convolutions once, here,
    ///   instead of on every batch (for an executor that runs many batches; costs 16/9 of
    ///   those layers' weights in memory).
    public init(graph: Graph, threads: Int = 1, preparingWeights: Bool = false) {
        self.graph = graph
        self.threads = threads
        var transformed: [Int: [Float]] = [:]
        if preparingWeights {
            for (i, op) in graph.ops.enumerated() {
                if case .conv2d(let g, let w, _) = op.kind, let u = Kernels.winogradWeights(w, geometry: g) { transformed[i] = u }
            }
        }
        transformedWeights = transformed
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
        var concatenations: [Int: Tensor] = [:]   // concat op → its buffer, while its parts are computed in it
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
                if fusion?.inConcatenation[v] != nil { continue }   // already in its concatenation's buffer
                if let view = views[v] {
                    parts.append(view)
                } else {
                    let t = values[v]!
                    parts.append((t, 0..<t.shape[0]))
                }
            }
            // Freed after all are read: an op may read one value twice (`x + x`, `cat([x, x])`).
            for v in op.inputs where lastUse[v] == i { (values[v], views[v]) = (nil, nil) }
            if let fusion, fusion.sliceIsView[i], case .channelSlice(let first, let stop) = op.kind {
                let offset = parts[0].channels.lowerBound
                views[i + 1] = (parts[0].tensor, (offset + first)..<(offset + stop))
            } else if let fusion, let rows = fusion.inConcatenation[i + 1] {
                // Computed in place in its concatenation's buffer (see `CopyFusion.inConcatenation`).
                let channels = op.outputShape[0]
                if case .conv2d(let geometry, let weight, let bias) = op.kind {
                    let x = parts[0]
                    var out = concatenations.removeValue(forKey: rows.concat)
                        ?? Tensor(shape: [graph.ops[rows.concat].outputShape[0]] + x.tensor.shape.dropFirst(), filling: { _ in })
                    Kernels.pointwiseConv2d(x.tensor, channels: x.channels, weight: weight, bias: bias, geometry: geometry,
                                            into: &out, firstRow: rows.firstRow, rowStride: rows.rowStride)
                    concatenations[rows.concat] = out
                } else {
                    // The chain's convolution ran earlier (ops are in execution order) and made the buffer.
                    guard var out = concatenations.removeValue(forKey: rows.concat) else {
                        preconditionFailure("op \(op.name): its concatenation's buffer was not made by the convolution before it")
                    }
                    Self.applyPerChannel(op, to: &out, rows: rows, channels: channels, threads: threads)
                    concatenations[rows.concat] = out
                }
            } else if let fusion, case .concat = op.kind {
                // The parts not computed in the buffer are copied in, at their (shuffled) rows.
                let groups = fusion.shuffleAfter[i] ?? 1
                var out = concatenations.removeValue(forKey: i)
                    ?? Tensor(shape: [op.outputShape[0]] + parts[0].tensor.shape.dropFirst(), filling: { _ in })
                var (first, next) = (0, 0)
                for v in op.inputs {
                    if fusion.inConcatenation[v] == nil {
                        Kernels.placeChannels(parts[next].tensor, channels: parts[next].channels, into: &out, first: first,
                                              shuffleGroups: groups, threads: threads)
                        next += 1
                    }
                    first += graph.shape(ofValue: v)[0]
                }
                if fusion.shuffleAfter[i] != nil {
                    values[i + 2] = out
                    computedEarlier = i + 1
                } else {
                    values[i + 1] = out
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
                if case .conv2d(let geometry, let weight, let bias) = op.kind, let u = transformedWeights[i] {
                    values[i + 1] = Kernels.conv2d(inputs[0], weight: weight, bias: bias, geometry: geometry, threads: threads,
                                                   transformedWeights: u)
                } else {
                    values[i + 1] = apply(op, &inputs)
                }
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

    /// A per-channel op (`CopyFusion.isPerChannel`) in place on its channels' rows of `out`.
    static func applyPerChannel(_ op: Op, to out: inout Tensor, rows: CopyFusion.Rows, channels: Int, threads: Int) {
        func each(_ body: (Int, UnsafeMutablePointer<Float>, Int) -> Void) {
            Kernels.forEachChannelRow(&out, firstRow: rows.firstRow, rowStride: rows.rowStride, channels: channels,
                                      threads: threads, body)
        }
        switch op.kind {
        case .batchNorm(let bn):
            let (scale, shift) = (bn.scale, bn.shift)
            each { c, row, n in Kernels.affineRow(row, n, scale[c], shift[c]) }
        case .relu: each { _, row, n in Kernels.activateRow(row, n, .relu) }
        case .hardSigmoid: each { _, row, n in Kernels.activateRow(row, n, .hardSigmoid) }
        case .hardSwish: each { _, row, n in Kernels.activateRow(row, n, .hardSwish) }
        case .elementwise(let f): each { _, row, n in Kernels.applyRow(row, n, f) }
        default: preconditionFailure("op \(op.name) is not a per-channel op")
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
/// - a slice read only by concatenations and pointwise convolutions stays a view of its input
///   (its channels are copied once, by the concatenation; the convolution's GEMM reads them in
///   place: in `[C, H, W, N]` a channel range is one contiguous block);
/// - a concatenation read only by the shuffle right after it is written shuffled;
/// - a branch ending in a pointwise convolution and per-channel ops (BN, ReLU, ...) is computed
///   in the concatenation's buffer: the GEMM writes the (shuffled) rows, the per-channel ops
///   run on them in place, and nothing is copied.
/// Every value is bitwise the one the unfused ops give.
struct CopyFusion {
    /// Rows of a concatenation's buffer: a value's channel `c` is row `firstRow + c·rowStride`.
    struct Rows: Equatable {
        var concat: Int
        var firstRow: Int
        var rowStride: Int
    }

    /// `sliceIsView[i]`: op `i` is a channel slice read only by concatenations and pointwise
    /// convolutions, not the output.
    var sliceIsView: [Bool]
    /// Op `i` (a concatenation) → the groups of the channel shuffle `i + 1` that alone reads it.
    var shuffleAfter: [Int: Int] = [:]
    /// Value `v` → its rows, for a value computed in its concatenation's buffer: a part of a
    /// concatenation read by nothing else, produced by a pointwise convolution followed by
    /// per-channel ops each read only by the next, whose channels land on evenly spaced rows
    /// (all in one shuffle group: rows `j·g + i` for one `i`), and each value of that chain.
    var inConcatenation: [Int: Rows] = [:]

    /// Ops that act on each channel alone, elementwise (they can run on any rows in place).
    static func isPerChannel(_ kind: OpKind) -> Bool {
        switch kind {
        case .batchNorm, .relu, .hardSigmoid, .hardSwish, .elementwise: true
        default: false
        }
    }

    init(_ graph: Graph) {
        var readers = [[Int]](repeating: [], count: graph.ops.count + 1)
        for (i, op) in graph.ops.enumerated() { for v in op.inputs { readers[v].append(i) } }
        let isConcat: (Int) -> Bool = { if case .concat = graph.ops[$0].kind { true } else { false } }
        let isPointwise: (Int) -> Bool = { if case .conv2d(let g, _, _) = graph.ops[$0].kind { g.isPointwise } else { false } }
        sliceIsView = graph.ops.indices.map { i in
            guard case .channelSlice = graph.ops[i].kind, i != graph.outputIndex else { return false }
            return !readers[i + 1].isEmpty && readers[i + 1].allSatisfy { isConcat($0) || isPointwise($0) }
        }
        let lastUse = graph.lastUse
        for i in graph.ops.indices {
            if let groups = graph.shuffleGroupsAfterConcatenation(i, lastUse: lastUse) { shuffleAfter[i] = groups }
        }
        for (c, op) in graph.ops.enumerated() where isConcat(c) {
            let groups = shuffleAfter[c] ?? 1
            let perGroup = op.outputShape[0] / groups
            var first = 0                         // the part's first channel in the concatenation
            for v in op.inputs {
                let n = graph.shape(ofValue: v)[0]
                defer { first += n }
                guard v > 0, n > 0, readers[v] == [c], op.inputs.filter({ $0 == v }).count == 1,
                      first / perGroup == (first + n - 1) / perGroup else { continue }
                // Back from the part through per-channel ops to a pointwise convolution.
                var chain: [Int] = []
                var value = v
                while value > 0, value - 1 != graph.outputIndex {
                    let producer = graph.ops[value - 1]
                    chain.append(value)
                    if case .conv2d(let g, _, _) = producer.kind, g.isPointwise, producer.inputs.count == 1 { break }
                    guard Self.isPerChannel(producer.kind), producer.inputs.count == 1,
                          readers[producer.inputs[0]] == [value - 1] else { chain = []; break }
                    value = producer.inputs[0]
                }
                guard let root = chain.last, root > 0, case .conv2d = graph.ops[root - 1].kind else { continue }
                let rows = Rows(concat: c, firstRow: (first % perGroup) * groups + first / perGroup, rowStride: groups)
                for value in chain { inConcatenation[value] = rows }
            }
        }
    }
}

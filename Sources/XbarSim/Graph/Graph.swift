import XbarSimTensor

/// A network as a list of ops in execution order (every op's inputs come earlier).
public struct Graph: Sendable, Equatable {
    /// Shape of one input image, `[C, H, W]`.
    public var inputShape: [Int]
    public var ops: [Op]
    /// Index of the op whose output is the network output.
    public var outputIndex: Int

    public init(inputShape: [Int], ops: [Op], outputIndex: Int) {
        self.inputShape = inputShape
        self.ops = ops
        self.outputIndex = outputIndex
    }

    /// Shape of value `v` for one image (0 = input, `i + 1` = op `i`).
    public func shape(ofValue v: Int) -> [Int] { v == 0 ? inputShape : ops[v - 1].outputShape }

    /// For each value, the index of the last op that reads it (or -1), so executors can free it early.
    public var lastUse: [Int] {
        var last = [Int](repeating: -1, count: ops.count + 1)
        for (i, op) in ops.enumerated() { for v in op.inputs { last[v] = i } }
        last[outputIndex + 1] = Int.max
        return last
    }

    /// The groups of the channel shuffle right after op `i` when `i` is a concatenation that
    /// only that shuffle reads (ShuffleNet's unit output: both can be written in one copy),
    /// else nil. `lastUse` is this graph's `lastUse`.
    public func shuffleGroupsAfterConcatenation(_ i: Int, lastUse: [Int]) -> Int? {
        guard case .concat = ops[i].kind, i != outputIndex, i + 1 < ops.count,
              case .channelShuffle(let groups) = ops[i + 1].kind, ops[i + 1].inputs == [i + 1],
              lastUse[i + 1] == i + 1 else { return nil }
        return groups
    }

    /// Multiply-accumulates per image of all convolutions and linear layers.
    public var macsPerImage: Int {
        ops.reduce(0) { total, op in
            switch op.kind {
            case .conv2d(let g, _, _): total + g.macsPerImage
            case .linear(let i, let o, _, _): total + i * o
            default: total
            }
        }
    }

    /// Number of classes (features of the output).
    public var outputFeatures: Int { ops[outputIndex].outputShape.reduce(1, *) }
}

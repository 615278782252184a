import XbarSimIO
import XbarSimTensor

extension ModelFile {
    /// Writes a model in the format `load` reads (used to generate test files and
    /// to re-save models; PyTorch models are exported by `Weights/export.py`).
    public static func write(_ model: Model, to path: String, checksum: Bool = true) throws {
        try writeContents(model, to: path)
        guard checksum else { return }
        let file = try HDF5File(openingForWriting: path)
        try file.root().setAttribute("checksum", string: try canonicalChecksum(file, numOps: model.graph.ops.count))
    }

    static func writeContents(_ model: Model, to path: String) throws {
        let file = try HDF5File(creating: path)
        let root = try file.root()
        let m = model.metadata
        try root.setAttribute("format", string: formatName)
        try root.setAttribute("format_version", ints: [m.formatVersion], scalar: true)
        try root.setAttribute("architecture", string: m.architecture)
        try root.setAttribute("input_shape", ints: m.inputShape)
        try root.setAttribute("normalization_mean", doubles: m.normalizationMean.map(Double.init))
        try root.setAttribute("normalization_std", doubles: m.normalizationStd.map(Double.init))
        try root.setAttribute("class_names", strings: m.classNames)
        try root.setAttribute("output", string: model.graph.ops[model.graph.outputIndex].name)
        try root.setAttribute("num_ops", ints: [model.graph.ops.count], scalar: true)
        let p = m.provenance
        try root.setAttribute("training_command", string: p.trainingCommand)
        try root.setAttribute("training_epochs", ints: [p.trainingEpochs], scalar: true)
        try root.setAttribute("training_seed", ints: [p.trainingSeed], scalar: true)
        try root.setAttribute("training_wall_seconds", doubles: [p.trainingWallSeconds], scalar: true)
        try root.setAttribute("training_hardware", string: p.trainingHardware)
        try root.setAttribute("float_test_accuracy", doubles: [p.floatTestAccuracy ?? -1], scalar: true)
        try root.setAttribute("exporter", string: p.exporter)
        if !p.trainingNoise.isEmpty { try root.setAttribute("training_noise", string: p.trainingNoise) }

        let opsGroup = try root.createGroup("ops")
        let valueNames = ["input"] + model.graph.ops.map(\.name)
        for (i, op) in model.graph.ops.enumerated() {
            let g = try opsGroup.createGroup(groupName(i))
            try g.setAttribute("name", string: op.name)
            try g.setAttribute("type", string: op.kind.typeName)
            try g.setAttribute("inputs", strings: op.inputs.map { valueNames[$0] })
            switch op.kind {
            case .conv2d(let geo, let weight, let bias):
                try g.setAttribute("stride", ints: [geo.strideHeight, geo.strideWidth])
                try g.setAttribute("padding", ints: [geo.paddingHeight, geo.paddingWidth])
                try g.setAttribute("dilation", ints: [geo.dilationHeight, geo.dilationWidth])
                try g.setAttribute("groups", ints: [geo.groups], scalar: true)
                try g.write("weight", shape: [geo.outChannels, geo.channelsPerGroup, geo.kernelHeight, geo.kernelWidth],
                            floats: weight)
                if let bias { try g.write("bias", shape: [bias.count], floats: bias) }
            case .batchNorm(let bn):
                try g.setAttribute("eps", doubles: [bn.epsilon], scalar: true)
                try g.write("gamma", shape: [bn.channels], floats: bn.gamma)
                try g.write("beta", shape: [bn.channels], floats: bn.beta)
                try g.write("running_mean", shape: [bn.channels], floats: bn.runningMean)
                try g.write("running_var", shape: [bn.channels], floats: bn.runningVariance)
            case .linear(let inFeatures, let outFeatures, let weight, let bias):
                try g.write("weight", shape: [outFeatures, inFeatures], floats: weight)
                try g.write("bias", shape: [outFeatures], floats: bias ?? [Float](repeating: 0, count: outFeatures))
            case .maxPool(let p), .avgPool(let p, _):
                try g.setAttribute("kernel", ints: [p.kernelHeight, p.kernelWidth])
                try g.setAttribute("stride", ints: [p.strideHeight, p.strideWidth])
                try g.setAttribute("padding", ints: [p.paddingHeight, p.paddingWidth])
                try g.setAttribute("ceil_mode", ints: [p.ceilMode ? 1 : 0], scalar: true)
                if case .avgPool(_, let countIncludePad) = op.kind {
                    try g.setAttribute("count_include_pad", ints: [countIncludePad ? 1 : 0], scalar: true)
                } else {
                    try g.setAttribute("dilation", ints: [p.dilationHeight, p.dilationWidth])
                }
            case .concat:
                try g.setAttribute("axis", ints: [1], scalar: true)
            case .channelSlice(let start, let stop):
                try g.setAttribute("start", ints: [start], scalar: true)
                try g.setAttribute("stop", ints: [stop], scalar: true)
            case .channelShuffle(let groups):
                try g.setAttribute("groups", ints: [groups], scalar: true)
            case .elementwise(let f):
                switch f {
                case .clamp(let lo, let hi):
                    if let lo { try g.setAttribute("min", doubles: [Double(lo)], scalar: true) }
                    if let hi { try g.setAttribute("max", doubles: [Double(hi)], scalar: true) }
                case .gelu(let approx): try g.setAttribute("approximate", string: approx ? "tanh" : "none")
                case .leakyReLU(let s): try g.setAttribute("negative_slope", doubles: [Double(s)], scalar: true)
                case .elu(let a): try g.setAttribute("alpha", doubles: [Double(a)], scalar: true)
                case .softplus(let beta, let threshold):
                    try g.setAttribute("beta", doubles: [Double(beta)], scalar: true)
                    try g.setAttribute("threshold", doubles: [Double(threshold)], scalar: true)
                case .sigmoid, .tanh, .silu, .mish: break
                }
            case .relu, .hardSigmoid, .hardSwish, .add, .mul, .globalAveragePool, .flatten:
                break
            }
        }
        if let golden = model.golden {
            let g = try root.createGroup("golden")
            try g.write("test_indices", shape: [golden.testIndices.count], ints: golden.testIndices.map { Int64($0) })
            try g.write("labels", shape: [golden.labels.count], ints: golden.labels.map { Int64($0) })
            try g.write("logits", shape: golden.logits.shape, floats: golden.logits.scalars)
            let opsGolden = try g.createGroup("ops")
            try opsGolden.setAttribute("image_index", ints: [golden.opImageIndex], scalar: true)
            for (i, output) in golden.opOutputs.enumerated() {
                if let output { try opsGolden.write(groupName(i), shape: output.shape, floats: output.scalars) }
            }
        }
    }
}

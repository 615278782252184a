import XbarSimIO
import XbarSimTensor

/// Reads and writes the XbarSim HDF5 model format (`Weights/FORMAT.md`).
public enum ModelFile {
    public static let formatName = "xbarsim-model"
    public static let formatVersion = 1
    /// Op types the format reserves for later versions; rejected with a clear message.
    public static let reservedTypes: Set<String> = ["max_pool", "concat", "channel_split", "channel_shuffle"]

    /// Loads and validates a model: every op type known, every input defined earlier,
    /// every tensor present with the shape its op needs, no NaN or Inf anywhere.
    public static func load(_ path: String) throws -> Model {
        let file = try HDF5File(readingFrom: path)
        let root = try file.root()
        func fail(_ object: String, _ message: String) -> ModelError {
            ModelError(file: path, object: object, message: message)
        }
        let format = try root.string("format")
        guard format == formatName else {
            throw fail("/@format", "is '\(format)', expected '\(formatName)' (not an XbarSim model file)")
        }
        let version = try root.int("format_version")
        guard version == formatVersion else {
            throw fail("/@format_version", "version \(version) is not supported (this XbarSim reads version \(formatVersion))")
        }
        let inputShape = try root.ints("input_shape")
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw fail("/@input_shape", "expected 3 positive integers [C, H, W], found \(inputShape)")
        }
        let mean = try root.doubles("normalization_mean").map(Float.init)
        let std = try root.doubles("normalization_std").map(Float.init)
        guard mean.count == inputShape[0], mean.allSatisfy(\.isFinite) else {
            throw fail("/@normalization_mean", "expected \(inputShape[0]) finite values, found \(mean)")
        }
        guard std.count == inputShape[0], std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw fail("/@normalization_std", "expected \(inputShape[0]) positive finite values, found \(std)")
        }
        let accuracy = root.hasAttribute("float_test_accuracy") ? try root.double("float_test_accuracy") : -1
        let provenance = Provenance(
            trainingCommand: root.hasAttribute("training_command") ? try root.string("training_command") : "",
            trainingEpochs: root.hasAttribute("training_epochs") ? try root.int("training_epochs") : -1,
            trainingSeed: root.hasAttribute("training_seed") ? try root.int("training_seed") : -1,
            trainingWallSeconds: root.hasAttribute("training_wall_seconds") ? try root.double("training_wall_seconds") : -1,
            trainingHardware: root.hasAttribute("training_hardware") ? try root.string("training_hardware") : "",
            floatTestAccuracy: (0...1).contains(accuracy) ? accuracy : nil,
            exporter: root.hasAttribute("exporter") ? try root.string("exporter") : "")
        let metadata = ModelMetadata(
            formatVersion: version, architecture: try root.string("architecture"), inputShape: inputShape,
            normalizationMean: mean, normalizationStd: std, classNames: try root.strings("class_names"),
            provenance: provenance)

        let count = try root.int("num_ops")
        guard count > 0 else { throw fail("/@num_ops", "must be positive, found \(count)") }
        var valueIndex = ["input": 0]
        var ops: [Op] = []
        for i in 0..<count {
            let op = try loadOp(file: file, index: i, valueIndex: valueIndex, graphSoFar: ops, inputShape: inputShape)
            guard valueIndex[op.name] == nil else {
                throw ModelError(file: path, object: op.path, op: op.name, message: "duplicate op name")
            }
            valueIndex[op.name] = i + 1
            ops.append(op)
        }
        let outputName = try root.string("output")
        guard let outputValue = valueIndex[outputName], outputValue > 0 else {
            throw fail("/@output", "names '\(outputName)', which is not an op of the graph")
        }
        let graph = Graph(inputShape: inputShape, ops: ops, outputIndex: outputValue - 1)
        guard metadata.classNames.count == graph.outputFeatures else {
            throw fail("/@class_names", "\(metadata.classNames.count) names for \(graph.outputFeatures) outputs")
        }
        let golden = root.contains("golden") ? try loadGolden(file: file, graph: graph) : nil
        return Model(path: path, metadata: metadata, graph: graph, golden: golden)
    }

    /// The group name of op `index`, e.g. `0003`.
    public static func groupName(_ index: Int) -> String {
        let s = String(index)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    static func loadOp(file: HDF5File, index: Int, valueIndex: [String: Int], graphSoFar: [Op], inputShape: [Int]) throws -> Op {
        let path = "/ops/" + groupName(index)
        guard try file.root().contains("ops"), try file.group("/ops").contains(groupName(index)) else {
            throw ModelError(file: file.path, object: path, message: "op group is missing (num_ops says there are more ops)")
        }
        let g = try file.group(path)
        let name = try g.string("name")
        let type = try g.string("type")
        func fail(_ message: String) -> ModelError { ModelError(file: file.path, object: path, op: name, message: message) }
        let inputNames = try g.strings("inputs")
        let inputs = try inputNames.map { input in
            guard let v = valueIndex[input] else {
                throw fail("input '\(input)' is not the network input or an earlier op")
            }
            return v
        }
        let shapes = inputs.map { $0 == 0 ? inputShape : graphSoFar[$0 - 1].outputShape }
        func expectInputs(_ n: Int) throws {
            guard inputs.count == n else { throw fail("\(type) takes \(n) input(s), found \(inputs.count)") }
        }
        func tensor(_ field: String, shape expected: [Int]? = nil) throws -> HDF5Array<Float> {
            guard g.contains(field) else { throw fail("tensor '\(field)' is missing") }
            let array = try g.readFloats(field)
            if let expected, array.shape != expected {
                throw fail("tensor '\(field)' has shape \(array.shape), expected \(expected)")
            }
            if let bad = array.values.firstIndex(where: { !$0.isFinite }) {
                throw fail("tensor '\(field)' has a non-finite value (\(array.values[bad])) at flat index \(bad)")
            }
            return array
        }
        func pair(_ field: String, default value: Int? = nil) throws -> (Int, Int) {
            if !g.hasAttribute(field), let value { return (value, value) }
            let v = try g.ints(field)
            switch v.count {
            case 1: return (v[0], v[0])
            case 2: return (v[0], v[1])
            default: throw fail("attribute '\(field)' has \(v.count) values, expected 2")
            }
        }

        let kind: OpKind
        let outputShape: [Int]
        switch type {
        case "conv2d":
            try expectInputs(1)
            let x = shapes[0]
            guard x.count == 3 else { throw fail("conv2d needs a [C, H, W] input, found \(x)") }
            let w = try tensor("weight")
            guard w.shape.count == 4 else { throw fail("tensor 'weight' has shape \(w.shape), expected 4 dimensions (out, in/groups, kh, kw)") }
            let groups = g.hasAttribute("groups") ? try g.int("groups") : 1
            let stride = try pair("stride", default: 1)
            let padding = try pair("padding", default: 0)
            let dilation = try pair("dilation", default: 1)
            guard groups > 0, x[0] % groups == 0, w.shape[0] % groups == 0 else {
                throw fail("groups = \(groups) does not divide input channels \(x[0]) and output channels \(w.shape[0])")
            }
            guard w.shape[1] * groups == x[0] else {
                throw fail("tensor 'weight' has shape \(w.shape): in/groups = \(w.shape[1]) but the input has \(x[0]) channels and groups = \(groups)")
            }
            guard stride.0 > 0, stride.1 > 0, dilation.0 > 0, dilation.1 > 0, padding.0 >= 0, padding.1 >= 0 else {
                throw fail("stride \(stride), padding \(padding), dilation \(dilation) out of range")
            }
            let geometry = Conv2DGeometry(
                inChannels: x[0], outChannels: w.shape[0], kernel: (w.shape[2], w.shape[3]), stride: stride,
                padding: padding, dilation: dilation, groups: groups, input: (x[1], x[2]))
            guard geometry.outHeight > 0, geometry.outWidth > 0 else {
                throw fail("kernel \(w.shape[2])x\(w.shape[3]) does not fit the \(x[1])x\(x[2]) input")
            }
            let bias = g.contains("bias") ? try tensor("bias", shape: [w.shape[0]]).values : nil
            kind = .conv2d(geometry: geometry, weight: w.values, bias: bias)
            outputShape = [w.shape[0], geometry.outHeight, geometry.outWidth]
        case "batchnorm":
            try expectInputs(1)
            let c = shapes[0][0]
            let eps = try g.double("eps")
            let p = BatchNormParameters(
                gamma: try tensor("gamma", shape: [c]).values, beta: try tensor("beta", shape: [c]).values,
                runningMean: try tensor("running_mean", shape: [c]).values,
                runningVariance: try tensor("running_var", shape: [c]).values, epsilon: eps)
            guard eps >= 0, eps.isFinite, p.runningVariance.allSatisfy({ Double($0) + eps > 0 }) else {
                throw fail("running_var + eps must be positive (eps = \(eps))")
            }
            kind = .batchNorm(p)
            outputShape = shapes[0]
        case "relu", "hardsigmoid", "hardswish":
            try expectInputs(1)
            kind = type == "relu" ? .relu : type == "hardsigmoid" ? .hardSigmoid : .hardSwish
            outputShape = shapes[0]
        case "add":
            try expectInputs(2)
            guard shapes[0] == shapes[1] else { throw fail("add of shapes \(shapes[0]) and \(shapes[1]) (must be equal)") }
            kind = .add
            outputShape = shapes[0]
        case "mul":
            try expectInputs(2)
            let (a, b) = (shapes[0], shapes[1])
            let broadcastable = a == b
                || (a.count == 3 && b == [a[0], 1, 1]) || (b.count == 3 && a == [b[0], 1, 1])
            guard broadcastable else { throw fail("mul of shapes \(a) and \(b) (must be equal, or [C,1,1] with [C,H,W])") }
            kind = .mul
            outputShape = a.reduce(1, *) >= b.reduce(1, *) ? a : b
        case "global_avg_pool":
            try expectInputs(1)
            guard shapes[0].count == 3 else { throw fail("global_avg_pool needs a [C, H, W] input, found \(shapes[0])") }
            kind = .globalAveragePool
            outputShape = [shapes[0][0], 1, 1]
        case "flatten":
            try expectInputs(1)
            kind = .flatten
            outputShape = [shapes[0].reduce(1, *)]
        case "linear":
            try expectInputs(1)
            guard shapes[0].count == 1 else { throw fail("linear needs a flat [features] input, found \(shapes[0]) (add a flatten op)") }
            let w = try tensor("weight")
            guard w.shape.count == 2, w.shape[1] == shapes[0][0] else {
                throw fail("tensor 'weight' has shape \(w.shape), expected [out, \(shapes[0][0])]")
            }
            let bias = g.contains("bias") ? try tensor("bias", shape: [w.shape[0]]).values : nil
            kind = .linear(inFeatures: w.shape[1], outFeatures: w.shape[0], weight: w.values, bias: bias)
            outputShape = [w.shape[0]]
        default:
            if reservedTypes.contains(type) {
                throw fail("op type '\(type)' is reserved for a later format version and not supported yet")
            }
            throw fail("unknown op type '\(type)'")
        }
        return Op(name: name, path: path, kind: kind, inputs: inputs, outputShape: outputShape)
    }

    static func loadGolden(file: HDF5File, graph: Graph) throws -> GoldenData {
        let g = try file.group("/golden")
        let logits = try g.readFloats("logits")
        let k = graph.outputFeatures
        guard logits.shape.count == 2, logits.shape[1] == k else {
            throw ModelError(file: file.path, object: "/golden/logits",
                             message: "has shape \(logits.shape), expected [images, \(k)]")
        }
        let labels = try g.readInts("labels").values.map { Int($0) }
        let indices = try g.readInts("test_indices").values.map { Int($0) }
        guard labels.count == logits.shape[0], indices.count == logits.shape[0] else {
            throw ModelError(file: file.path, object: "/golden",
                             message: "labels (\(labels.count)) and test_indices (\(indices.count)) must match logits rows (\(logits.shape[0]))")
        }
        var outputs = [Tensor?](repeating: nil, count: graph.ops.count)
        var imageIndex = 0
        if g.contains("ops") {
            let opsGroup = try g.group("ops")
            if opsGroup.hasAttribute("image_index") { imageIndex = try opsGroup.int("image_index") }
            for (i, op) in graph.ops.enumerated() where opsGroup.contains(groupName(i)) {
                let a = try opsGroup.readFloats(groupName(i))
                guard a.shape.reduce(1, *) == op.outputShape.reduce(1, *) else {
                    throw ModelError(file: file.path, object: "/golden/ops/\(groupName(i))", op: op.name,
                                     message: "has shape \(a.shape), but the op's output is \(op.outputShape)")
                }
                outputs[i] = Tensor(shape: op.outputShape, scalars: a.values)
            }
        }
        return GoldenData(testIndices: indices, labels: labels,
                          logits: Tensor(shape: logits.shape, scalars: logits.values),
                          opImageIndex: imageIndex, opOutputs: outputs)
    }
}

import XbarSimIO
import XbarSimTensor

/// Reads and writes the XbarSim HDF5 model format (`Weights/FORMAT.md`).
public enum ModelFile {
    public static let formatName = "xbarsim-model"
    /// The version this XbarSim writes; it reads every version in `readableVersions`.
    public static let formatVersion = 2
    /// Version 1 is version 2 without the pooling, channel-wiring and digital-function ops.
    public static let readableVersions: ClosedRange<Int> = 1...2
    /// Op types the format reserves for later versions; rejected with a clear message.
    public static let reservedTypes: Set<String> = ["max_pool", "channel_split"]
    /// Largest element count of one op's output for one image (2^28 floats, 1 GiB), so a
    /// corrupted shape is an error, not an attempt to allocate it.
    public static let maxElementsPerImage = 1 << 28

    /// Loads and validates a model: every op type known, every input defined earlier,
    /// every tensor present with the shape its op needs, no NaN or Inf anywhere.
    ///
    /// - Parameter verify: check the stored SHA-256 (`checksum` attribute); a mismatch is an
    ///   error. With `false` a mismatch is reported in `Model.integrity` instead (`--no-verify`).
    public static func load(_ path: String, verify: Bool = true) throws -> Model {
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
        guard readableVersions.contains(version) else {
            throw fail("/@format_version", "version \(version) is not supported (this XbarSim reads versions \(readableVersions.lowerBound)-\(readableVersions.upperBound))")
        }
        // Integrity first: a changed or corrupted field is reported as that, before it can
        // cause a confusing error (or a silently wrong model) further down.
        var integrity = ModelIntegrity.unchecked
        if root.hasAttribute("checksum") {
            let stored = try root.string("checksum")
            let numOps = min(max(0, (try? root.int("num_ops")) ?? 0), 1 << 20)
            let computed = try canonicalChecksum(file, numOps: numOps)
            if stored == computed {
                integrity = .verified
            } else if verify {
                throw fail("/@checksum", "is \(stored.prefix(23))... but the contents hash to \(computed.prefix(23))...: the file was "
                           + "changed or corrupted after export (--no-verify loads it anyway)")
            } else {
                integrity = .mismatchIgnored(stored: stored, computed: computed)
            }
        }
        let inputShape = try root.ints("input_shape")
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }),
              inputShape[0] * inputShape[1] * inputShape[2] <= maxElementsPerImage else {
            throw fail("/@input_shape", "expected 3 positive integers [C, H, W] (each <= 65536, at most 2^28 values), found \(inputShape)")
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
            exporter: root.hasAttribute("exporter") ? try root.string("exporter") : "",
            trainingNoise: root.hasAttribute("training_noise") ? try root.string("training_noise") : "")
        let metadata = ModelMetadata(
            formatVersion: version, architecture: try root.string("architecture"), inputShape: inputShape,
            normalizationMean: mean, normalizationStd: std, classNames: try root.strings("class_names"),
            provenance: provenance)

        let count = try root.int("num_ops")
        guard count > 0 else { throw fail("/@num_ops", "must be positive, found \(count)") }
        var valueIndex = ["input": 0]
        var ops: [Op] = []
        for i in 0..<count {
            let op = try loadOp(file: file, index: i, valueIndex: valueIndex, graphSoFar: ops, inputShape: inputShape,
                                version: version)
            guard op.outputShape.allSatisfy({ $0 > 0 }),
                  op.outputShape.reduce(1, { $0 > maxElementsPerImage ? $0 : $0 * $1 }) <= maxElementsPerImage else {
                throw ModelError(file: path, object: op.path, op: op.name,
                                 message: "output shape \(op.outputShape) has more than 2^28 values per image")
            }
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
        var model = Model(path: path, metadata: metadata, graph: graph, golden: golden)
        model.integrity = integrity
        return model
    }

    /// The group name of op `index`, e.g. `0003`.
    public static func groupName(_ index: Int) -> String {
        let s = String(index)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    static func loadOp(
        file: HDF5File, index: Int, valueIndex: [String: Int], graphSoFar: [Op], inputShape: [Int], version: Int
    ) throws -> Op {
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
        func required(_ field: String) throws {
            guard g.hasAttribute(field) else { throw fail("required attribute '\(field)' of \(type) is missing") }
        }
        /// An int[2] attribute (FORMAT.md: required wherever it is listed), each value in `range`.
        func pair(_ field: String, in range: ClosedRange<Int>) throws -> (Int, Int) {
            try required(field)
            let v = try g.ints(field)
            guard v.count == 2 else { throw fail("attribute '\(field)' has \(v.count) values, expected 2") }
            guard range.contains(v[0]), range.contains(v[1]) else {
                throw fail("attribute '\(field)' is \(v), each value must be in \(range.lowerBound)...\(range.upperBound)")
            }
            return (v[0], v[1])
        }
        func int(_ field: String, in range: ClosedRange<Int>) throws -> Int {
            try required(field)
            let v = try g.int(field)
            guard range.contains(v) else {
                throw fail("attribute '\(field)' is \(v), must be in \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        func real(_ field: String, optional: Bool = false) throws -> Double? {
            if optional && !g.hasAttribute(field) { return nil }
            try required(field)
            let v = try g.double(field)
            guard v.isFinite else { throw fail("attribute '\(field)' is \(v), must be finite") }
            return v
        }
        func needsVersion2() throws {
            guard version >= 2 else { throw fail("op type '\(type)' needs format_version 2, the file says \(version)") }
        }
        func spatial(_ what: String) throws -> [Int] {
            guard shapes[0].count == 3 else { throw fail("\(what) needs a [C, H, W] input, found \(shapes[0])") }
            return shapes[0]
        }
        /// Sizes (kernel, stride, padding, dilation) stay far below what could overflow a product.
        let dims = 0...(1 << 16)

        let kind: OpKind
        let outputShape: [Int]
        switch type {
        case "conv2d":
            try expectInputs(1)
            let x = shapes[0]
            guard x.count == 3 else { throw fail("conv2d needs a [C, H, W] input, found \(x)") }
            let w = try tensor("weight")
            guard w.shape.count == 4 else { throw fail("tensor 'weight' has shape \(w.shape), expected 4 dimensions (out, in/groups, kh, kw)") }
            let groups = try int("groups", in: 1...(1 << 20))
            let stride = try pair("stride", in: dims)
            let padding = try pair("padding", in: dims)
            let dilation = try pair("dilation", in: dims)
            guard w.shape.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else {
                throw fail("tensor 'weight' has shape \(w.shape), every dimension must be in 1...65536")
            }
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
            try required("eps")
            let eps = try g.double("eps")
            guard eps >= 0, eps <= 1 else { throw fail("attribute 'eps' is \(eps), must be in 0...1") }
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
            let bias = try tensor("bias", shape: [w.shape[0]]).values
            kind = .linear(inFeatures: w.shape[1], outFeatures: w.shape[0], weight: w.values, bias: bias)
            outputShape = [w.shape[0]]
        case "max_pool2d", "avg_pool2d":
            try needsVersion2()
            try expectInputs(1)
            let x = try spatial(type)
            let isMax = type == "max_pool2d"
            let pool = PoolGeometry(
                channels: x[0], input: (x[1], x[2]), kernel: try pair("kernel", in: dims), stride: try pair("stride", in: dims),
                padding: try pair("padding", in: dims), dilation: isMax ? try pair("dilation", in: dims) : (1, 1),
                ceilMode: try int("ceil_mode", in: 0...1) == 1)
            if let reason = pool.invalidReason { throw fail(reason) }
            kind = isMax ? .maxPool(pool) : .avgPool(pool, countIncludePad: try int("count_include_pad", in: 0...1) == 1)
            outputShape = [x[0], pool.outHeight, pool.outWidth]
        case "concat":
            try needsVersion2()
            guard inputs.count >= 2 else { throw fail("concat takes 2 or more inputs, found \(inputs.count)") }
            _ = try int("axis", in: 1...1)  // the channel axis of (N, C, H, W)
            let first = shapes[0]
            for (k, s) in shapes.enumerated() where s.count != first.count || s.dropFirst() != first.dropFirst() {
                throw fail("concat input \(k) ('\(inputNames[k])') has shape \(s); every input must match \(first) except in channels")
            }
            outputShape = [shapes.reduce(0) { $0 + $1[0] }] + first.dropFirst()
            kind = .concat
        case "channel_slice":
            try needsVersion2()
            try expectInputs(1)
            let c = shapes[0][0]
            let start = try int("start", in: 0...(c - 1))
            let stop = try int("stop", in: (start + 1)...c)
            kind = .channelSlice(start: start, stop: stop)
            outputShape = [stop - start] + shapes[0].dropFirst()
        case "channel_shuffle":
            try needsVersion2()
            try expectInputs(1)
            let x = try spatial(type)
            let groups = try int("groups", in: 1...x[0])
            guard x[0] % groups == 0 else { throw fail("groups = \(groups) does not divide the \(x[0]) channels") }
            kind = .channelShuffle(groups: groups)
            outputShape = x
        case _ where ElementwiseFunction.typeNames.contains(type):
            try needsVersion2()
            try expectInputs(1)
            let f: ElementwiseFunction
            switch type {
            case "clamp":
                let lo = try real("min", optional: true), hi = try real("max", optional: true)
                if let lo, let hi, lo > hi { throw fail("attribute 'min' (\(lo)) is above 'max' (\(hi))") }
                f = .clamp(lower: lo.map(Float.init), upper: hi.map(Float.init))
            case "sigmoid": f = .sigmoid
            case "tanh": f = .tanh
            case "silu": f = .silu
            case "mish": f = .mish
            case "gelu":
                try required("approximate")
                let a = try g.string("approximate")
                guard a == "none" || a == "tanh" else { throw fail("attribute 'approximate' is '\(a)', expected 'none' or 'tanh'") }
                f = .gelu(tanhApproximation: a == "tanh")
            case "leaky_relu": f = .leakyReLU(negativeSlope: Float(try real("negative_slope") ?? 0))
            case "elu": f = .elu(alpha: Float(try real("alpha") ?? 1))
            default:
                let beta = try real("beta") ?? 1
                guard beta != 0 else { throw fail("attribute 'beta' must not be 0") }
                f = .softplus(beta: Float(beta), threshold: Float(try real("threshold") ?? 20))
            }
            kind = .elementwise(f)
            outputShape = shapes[0]
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

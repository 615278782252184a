import Foundation
import Testing
@testable import XbarSim

/// A small CNN with every op type: conv, BN, hard-swish, an SE branch
/// (pool, 1x1 convs with bias, ReLU, hard-sigmoid, multiply), residual add, GAP, flatten, linear.
func tinyModel() -> Model {
    var v = TestValues(seed: 42)
    func conv(_ cin: Int, _ cout: Int, _ k: Int, groups: Int = 1, hw: Int, bias: Bool) -> OpKind {
        let g = Conv2DGeometry(inChannels: cin, outChannels: cout, kernel: (k, k), padding: (k / 2, k / 2),
                               groups: groups, input: (hw, hw))
        return .conv2d(geometry: g, weight: v.array(cout * g.fanIn), bias: bias ? v.array(cout) : nil)
    }
    let bn = BatchNormParameters(gamma: v.array(4), beta: v.array(4), runningMean: v.array(4),
                                 runningVariance: v.array(4).map { abs($0) + 0.5 }, epsilon: 1e-3)
    let ops: [Op] = [
        Op(name: "c1", path: "", kind: conv(2, 4, 3, hw: 4, bias: false), inputs: [0], outputShape: [4, 4, 4]),
        Op(name: "bn1", path: "", kind: .batchNorm(bn), inputs: [1], outputShape: [4, 4, 4]),
        Op(name: "act1", path: "", kind: .hardSwish, inputs: [2], outputShape: [4, 4, 4]),
        Op(name: "dw", path: "", kind: conv(4, 4, 3, groups: 4, hw: 4, bias: false), inputs: [3], outputShape: [4, 4, 4]),
        Op(name: "se.pool", path: "", kind: .globalAveragePool, inputs: [4], outputShape: [4, 1, 1]),
        Op(name: "se.fc1", path: "", kind: conv(4, 2, 1, hw: 1, bias: true), inputs: [5], outputShape: [2, 1, 1]),
        Op(name: "se.relu", path: "", kind: .relu, inputs: [6], outputShape: [2, 1, 1]),
        Op(name: "se.fc2", path: "", kind: conv(2, 4, 1, hw: 1, bias: true), inputs: [7], outputShape: [4, 1, 1]),
        Op(name: "se.gate", path: "", kind: .hardSigmoid, inputs: [8], outputShape: [4, 1, 1]),
        Op(name: "se.mul", path: "", kind: .mul, inputs: [9, 4], outputShape: [4, 4, 4]),
        Op(name: "res", path: "", kind: .add, inputs: [10, 3], outputShape: [4, 4, 4]),
        Op(name: "pool", path: "", kind: .globalAveragePool, inputs: [11], outputShape: [4, 1, 1]),
        Op(name: "flat", path: "", kind: .flatten, inputs: [12], outputShape: [4]),
        Op(name: "fc", path: "", kind: .linear(inFeatures: 4, outFeatures: 3, weight: v.array(12), bias: v.array(3)),
           inputs: [13], outputShape: [3]),
    ]
    let meta = ModelMetadata(architecture: "tiny", inputShape: [2, 4, 4], normalizationMean: [0.5, 0.5],
                             normalizationStd: [0.25, 0.25], classNames: ["a", "b", "c"],
                             provenance: Provenance(trainingCommand: "none", floatTestAccuracy: 0.5))
    return Model(path: "", metadata: meta, graph: Graph(inputShape: [2, 4, 4], ops: ops, outputIndex: ops.count - 1))
}

/// One raw op group for hand-made (possibly broken) files.
struct RawOp: Sendable {
    var name: String
    var type: String
    var inputs: [String]
    var ints: [String: [Int]] = [:]
    var doubles: [String: Double] = [:]
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
}

/// Writes a model file op by op, bypassing `ModelFile.write`, so tests can break any part.
func writeRawModel(_ path: String, inputShape: [Int] = [1, 4, 4], ops: [RawOp], output: String? = nil,
                   format: String = "xbarsim-model", version: Int = 1, classes: Int = 2) throws {
    let root = try HDF5File(creating: path).root()
    try root.setAttribute("format", string: format)
    try root.setAttribute("format_version", ints: [version], scalar: true)
    try root.setAttribute("architecture", string: "raw")
    try root.setAttribute("input_shape", ints: inputShape)
    try root.setAttribute("normalization_mean", doubles: [Double](repeating: 0, count: inputShape[0]))
    try root.setAttribute("normalization_std", doubles: [Double](repeating: 1, count: inputShape[0]))
    try root.setAttribute("class_names", strings: (0..<classes).map { "class\($0)" })
    try root.setAttribute("output", string: output ?? ops.last?.name ?? "")
    try root.setAttribute("num_ops", ints: [ops.count], scalar: true)
    let group = try root.createGroup("ops")
    for (i, op) in ops.enumerated() {
        let g = try group.createGroup(ModelFile.groupName(i))
        try g.setAttribute("name", string: op.name)
        try g.setAttribute("type", string: op.type)
        try g.setAttribute("inputs", strings: op.inputs)
        for (k, v) in op.ints { try g.setAttribute(k, ints: v, scalar: v.count == 1) }
        for (k, v) in op.doubles { try g.setAttribute(k, doubles: [v], scalar: true) }
        for (k, t) in op.tensors { try g.write(k, shape: t.shape, floats: t.values) }
    }
}

/// A valid raw model: conv 1->2 (3x3, pad 1) on 4x4, GAP, flatten, linear 2->2.
func validRawOps() -> [RawOp] {
    [
        RawOp(name: "conv", type: "conv2d", inputs: ["input"], ints: ["stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": [1]],
              tensors: ["weight": ([2, 1, 3, 3], [Float](repeating: 0.1, count: 18))]),
        RawOp(name: "pool", type: "global_avg_pool", inputs: ["conv"]),
        RawOp(name: "flat", type: "flatten", inputs: ["pool"]),
        RawOp(name: "fc", type: "linear", inputs: ["flat"],
              tensors: ["weight": ([2, 2], [1, 0, 0, 1]), "bias": ([2], [0, 0])]),
    ]
}

struct ModelFileTests {
    @Test func writeThenLoadGivesTheSameModel() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tiny.h5"
        var model = tinyModel()
        try ModelFile.write(model, to: path)
        let loaded = try ModelFile.load(path)
        for (i, _) in model.graph.ops.enumerated() { model.graph.ops[i].path = "/ops/" + ModelFile.groupName(i) }
        #expect(loaded.graph == model.graph)
        #expect(loaded.metadata == model.metadata)
        #expect(loaded.graph.macsPerImage == 2 * 4 * 16 * 9 + 4 * 16 * 9 + 8 + 8 + 12)
    }

    @Test func validRawModelLoadsAndRuns() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/raw.h5"
        try writeRawModel(path, ops: validRawOps())
        let model = try ModelFile.load(path)
        // All-ones 4x4 image; 3x3 kernel of 0.1 with zero padding: corner 0.4, edge 0.6, centre 0.9.
        // Mean over the 16 pixels: (4*0.4 + 8*0.6 + 4*0.9) / 16 = 0.625, same for both channels.
        let y = try FloatExecutor(graph: model.graph).run(Tensor(shape: [1, 4, 4, 1], scalars: [Float](repeating: 1, count: 16)))
        #expect(y.shape == [2, 1])
        for v in y.scalars { #expect(abs(v - 0.625) < 1e-6) }
    }

    /// (description, how to break the valid model, the expected message fragment)
    static let brokenCases: [(String, @Sendable ([RawOp]) -> [RawOp], String)] = [
        ("unknown op", { var o = $0; o[1].type = "softmax"; return o }, "/ops/0001 (op 'pool'): unknown op type 'softmax'"),
        ("reserved op", { var o = $0; o[1].type = "max_pool"; return o },
         "(op 'pool'): op type 'max_pool' is reserved for a later format version"),
        ("missing tensor", { var o = $0; o[3].tensors["weight"] = nil; return o }, "(op 'fc'): tensor 'weight' is missing"),
        ("conv channels", { var o = $0; o[0].tensors["weight"] = ([2, 3, 3, 3], [Float](repeating: 0, count: 54)); return o },
         "(op 'conv'): tensor 'weight' has shape [2, 3, 3, 3]: in/groups = 3 but the input has 1 channels"),
        ("linear shape", { var o = $0; o[3].tensors["weight"] = ([2, 3], [Float](repeating: 0, count: 6)); return o },
         "(op 'fc'): tensor 'weight' has shape [2, 3], expected [out, 2]"),
        ("bias shape", { var o = $0; o[3].tensors["bias"] = ([3], [0, 0, 0]); return o },
         "(op 'fc'): tensor 'bias' has shape [3], expected [2]"),
        ("NaN", { var o = $0; o[3].tensors["weight"] = ([2, 2], [1, .nan, 0, 1]); return o },
         "(op 'fc'): tensor 'weight' has a non-finite value (nan) at flat index 1"),
        ("Inf", { var o = $0; o[0].tensors["weight"]!.values[17] = .infinity; return o },
         "(op 'conv'): tensor 'weight' has a non-finite value (inf) at flat index 17"),
        ("undefined input", { var o = $0; o[2].inputs = ["fc"]; return o },
         "(op 'flat'): input 'fc' is not the network input or an earlier op"),
        ("wrong arity", { var o = $0; o[1].inputs = ["conv", "conv"]; return o }, "(op 'pool'): global_avg_pool takes 1 input(s), found 2"),
        ("kernel too big", { var o = $0; o[0].ints["padding"] = [0, 0];
                             o[0].tensors["weight"] = ([2, 1, 5, 5], [Float](repeating: 0, count: 50)); return o },
         "(op 'conv'): kernel 5x5 does not fit the 4x4 input"),
        ("duplicate name", { var o = $0; o[2].name = "pool"; return o }, "(op 'pool'): duplicate op name"),
    ]

    @Test(arguments: brokenCases.indices)
    func brokenModelsAreRejectedNamingTheOp(index: Int) throws {
        let (label, breakIt, expected) = Self.brokenCases[index]
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/broken.h5"
        try writeRawModel(path, ops: breakIt(validRawOps()))
        let message = errorMessage { _ = try ModelFile.load(path) }
        #expect(message.hasPrefix(path + ": "), "\(label): \(message)")
        #expect(message.contains(expected), "\(label): \(message)")
    }

    @Test func fileLevelProblemsAreRejected() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bad.h5"
        try writeRawModel(path, ops: validRawOps(), format: "keras")
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("/@format: is 'keras', expected 'xbarsim-model'"))
        try writeRawModel(path, ops: validRawOps(), version: 9)
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("version 9 is not supported"))
        try writeRawModel(path, ops: validRawOps(), output: "nowhere")
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("/@output: names 'nowhere'"))
        try writeRawModel(path, ops: validRawOps(), classes: 5)
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("/@class_names: 5 names for 2 outputs"))
        try writeRawModel(path, inputShape: [1, 4], ops: validRawOps())
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("/@input_shape: expected 3 positive integers"))
    }
}

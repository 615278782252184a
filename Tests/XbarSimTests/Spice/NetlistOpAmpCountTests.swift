import Foundation
import Testing
@testable import XbarSim

/// The op-amps `xbarsim spice` writes, counted role by role from the netlist text, against
/// `ChipResources` (spatially unrolled: the netlists give every output position its own circuit).
struct NetlistOpAmpCountTests {
    /// Op-amp elements of a netlist by their `*@opamp ROLE` tag, read from the text alone: an
    /// op-amp is an `E` source (ideal inverter, subtractor, gain stage), an `H` source (ideal
    /// inverting stage) or an `X` instance of `xb_opamp`/`xb_opamp_rails`, outside `.subckt`
    /// bodies. Multipliers: `B` sources whose expression multiplies two node voltages.
    struct Census: Equatable, CustomStringConvertible {
        var roles: [String: Int] = [:]
        var multipliers = 0
        var untagged = 0
        var orphanTags = 0
        var description: String { "roles \(roles.sorted { $0.key < $1.key }), multipliers \(multipliers), untagged \(untagged), orphan tags \(orphanTags)" }
    }

    static func census(_ text: String) -> Census {
        var c = Census()
        var inSubcircuit = false
        var tag: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let lower = line.lowercased()
            if lower.hasPrefix(".subckt") { inSubcircuit = true; continue }
            if lower.hasPrefix(".ends") { inSubcircuit = false; continue }
            if inSubcircuit { continue }
            if line.hasPrefix("*@opamp ") { tag = String(line.dropFirst("*@opamp ".count)); continue }
            if line.hasPrefix("*") || line.hasPrefix(".") { continue }
            let fields = line.split(separator: " ")
            let isOpAmp = lower.hasPrefix("e") || lower.hasPrefix("h")
                || (lower.hasPrefix("x") && fields.contains { $0 == "xb_opamp" || $0 == "xb_opamp_rails" })
            if isOpAmp {
                if let t = tag { c.roles[t, default: 0] += 1 } else { c.untagged += 1 }
            } else if tag != nil {
                c.orphanTags += 1
            }
            if lower.hasPrefix("b"), lower.components(separatedBy: "v(").count - 1 >= 2 { c.multipliers += 1 }
            tag = nil
        }
        return c
    }

    /// conv 2->4 3x3 pad 1 (mixed signs, zeros) -> BN (both signs of γ) -> hard-swish ->
    /// depthwise 3x3 stride 2 -> ReLU -> pointwise -> hard-sigmoid -> add -> max pool 3x3/2 pad 1
    /// -> clamp (ReLU6) -> GAP -> SE multiply -> flatten -> linear 16->3.
    static func network() -> Graph {
        func weights(_ n: Int, zeroEvery: Int) -> [Float] {
            var w: [Float] = []
            for k in 0..<n { w.append(k % zeroEvery == 3 ? 0 : Float((k * 7) % 11 - 5) / 8) }
            return w
        }
        let conv = Conv2DGeometry(inChannels: 2, outChannels: 4, kernel: (3, 3), padding: (1, 1), input: (6, 6))
        let depthwise = Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: 4,
                                       input: (6, 6))
        let pointwise = Conv2DGeometry(inChannels: 4, outChannels: 4, kernel: (1, 1), input: (3, 3))
        let pool = PoolGeometry(channels: 4, input: (3, 3), kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        let avgPool = PoolGeometry(channels: 4, input: (2, 2), kernel: (2, 2), stride: (1, 1), padding: (1, 1))
        let bn = BatchNormParameters(gamma: [1, -0.5, 2, -1], beta: [0.1, -0.2, 0, 0.3], runningMean: [0, 0.1, -0.1, 0.2],
                                     runningVariance: [1, 2, 0.5, 1], epsilon: 1e-5)
        let depthwiseWeights: [Float] = (0..<36).map { (k: Int) -> Float in k / 9 == 2 ? -0.25 : Float((k * 5) % 7 - 3) / 4 }
        let ops: [Op] = [
            Op(name: "conv", path: "", kind: .conv2d(geometry: conv, weight: weights(72, zeroEvery: 5), bias: [0.1, -0.2, 0.3, 0]),
               inputs: [0], outputShape: [4, 6, 6]),
            Op(name: "bn", path: "", kind: .batchNorm(bn), inputs: [1], outputShape: [4, 6, 6]),
            Op(name: "hswish", path: "", kind: .hardSwish, inputs: [2], outputShape: [4, 6, 6]),
            // Depthwise weights: channel 2 all negative (its -x rows carry no device).
            Op(name: "dw", path: "", kind: .conv2d(geometry: depthwise, weight: depthwiseWeights, bias: nil),
               inputs: [3], outputShape: [4, 3, 3]),
            Op(name: "relu", path: "", kind: .relu, inputs: [4], outputShape: [4, 3, 3]),
            Op(name: "pw", path: "", kind: .conv2d(geometry: pointwise, weight: weights(16, zeroEvery: 4), bias: nil),
               inputs: [5], outputShape: [4, 3, 3]),
            Op(name: "hsig", path: "", kind: .hardSigmoid, inputs: [6], outputShape: [4, 3, 3]),
            Op(name: "add", path: "", kind: .add, inputs: [5, 7], outputShape: [4, 3, 3]),
            Op(name: "pool", path: "", kind: .maxPool(pool), inputs: [8], outputShape: [4, 2, 2]),
            Op(name: "relu6", path: "", kind: .elementwise(.clamp(lower: 0, upper: 6)), inputs: [9], outputShape: [4, 2, 2]),
            Op(name: "gap", path: "", kind: .globalAveragePool, inputs: [10], outputShape: [4]),
            Op(name: "se", path: "", kind: .mul, inputs: [10, 11], outputShape: [4, 2, 2]),
            Op(name: "flat", path: "", kind: .flatten, inputs: [12], outputShape: [16]),
            Op(name: "fc", path: "", kind: .linear(inFeatures: 16, outFeatures: 3, weight: weights(48, zeroEvery: 6),
                                                  bias: [0.05, 0, -0.1]),
               inputs: [13], outputShape: [3]),
            // Average pooling without the padding in the divisor: corner windows hold 1 tap,
            // edges 2, the centre 4 (TIA gains 4, 2, 1). Off the output path.
            Op(name: "avg", path: "", kind: .avgPool(avgPool, countIncludePad: false), inputs: [10], outputShape: [4, 3, 3]),
        ]
        return Graph(inputShape: [2, 6, 6], ops: ops, outputIndex: ops.count - 2)
    }

    /// Every op of `chip` that has a circuit, written for all channels and positions, counted
    /// from the text and compared op by op with the unrolled resources.
    static func compare(_ chip: AnalogChip, image: Tensor, ops: [Int]? = nil) throws -> Int {
        let resources = ChipResources.layers(chip: chip, layout: .spatiallyUnrolled, technology: .default)
        var compared = 0
        for i in ops ?? Array(chip.graph.ops.indices) {
            let expected = resources[i].opAmps
            let netlist: LayerNetlist
            do {
                netlist = try LayerNetlist(chip: chip, op: i, image: image, firstImage: 0,
                                           selection: LayerSelection(channels: nil, positions: nil), threads: 1)
            } catch {
                // Wiring, flatten, digital ops: no analog circuit, so no op-amps either.
                #expect(expected.total == 0 && expected.multipliers == 0, "op \(i) \(chip.graph.ops[i].name): \(error)")
                continue
            }
            let c = census(netlist.netlist.text(rawFile: "out.raw"))
            #expect(c.untagged == 0 && c.orphanTags == 0, "op \(i): \(c)")
            let want = Dictionary(uniqueKeysWithValues: expected.byRole.filter { $0.count > 0 }.map { ($0.role, $0.count) })
            #expect(c.roles == want, "op \(i) \(chip.graph.ops[i].name) (\(chip.config.mapping.rawValue)): netlist \(c), resources \(want)")
            #expect(c.multipliers == expected.multipliers, "op \(i) multipliers: \(c.multipliers) vs \(expected.multipliers)")
            compared += 1
        }
        return compared
    }

    static func image(_ shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        return Tensor(shape: shape + [1], scalars: (0..<n).map { k in Float((k * 37) % 23 - 11) / 7 })
    }

    /// `--relu-limit` on a chip without rails adds the ceiling clamp of each ReLU: counted as the netlist has it.
    @Test func reluOutputLimiterClampsAreCounted() throws {
        let graph = Self.network()
        var config = Preset.ideal.config
        config.mode = .analog
        config.periphery.reluLimitVolts = 0.5
        let calibration = Calibration(maxAbs: [Float](repeating: 2, count: graph.ops.count + 1), images: 1)
        let chip = try AnalogChip(graph: graph, config: config, seed: 5, chip: 0, inputMaxAbs: 2, calibration: calibration)
        #expect(try Self.compare(chip, image: Self.image(graph.inputShape)) == graph.ops.count - 1)
        let total = ChipResources.layers(chip: chip, layout: .spatiallyUnrolled, technology: .default)
            .reduce(OpAmpCounts()) { $0 + $1.opAmps }
        #expect(total.clamps == 36 * 2 + 16 * 2 + 2 * (144 + 36))
    }

    @Test(arguments: [Preset.ideal, .rram], MappingScheme.allCases)
    func netlistOpAmpsEqualTheResourceCount(preset: Preset, mapping: MappingScheme) throws {
        let graph = Self.network()
        var config = preset.config
        config.mode = .analog
        config.mapping = mapping
        config.tile = try #require(TileSize(argument: "8x8"))
        let calibration = Calibration(maxAbs: [Float](repeating: 2, count: graph.ops.count + 1), images: 1)
        let chip = try AnalogChip(graph: graph, config: config, seed: 5, chip: 0, inputMaxAbs: 2, calibration: calibration)
        let compared = try Self.compare(chip, image: Self.image(graph.inputShape))
        #expect(compared == graph.ops.count - 1)   // all but flatten
        // The roles this network must exercise, by hand.
        let r = ChipResources.layers(chip: chip, layout: .spatiallyUnrolled, technology: .default)
        let total = r.reduce(OpAmpCounts()) { $0 + $1.opAmps }
        // Hard-swish on 4x6x6 and hard-sigmoid on 4x3x3: one summer, one inverter, two clamps each.
        #expect(total.activation == 144 + 36 && total.summerInverters == 144 + 36 + 36 && total.summers == 36)
        // ReLU (36) floor only without rails, floor and rail with; ReLU6 (16) two bounds; hsig/hswish 2 each.
        let rails = config.periphery.opAmp.railVolts != nil
        #expect(total.clamps == 36 * (rails ? 2 : 1) + 16 * 2 + 2 * (144 + 36))
        // Max pool 3x3/2 pad 1 on 3x3 -> 2x2: every window holds 2x2 taps inside the map
        // (rows -1...1 and 1...3 of 0...2), x 4 positions x 4 channels.
        #expect(total.maxPool == 4 * 4 * 4)
        switch mapping {
        case .paper:
            #expect(total.inputInverters > 0 && total.batchNormInputInverters > 0)
            // BN: subtract stage inverts x where γ >= 0 (channels 0, 2), scale stage always: (2 + 4) x 36.
            #expect(total.batchNormInputInverters == 6 * 36)
            #expect(total.subtractors == 0 && total.inverters == 0)
        case .differential:
            #expect(total.inputInverters == 0 && total.subtractors > 0)
        case .invertedOutput:
            #expect(total.inputInverters == 0 && total.inverters > 0)
        }
        #expect((total.driftGainStages > 0) == (mapping == .paper && preset == .rram))
    }

    /// The committed test networks (CIFAR-sized): every op whose full netlist stays small
    /// (element circuits, batch norm and pooling, and crossbars of at most 60,000 devices unrolled).
    @Test(arguments: ["ops_v2", "vgg_tiny"], MappingScheme.allCases)
    func testNetworksNetlistOpAmpsEqualTheResourceCount(name: String, mapping: MappingScheme) throws {
        let model = try ModelFile.load(repositoryRoot + "/Weights/testnets/\(name).h5")
        let graph = model.graph
        var config = Preset.ideal.config
        config.mapping = mapping
        config.calibrationImages = 1
        let calibration = Calibration(maxAbs: [Float](repeating: 3, count: graph.ops.count + 1), images: 1)
        let chip = try AnalogChip(graph: graph, config: config, seed: 1, chip: 0, inputMaxAbs: 3, calibration: calibration)
        let resources = ChipResources.layers(chip: chip, layout: .spatiallyUnrolled, technology: .default)
        let small = graph.ops.indices.filter { resources[$0].memristors <= 60_000 }
        let compared = try Self.compare(chip, image: Self.image(graph.inputShape), ops: small)
        #expect(compared >= 5, "\(name): compared \(compared) ops")
    }
}

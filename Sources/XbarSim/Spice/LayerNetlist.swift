import XbarSimAnalog
import XbarSimCircuit
import XbarSimCrossbar
import XbarSimGraph
import XbarSimTensor

/// Which output elements of an op a layer netlist covers (big layers would give
/// netlists ngspice cannot solve in reasonable time).
public struct LayerSelection: Sendable, Hashable {
    /// First `channels` output channels (features); nil for all.
    public var channels: Int? = 4
    /// Output positions per channel, evenly spaced over the map; nil for all.
    public var positions: Int? = 2

    public init(channels: Int? = 4, positions: Int? = 2) {
        self.channels = channels
        self.positions = positions
    }
}

/// One op of a programmed chip as a SPICE netlist, for one image: the op's crossbars
/// (its physical tiles with the chip's conductances) or module circuits, driven by the
/// exact input voltages the engine used, and the engine's outputs to compare with.
public struct LayerNetlist: Sendable {
    public var netlist: SpiceNetlist
    public var op: String
    public var kind: String
    /// Flat indices (per image, `[C, H, W]` order) of the compared output elements.
    public var elements: [Int]
    /// `v(node)` holding each element's output, volts.
    public var outputVectors: [String]
    /// The engine's outputs of those elements, units.
    public var engineOutputs: [Double]
    public var voltsPerUnit: Double

    /// Flat values (units) of value `v` (0 = network input, `i + 1` = output of op `i`)
    /// for one image, computed by the same chip (same programming: keys are op indices),
    /// without read noise.
    public static func engineValue(_ chip: AnalogChip, value v: Int, image: Tensor, firstImage: Int, threads: Int) throws -> [Float] {
        if v == 0 {
            var x = image
            if let bits = chip.config.periphery.dac.bits {
                let q = SymmetricQuantizer(bits: bits, range: max(chip.calibration.maxAbs[0], .leastNormalMagnitude))
                x.scalars.withUnsafeMutableBufferPointer { q.apply($0) }
            }
            return x.scalars
        }
        let graph = Graph(inputShape: chip.graph.inputShape, ops: Array(chip.graph.ops[0..<v]), outputIndex: v - 1)
        // Read noise is a random draw per read, not a circuit element: netlists have none, so
        // the engine values they are compared with are computed without it (the programmed
        // conductances do not depend on it).
        var config = chip.config
        config.device.readNoise.relativeSigma = 0
        let prefix = try AnalogChip(graph: graph, config: config, seed: chip.seed, chip: chip.chip,
                                inputMaxAbs: chip.config.periphery.inputVoltageVolts / chip.voltsPerUnit,
                                calibration: chip.calibration)
        return try prefix.run(image, firstImage: firstImage, threads: threads).scalars
    }

    /// The netlist of op `index` of `chip` for `image` (`[C, H, W, 1]`).
    ///
    /// Crossbars are written as the engine solved them: each layer's own tiling and wires
    /// (`CrossbarLayer.circuitOptions`: the chip's `--tile`, and its wire and source
    /// resistances when IR drop is solved, ideal wires with `--ir-drop off`). `wires`
    /// overrides the wires (nil: the layer's).
    public init(
        chip: AnalogChip, op index: Int, image: Tensor, firstImage: Int, selection: LayerSelection,
        wires: WireParameters? = nil, threads: Int
    ) throws {
        guard chip.config.mode == .analog else {
            throw SpiceError.unsupported("SPICE layer netlists model analog mode (--mode analog); digitized mode adds ADCs per tile")
        }
        guard chip.graph.ops.indices.contains(index) else {
            throw SpiceError.unsupported("--op: no op \(index) (the model has \(chip.graph.ops.count))")
        }
        let graph = chip.graph
        let op = graph.ops[index]
        let u = chip.voltsPerUnit
        let inputs = try op.inputs.map { try Self.engineValue(chip, value: $0, image: image, firstImage: firstImage, threads: threads) }
        let output = try Self.engineValue(chip, value: index + 1, image: image, firstImage: firstImage, threads: threads)
        let outShape = op.outputShape
        let channels = outShape[0]
        let plane = outShape.dropFirst().reduce(1, *)
        let chosenChannels = Array(0..<min(channels, selection.channels ?? channels))
        let count = min(plane, selection.positions ?? plane)
        let chosenPositions = (0..<count).map { $0 * plane / count }
        let settings = ModuleCircuitSettings(periphery: chip.config.periphery, voltsPerUnit: u)
        var b = SpiceCircuitBuilder(title: "XbarSim op \(index) \(op.name) (\(op.kind.typeName)), image \(firstImage)")
        b.netlist.comment("volts per unit \(u); inputs are the engine's activations of this image")
        // Input sources are written at the end: the crossbar writer asks for input nodes
        // while it writes, so naming one must not touch the builder.
        var used: [(key: String, volts: Double)] = []
        var seen = Set<String>()
        func inputNode(_ which: Int, _ flat: Int) -> String {
            let key = "x\(which)_\(flat)"
            if seen.insert(key).inserted { used.append((key, Double(inputs[which][flat]) * u)) }
            return key
        }
        var elements: [Int] = []
        var nodes: [String] = []
        let stage = chip.stages[index]
        switch stage {
        case .crossbar(let layer):
            let g = layer.geometry
            let (tile, layerWires) = Self.circuit(of: layer, wires: wires)
            let (outH, outW) = (g.outHeight, g.outWidth)
            for p in chosenPositions {
                let (oy, ox) = (p / max(outW, 1), p % max(outW, 1))
                let ys = b.crossbar(
                    "L\(p)_", mapped: layer.mapped, positiveSiemens: layer.programmed.positiveSiemens,
                    negativeSiemens: layer.programmed.negativeSiemens, tile: tile, wires: layerWires,
                    opAmp: chip.config.periphery.opAmp, voltsPerUnit: u, outputs: chosenChannels, sharedInputs: g.groups == 1,
                    driftCompensation: layer.programmed.driftCompensation
                ) { o, l in
                    let group = o / g.outChannelsPerGroup
                    let k = g.kernelHeight * g.kernelWidth
                    let ci = group * g.channelsPerGroup + l / k
                    let ky = (l % k) / g.kernelWidth, kx = l % g.kernelWidth
                    let iy = oy * g.strideHeight - g.paddingHeight + ky * g.dilationHeight
                    let ix = ox * g.strideWidth - g.paddingWidth + kx * g.dilationWidth
                    guard iy >= 0, iy < g.inHeight, ix >= 0, ix < g.inWidth else { return "0" }
                    return inputNode(0, (ci * g.inHeight + iy) * g.inWidth + ix)
                }
                for (o, y) in zip(chosenChannels, ys) {
                    elements.append((o * outH + oy) * outW + ox)
                    nodes.append(y)
                }
            }
        case .batchNorm(let subtract, let scale):
            let (subtractTile, subtractWires) = Self.circuit(of: subtract, wires: wires)
            let (scaleTile, scaleWires) = Self.circuit(of: scale, wires: wires)
            for c in chosenChannels {
                for p in chosenPositions {
                    let flat = c * plane + p
                    let opAmp = chip.config.periphery.opAmp
                    let v = b.crossbar(
                        "S\(flat)_", mapped: subtract.mapped, positiveSiemens: subtract.programmed.positiveSiemens,
                        negativeSiemens: subtract.programmed.negativeSiemens, tile: subtractTile, wires: subtractWires,
                        opAmp: opAmp, voltsPerUnit: u, outputs: [c], sharedInputs: false,
                        driftCompensation: subtract.programmed.driftCompensation, batchNormStage: true) { _, _ in inputNode(0, flat) }
                    let y = b.crossbar(
                        "C\(flat)_", mapped: scale.mapped, positiveSiemens: scale.programmed.positiveSiemens,
                        negativeSiemens: scale.programmed.negativeSiemens, tile: scaleTile, wires: scaleWires,
                        opAmp: opAmp, voltsPerUnit: u, outputs: [c], sharedInputs: false,
                        driftCompensation: scale.programmed.driftCompensation, batchNormStage: true) { _, _ in v[0] }
                    elements.append(flat)
                    nodes.append(y[0])
                }
            }
        case .activation, .add, .multiply:
            for c in chosenChannels {
                for p in chosenPositions {
                    let flat = c * plane + p
                    let y = "y\(flat)"
                    switch stage {
                    case .activation(.relu): b.relu("A\(flat)", input: inputNode(0, flat), output: y, settings: settings)
                    case .activation(.hardSigmoid): b.hardSigmoid("A\(flat)", input: inputNode(0, flat), output: y, settings: settings)
                    case .activation(.hardSwish): b.hardSwish("A\(flat)", input: inputNode(0, flat), output: y, settings: settings)
                    case .add: b.add("A\(flat)", a: inputNode(0, flat), b: inputNode(1, flat), output: y, settings: settings)
                    default:
                        // SE scaling: the smaller operand is per channel.
                        let big = inputs[0].count >= inputs[1].count ? 0 : 1
                        let ratio = inputs[big].count / max(inputs[1 - big].count, 1)
                        b.multiply("A\(flat)", a: inputNode(big, flat), b: inputNode(1 - big, flat / ratio), output: y,
                                   settings: settings)
                    }
                    elements.append(flat)
                    nodes.append(y)
                }
            }
        case .limiter(let lower, let upper):
            for c in chosenChannels {
                for p in chosenPositions {
                    let flat = c * plane + p
                    let y = "y\(flat)"
                    b.clampLimiter("A\(flat)", input: inputNode(0, flat), output: y, lower: lower, upper: upper, settings: settings)
                    elements.append(flat)
                    nodes.append(y)
                }
            }
        case .maxPool(let g):
            let outW = max(g.outWidth, 1)
            for c in chosenChannels {
                for p in chosenPositions {
                    let (oy, ox) = (p / outW, p % outW)
                    var taps: [String] = []
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth {
                            let iy = oy * g.strideHeight - g.paddingHeight + ky * g.dilationHeight
                            let ix = ox * g.strideWidth - g.paddingWidth + kx * g.dilationWidth
                            guard iy >= 0, iy < g.inHeight, ix >= 0, ix < g.inWidth else { continue }
                            taps.append(inputNode(0, (c * g.inHeight + iy) * g.inWidth + ix))
                        }
                    }
                    let flat = c * plane + p
                    let y = "y\(flat)"
                    b.maxCircuit("P\(flat)", inputs: taps, output: y, offsetVolts: chip.config.periphery.maxPoolOffsetVolts,
                                 settings: settings)
                    elements.append(flat)
                    nodes.append(y)
                }
            }
        case .flatten, .wiring:
            throw SpiceError.unsupported("op \(index) \(op.name) is \(op.kind.typeName): wiring only, no circuit")
        case .digital:
            throw SpiceError.unsupported("op \(index) \(op.name) (\(op.kind.typeName)) runs in digital periphery: no analog circuit")
        case .averagePool(let layer, let p, let divisorScale):
            // A depthwise crossbar over the padded map, every weight 1/(kh·kw): one circuit per
            // channel and position; taps in the padding or the ceil_mode overhang are rows at 0 V.
            let g = layer.geometry
            let (tile, layerWires) = Self.circuit(of: layer, wires: wires)
            let outW = max(g.outWidth, 1)
            for position in chosenPositions {
                let (oy, ox) = (position / outW, position % outW)
                let ys = b.crossbar(
                    "L\(position)_", mapped: layer.mapped, positiveSiemens: layer.programmed.positiveSiemens,
                    negativeSiemens: layer.programmed.negativeSiemens, tile: tile, wires: layerWires,
                    opAmp: chip.config.periphery.opAmp, voltsPerUnit: u, outputs: chosenChannels, sharedInputs: false,
                    driftCompensation: layer.programmed.driftCompensation,
                    feedbackScale: Double(divisorScale?[position] ?? 1)
                ) { c, l in
                    let iy = oy * g.strideHeight + l / g.kernelWidth - p.paddingHeight
                    let ix = ox * g.strideWidth + l % g.kernelWidth - p.paddingWidth
                    guard iy >= 0, iy < p.inHeight, ix >= 0, ix < p.inWidth else { return "0" }
                    return inputNode(0, (c * p.inHeight + iy) * p.inWidth + ix)
                }
                for (c, y) in zip(chosenChannels, ys) {
                    elements.append(c * plane + position)
                    nodes.append(y)
                }
            }
        }
        b.netlist.comment("inputs: the engine's activations, volts")
        for (key, volts) in used { b.source("V\(key)", node: key, volts: volts) }
        outputVectors = nodes.map { "v(\($0.lowercased()))" }
        for v in outputVectors { b.netlist.save(v) }
        netlist = b.netlist
        self.op = op.name
        kind = op.kind.typeName
        self.elements = elements
        engineOutputs = elements.map { Double(output[$0]) }
        voltsPerUnit = u
    }

    /// The tiling and wires the engine solved `layer`'s tiles with (`wires` overrides the wires).
    static func circuit(of layer: CrossbarLayer, wires: WireParameters?) -> (TileSize, WireParameters) {
        let options = layer.circuitOptions
        return (options.tile, wires ?? (options.circuit.solvesTiles ? options.circuit.wires : .ideal))
    }

    /// SPICE outputs (units) of the elements, from ngspice's results.
    public func spiceOutputs(_ points: [[String: Double]], file: String) throws(SpiceError) -> [Double] {
        guard let point = points.first else { throw .badOutput(file: file, message: "no operating point") }
        var out: [Double] = []
        for v in outputVectors { out.append(try value(point, v, file: file) / voltsPerUnit) }
        return out
    }
}

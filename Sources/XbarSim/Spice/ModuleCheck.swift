import Foundation
import XbarSimAnalog
import XbarSimDevice
import XbarSimGraph
import XbarSimTensor

/// The module circuits (BN, activations, SE multiply, residual add, GAP, FC) against the
/// engine's behavioural functions over their input ranges, through ngspice.
public enum ModuleCheck {
    /// Input range of each sweep, units (activation values of the trained network stay
    /// within a few units; hard-sigmoid/swish cover both knees at -3 and 3).
    public static let ranges: [String: ClosedRange<Double>] = [
        "relu": -3...3, "hardsigmoid": -5...5, "hardswish": -5...5, "mul": -3...3, "add": -3...3,
        "batchnorm": -3...3, "global_avg_pool": -3...3, "linear": -3...3, "max_pool2d": -3...3, "clamp": -2...8,
    ]

    /// Sweeps every module: the elementwise circuits over `points` inputs (two-input ones
    /// over a grid), the crossbar modules on a synthetic op whose `points` elements cover
    /// the range. `config` gives the chip (op-amp gain and rails, devices, mapping); `voltsPerUnit` the signal scale.
    public static func run(
        config: AnalogConfig, voltsPerUnit u: Double, points: Int = 41, seed: UInt64 = 0, ngspice: Ngspice, directory: String
    ) throws -> [SpiceCheckItem] {
        var items: [SpiceCheckItem] = []
        let settings = ModuleCircuitSettings(periphery: config.periphery, voltsPerUnit: u)
        let rail = config.mode == .analog ? config.periphery.opAmp.railVolts.map { Float($0 / u) } : nil
        // Elementwise modules.
        for f in ActivationFunction.allCases {
            let name = ["relu": "relu", "hardSigmoid": "hardsigmoid", "hardSwish": "hardswish"][f.rawValue] ?? f.rawValue
            // Inputs come from op-amps: they never leave the rails.
            var range = ranges[name] ?? -3...3
            if let r = rail.map(Double.init) { range = max(range.lowerBound, -r)...min(range.upperBound, r) }
            let xs = (0..<points).map { range.lowerBound + (range.upperBound - range.lowerBound) * Double($0) / Double(points - 1) }
            items.append(try sweep(name: name, xs: xs.map { [$0] }, u: u, ngspice: ngspice, path: "\(directory)/\(name).cir") { b, inputs, y in
                switch f {
                case .relu: b.relu("A", input: inputs[0], output: y, settings: settings)
                case .hardSigmoid: b.hardSigmoid("A", input: inputs[0], output: y, settings: settings)
                case .hardSwish: b.hardSwish("A", input: inputs[0], output: y, settings: settings)
                }
            } engine: { x in
                var t = Tensor(shape: [1, 1, 1, 1], scalars: [Float(x[0])])
                AnalogCircuits.activate(&t, f, limiterOffsetUnits: Float(settings.limiterOffsetVolts / u),
                                        multiplierGain: Float(settings.multiplierGain), railUnits: rail,
                                        reluLimitUnits: settings.reluLimitVolts.map { Float($0 / u) })
                return Double(t.scalars[0])
            })
        }
        // ReLU with the output limiter at V_p (the memristive ShuffleNetV2's ReLU): the chip's
        // --relu-limit, or 1.5 units when none is set, swept past both knees.
        do {
            var limited = settings
            let vp = config.periphery.reluLimitVolts ?? 1.5 * u
            limited.reluLimitVolts = vp
            let top = vp / u
            var range = -max(3, 1.5 * top)...max(3, 1.5 * top)
            if let r = rail.map(Double.init) { range = max(range.lowerBound, -r)...min(range.upperBound, r) }
            let xs = (0..<points).map { range.lowerBound + (range.upperBound - range.lowerBound) * Double($0) / Double(points - 1) }
            items.append(try sweep(name: "relu-limit", xs: xs.map { [$0] }, u: u, ngspice: ngspice,
                                   path: "\(directory)/relu-limit.cir") { b, inputs, y in
                b.relu("A", input: inputs[0], output: y, settings: limited)
            } engine: { x in
                var t = Tensor(shape: [1, 1, 1, 1], scalars: [Float(x[0])])
                AnalogCircuits.activate(&t, .relu, limiterOffsetUnits: Float(settings.limiterOffsetVolts / u),
                                        multiplierGain: Float(settings.multiplierGain), railUnits: rail,
                                        reluLimitUnits: Float(vp / u))
                return Double(t.scalars[0])
            })
        }
        let side = max(2, Int(Double(points).squareRoot().rounded()))
        let grid = (0..<side).flatMap { i in (0..<side).map { j in (i, j) } }
        var r = ranges["add"] ?? -3...3
        if let rl = rail.map(Double.init) { r = max(r.lowerBound, -rl)...min(r.upperBound, rl) }
        func at(_ k: Int, _ range: ClosedRange<Double>) -> Double {
            range.lowerBound + (range.upperBound - range.lowerBound) * Double(k) / Double(side - 1)
        }
        items.append(try sweep(name: "add", xs: grid.map { [at($0.0, r), at($0.1, r)] }, u: u, ngspice: ngspice,
                               path: "\(directory)/add.cir") { b, inputs, y in
            b.add("A", a: inputs[0], b: inputs[1], output: y, settings: settings)
        } engine: { x in
            let s = Float(x[0]) + Float(x[1])
            return Double(rail.map { min(max(s, -$0), $0) } ?? s)
        })
        items.append(try sweep(name: "mul", xs: grid.map { [at($0.0, r), at($0.1, 0...1)] }, u: u, ngspice: ngspice,
                               path: "\(directory)/mul.cir") { b, inputs, y in
            b.multiply("A", a: inputs[0], b: inputs[1], output: y, settings: settings)
        } engine: { x in
            var t = Tensor(shape: [1, 1, 1, 1], scalars: [Float(x[0]) * Float(x[1])])
            AnalogCircuits.scale(&t, by: Float(settings.multiplierGain), railUnits: rail)
            return Double(t.scalars[0])
        })
        // Crossbar modules on synthetic ops, through the same chip machinery as a model op.
        var random = RandomStream(seed: seed, key: [0x5049_4345])
        func uniform(_ range: ClosedRange<Double>) -> Float {
            Float(range.lowerBound + (range.upperBound - range.lowerBound) * random.nextUniform())
        }
        let channels = 8
        let perChannel = max(1, points / channels)
        let bn = BatchNormParameters(
            gamma: (0..<channels).map { c in (c % 2 == 0 ? 1 : -1) * uniform(0.3...2) }, beta: (0..<channels).map { _ in uniform(-1...1) },
            runningMean: (0..<channels).map { _ in uniform(-1...1) }, runningVariance: (0..<channels).map { _ in uniform(0.2...2) },
            epsilon: 1e-5)
        let bnRange = ranges["batchnorm"] ?? -3...3
        let bnInput = (0..<channels).flatMap { _ in
            (0..<perChannel).map { k in Float(bnRange.lowerBound + (bnRange.upperBound - bnRange.lowerBound) * Double(k) / Double(max(perChannel - 1, 1))) }
        }
        items.append(try syntheticOp(
            name: "batchnorm", inputShape: [channels, 1, perChannel], input: bnInput, config: config, u: u, seed: seed,
            kind: .batchNorm(bn), outputShape: [channels, 1, perChannel], ngspice: ngspice, directory: directory))
        let gapInput = (0..<(channels * 16)).map { _ in uniform(ranges["global_avg_pool"] ?? -3...3) }
        items.append(try syntheticOp(
            name: "global_avg_pool", inputShape: [channels, 4, 4], input: gapInput, config: config, u: u, seed: seed,
            kind: .globalAveragePool, outputShape: [channels], ngspice: ngspice, directory: directory))
        // Max pooling: 3x3 windows, stride 2, padding 1 (edge windows have absent taps).
        let pool = PoolGeometry(channels: 4, input: (5, 5), kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        let poolInput = (0..<(4 * 25)).map { _ in uniform(ranges["max_pool2d"] ?? -3...3) }
        items.append(try syntheticOp(
            name: "max_pool2d", inputShape: [4, 5, 5], input: poolInput, config: config, u: u, seed: seed,
            kind: .maxPool(pool), outputShape: [4, pool.outHeight, pool.outWidth], ngspice: ngspice, directory: directory))
        // ReLU6 (clamp 0...6) over its range, both knees included.
        let clampRange = ranges["clamp"] ?? -2...8
        let clampInput = (0..<points).map { k in
            Float(clampRange.lowerBound + (clampRange.upperBound - clampRange.lowerBound) * Double(k) / Double(max(points - 1, 1)))
        }
        items.append(try syntheticOp(
            name: "clamp", inputShape: [1, 1, points], input: clampInput, config: config, u: u, seed: seed,
            kind: .elementwise(.clamp(lower: 0, upper: 6)), outputShape: [1, 1, points], ngspice: ngspice, directory: directory))
        let (inF, outF) = (16, 10)
        let fcInput = (0..<inF).map { _ in uniform(ranges["linear"] ?? -3...3) }
        let weights = (0..<(inF * outF)).map { _ in uniform(-0.5...0.5) }
        let bias = (0..<outF).map { _ in uniform(-0.5...0.5) }
        items.append(try syntheticOp(
            name: "linear", inputShape: [inF, 1, 1], input: fcInput, config: config, u: u, seed: seed,
            kind: .linear(inFeatures: inF, outFeatures: outF, weight: weights, bias: bias), outputShape: [outF],
            ngspice: ngspice, directory: directory))
        return items
    }

    /// One elementwise sweep: a netlist whose input sources are altered point by point.
    static func sweep(
        name: String, xs: [[Double]], u: Double, ngspice: Ngspice, path: String,
        circuit: (inout SpiceCircuitBuilder, [String], String) -> Void, engine: ([Double]) -> Double
    ) throws -> SpiceCheckItem {
        let start = Date()
        var b = SpiceCircuitBuilder(title: "XbarSim module \(name), \(xs.count)-point sweep")
        let inputs = (0..<xs[0].count).map { "in\($0)" }
        for (k, node) in inputs.enumerated() { b.source("VIN\(k)", node: node, volts: xs[0][k] * u) }
        circuit(&b, inputs, "y")
        for node in inputs + ["y"] { b.netlist.save("v(\(node))") }
        b.netlist.points = xs.map { x in x.enumerated().map { ("VIN\($0.offset)", $0.element * u) } }
        let results = try ngspice.run(b.netlist, path: path)
        var spice: [Double] = [], expected: [Double] = []
        for point in results {
            // The engine sees the input voltage ngspice actually applied.
            let x = try inputs.map { n throws(SpiceError) in try value(point, "v(\(n))", file: path) / u }
            spice.append(try value(point, "v(y)", file: path) / u)
            expected.append(engine(x))
        }
        return SpiceCheckItem(name: name, quantity: "output (units)", spice: spice, engine: expected,
                              seconds: Date().timeIntervalSince(start))
    }

    /// A one-op graph on a chip with `config`, checked as a model op would be (all elements).
    static func syntheticOp(
        name: String, inputShape: [Int], input: [Float], config: AnalogConfig, u: Double, seed: UInt64, kind: OpKind,
        outputShape: [Int], ngspice: Ngspice, directory: String
    ) throws -> SpiceCheckItem {
        let op = Op(name: name, path: name, kind: kind, inputs: [0], outputShape: outputShape)
        let graph = Graph(inputShape: inputShape, ops: [op], outputIndex: 0)
        let maxAbs = Float(input.map(abs).max() ?? 1)
        let calibration = Calibration(maxAbs: [maxAbs, maxAbs * 4], images: 1)
        let inputMaxAbs = config.periphery.inputVoltageVolts / u
        let chip = try AnalogChip(graph: graph, config: config, seed: seed, chip: 0, inputMaxAbs: inputMaxAbs, calibration: calibration)
        let image = Tensor(shape: inputShape + [1], scalars: input)
        return try check(chip: chip, op: 0, image: image, firstImage: 0, selection: LayerSelection(channels: nil, positions: nil),
                         ngspice: ngspice, path: "\(directory)/\(name).cir", threads: 1)
    }

    /// Writes and runs the netlist of op `index` for one image; compares with the engine.
    public static func check(
        chip: AnalogChip, op index: Int, image: Tensor, firstImage: Int, selection: LayerSelection, ngspice: Ngspice,
        path: String, threads: Int
    ) throws -> SpiceCheckItem {
        let start = Date()
        let layer = try LayerNetlist(chip: chip, op: index, image: image, firstImage: firstImage, selection: selection,
                                     threads: threads)
        let spice = try layer.spiceOutputs(try ngspice.run(layer.netlist, path: path), file: path)
        return SpiceCheckItem(name: "\(index) \(layer.op) (\(layer.kind))", quantity: "output (units)", spice: spice,
                              engine: layer.engineOutputs, seconds: Date().timeIntervalSince(start))
    }
}

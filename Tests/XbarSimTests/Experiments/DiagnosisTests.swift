import ArgumentParser
import Foundation
import Testing
@testable import XbarSim
@testable import xbarsim

/// `xbarsim diagnose` against computations that do not go through it: a hand-built network
/// evaluated in double precision from the programmed conductances, a quantisation worked out
/// by hand, the ideal chip, and the partition of the chip's parameters.
struct DiagnosisTests {
    /// flatten [4,1,1] -> linear 4->3 -> relu -> linear 3->2.
    static let w1: [Float] = [0.5, -0.25, 1, 0.1, -1, 0.75, 0.2, -0.4, 0.3, 0.6, -0.8, 0.9]
    static let b1: [Float] = [0.3, -0.2, 0.1]
    static let w2: [Float] = [0.7, -1, 0.4, -0.5, 0.9, 0.6]
    static let b2: [Float] = [0.05, -0.1]

    static func network(w1: [Float] = w1, b1: [Float]? = b1) -> Graph {
        Graph(inputShape: [4, 1, 1], ops: [
            Op(name: "flatten", path: "", kind: .flatten, inputs: [0], outputShape: [4]),
            Op(name: "fc1", path: "", kind: .linear(inFeatures: 4, outFeatures: 3, weight: w1, bias: b1), inputs: [1],
               outputShape: [3]),
            Op(name: "act", path: "", kind: .relu, inputs: [2], outputShape: [3]),
            Op(name: "fc2", path: "", kind: .linear(inFeatures: 3, outFeatures: 2, weight: w2, bias: b2), inputs: [3],
               outputShape: [2]),
        ], outputIndex: 3)
    }

    static let count = 96
    /// Inputs `[4, count]` in -1...1 (image j: column j) and labels (arbitrary but fixed).
    static let inputs: [Float] = {
        var values = TestValues(seed: 11)
        return values.array(4 * count)
    }()
    static let labels: [Int] = (0..<count).map { ($0 * 7 / 3) % 2 }

    static func images(_ graph: Graph) -> DiagnosisImages {
        let calibration = Calibration(maxAbs: [Float](repeating: 4, count: graph.ops.count + 1), images: 1)
        return DiagnosisImages(graph: graph, labels: labels, inputMaxAbs: 1, calibration: calibration) { range in
            var out: [Float] = []
            for i in 0..<4 { for j in range { out.append(Self.inputs[i * count + j]) } }
            return Tensor(shape: [4, 1, 1, range.count], scalars: out)
        }
    }

    static func options(sensitivity: SensitivityGrouping = .op) -> DiagnosisOptions {
        var o = DiagnosisOptions()
        o.batchSize = 20  // batches of 20, 20, ..., 16: sums cross batches
        o.threads = 2
        o.sensitivity = sensitivity
        return o
    }

    /// `(G⁺ − G⁻)/s` of a chip's crossbar op, in double: weights `[outputs][inputs]` and bias rows summed.
    static func effective(_ chip: AnalogChip, op: Int) throws -> (w: [[Double]], b: [Double]) {
        guard case .crossbar(let layer) = chip.stages[op] else { throw DiagnosisTestError.notACrossbar(op) }
        let m = layer.mapped
        var w: [[Double]] = [], b: [Double] = []
        for o in 0..<m.outputs {
            let s = m.siemensPerUnit[o]
            func g(_ r: Int) -> Double {
                (layer.programmed.positiveSiemens[o * m.rows + r] - layer.programmed.negativeSiemens[o * m.rows + r]) / s
            }
            w.append((0..<m.inputs).map(g))
            b.append((m.inputs..<m.rows).reduce(0) { $0 + g($1) })
        }
        return (w, b)
    }

    enum DiagnosisTestError: Error { case notACrossbar(Int) }

    static func affine(_ w: [[Double]], _ b: [Double], _ x: [Double]) -> [Double] {
        zip(w, b).map { row, bias in zip(row, x).reduce(bias) { $0 + $1.0 * $1.1 } }
    }

    static func floatLayer(_ w: [Float], _ b: [Float]?, outputs: Int) -> (w: [[Double]], b: [Double]) {
        let n = w.count / outputs
        return ((0..<outputs).map { o in (0..<n).map { Double(w[o * n + $0]) } }, (0..<outputs).map { Double(b?[$0] ?? 0) })
    }

    /// Every image through the network in double with the given layers: `[op][image][output]`.
    static func forward(_ l1: (w: [[Double]], b: [Double]), _ l2: (w: [[Double]], b: [Double])) -> [[[Double]]] {
        var h: [[Double]] = [], r: [[Double]] = [], y: [[Double]] = []
        for j in 0..<count {
            let x = (0..<4).map { Double(inputs[$0 * count + j]) }
            h.append(affine(l1.w, l1.b, x))
            r.append(h[j].map { max(0, $0) })
            y.append(affine(l2.w, l2.b, r[j]))
        }
        return [h, r, y]
    }

    static func relativeRMS(_ a: [[Double]], _ f: [[Double]]) -> Double {
        var e = 0.0, s = 0.0
        for (u, v) in zip(a, f) { for (p, q) in zip(u, v) { e += (p - q) * (p - q); s += q * q } }
        return (e / s).squareRoot()
    }

    static func accuracy(_ y: [[Double]]) -> Double {
        Double(y.enumerated().filter { j, v in (v[1] > v[0] ? 1 : 0) == labels[j] }.count) / Double(count)
    }

    /// Programming variation only: every op's relative RMS error, the logits' and the accuracy
    /// equal a double-precision forward pass with the chip's programmed conductances; the
    /// sensitivity rows equal the same pass with one layer programmed and the other exact.
    @Test func variationErrorsEqualTheProgrammedConductances() throws {
        let graph = Self.network()
        var config = Preset.ideal.config
        config.device.variation = ProgrammingVariation(distribution: .gaussian, relativeSigma: 0.1)
        config.scaling = .perColumn
        config.mappingHeadroom = 1  // no device near G_max: no clipping of the variation
        let result = try Diagnosis.run(Self.images(graph), config: config, seed: 5, chips: 1, options: Self.options())
        let chip = try AnalogChip(graph: graph, config: config, seed: 5, chip: 0, inputMaxAbs: 1,
                                  calibration: Self.images(graph).calibration)
        let (p1, p2) = (try Self.effective(chip, op: 1), try Self.effective(chip, op: 3))
        let (f1, f2) = (Self.floatLayer(Self.w1, Self.b1, outputs: 3), Self.floatLayer(Self.w2, Self.b2, outputs: 2))
        // The programmed weights really differ from the float ones (by ~10 %).
        let spread = Self.relativeRMS(p1.w, f1.w)
        #expect(spread > 0.03 && spread < 0.2, "\(spread)")
        let float = Self.forward(f1, f2)
        let chipValues = Self.forward(p1, p2)
        let errors = try #require(result.propagation.opErrors)
        #expect(errors.count == 4)
        #expect(errors[0].relativeRMSError.map { $0 < 1e-6 } ?? true, "flatten of the input: exact")
        for (op, k) in [(1, 0), (2, 1), (3, 2)] {
            let expected = Self.relativeRMS(chipValues[k], float[k])
            let measured = try #require(errors[op].relativeRMSError)
            #expect(abs(measured / expected - 1) < 1e-4, "op \(op): \(measured) vs \(expected)")
            let snr = try #require(errors[op].snrDB)
            #expect(abs(snr + 20 * log10(expected)) < 1e-3)
            #expect(errors[op].sums.count == Self.count * (op == 3 ? 2 : 3))
        }
        #expect(abs((result.propagation.logitsRelativeRMSError ?? 0) / Self.relativeRMS(chipValues[2], float[2]) - 1) < 1e-4)
        #expect(result.propagation.accuracy == Self.accuracy(chipValues[2]))
        #expect(result.floatAccuracy == Self.accuracy(float[2]))

        // Sensitivity: ops 1, 2 (ReLU: no non-ideality here) and 3; flatten skipped.
        #expect(result.sensitivity.map(\.label) == ["fc1", "act", "fc2"])
        let onlyFirst = Self.forward(p1, f2)[2], onlySecond = Self.forward(f1, p2)[2]
        for (row, y) in [(result.sensitivity[0], onlyFirst), (result.sensitivity[2], onlySecond)] {
            #expect(row.accuracy == Self.accuracy(y), "\(row.label)")
            let expected = Self.relativeRMS(y, float[2])
            #expect(abs((row.logitsRelativeRMSError ?? 0) / expected - 1) < 1e-4, "\(row.label): \(row.logitsRelativeRMSError ?? 0) vs \(expected)")
        }
        #expect((result.sensitivity[1].logitsRelativeRMSError ?? 0) < 1e-6)
        // Attribution: variation alone is the whole chip here; the other groups are off.
        let rows = Dictionary(uniqueKeysWithValues: result.attribution.map { ($0.label, $0) })
        #expect(rows["variation"]?.active == true && rows["variation"]?.logitsRelativeRMSError == rows["all"]?.logitsRelativeRMSError)
        #expect(result.attribution.filter(\.active).map(\.label) == ["ideal", "variation", "all"])
    }

    /// Five levels in [0, G_max] with per-layer scaling put every weight on the grid
    /// `max|w|·k/4`: the quantised weights are known by hand, and so is the error.
    @Test func levelsErrorEqualsTheHandQuantisedLayer() throws {
        // max|w| = 1; on the 0.25 grid: 0.3 -> 0.25, -0.6 -> -0.5, 0.1 -> 0, -0.45 -> -0.5,
        // 0.8 -> 0.75, 0.2 -> 0.25, 0.9 -> 1, -0.35 -> -0.25, 0.65 -> 0.75, 0.55 -> 0.5.
        let w: [Float] = [1, 0.3, -0.6, 0.1, -0.45, 0.8, 0.2, -1, 0.9, -0.35, 0.65, 0.55]
        let quantised: [Float] = [1, 0.25, -0.5, 0, -0.5, 0.75, 0.25, -1, 1, -0.25, 0.75, 0.5]
        let graph = Self.network(w1: w, b1: nil)
        var config = Preset.ideal.config
        config.device.levels = .uniform(count: 5)
        config.scaling = .perLayer
        let result = try Diagnosis.run(Self.images(graph), config: config, seed: 1, chips: 1,
                                       options: Self.options(sensitivity: .off))
        let f2 = Self.floatLayer(Self.w2, Self.b2, outputs: 2)
        let float = Self.forward(Self.floatLayer(w, nil, outputs: 3), f2)
        // fc2's own weights are quantised as well (its max|w| = 1: 0.7 -> 0.75, 0.4 -> 0.5, 0.9 -> 1, 0.6 -> 0.5; biases on bias rows).
        let chip = try AnalogChip(graph: graph, config: config, seed: 1, chip: 0, inputMaxAbs: 1,
                                  calibration: Self.images(graph).calibration)
        let second = try Self.effective(chip, op: 3)
        #expect(second.w.flatMap { $0 } == [0.75, -1, 0.5, -0.5, 1, 0.5])
        let hand = Self.forward(Self.floatLayer(quantised, nil, outputs: 3), second)
        let errors = try #require(result.propagation.opErrors)
        let expected = Self.relativeRMS(hand[0], float[0])
        #expect(expected > 0.05)
        #expect(abs((errors[1].relativeRMSError ?? 0) / expected - 1) < 1e-4, "\(errors[1].relativeRMSError ?? 0) vs \(expected)")
        #expect(abs((errors[3].relativeRMSError ?? 0) / Self.relativeRMS(hand[2], float[2]) - 1) < 1e-4)
        #expect(result.attribution.filter(\.active).map(\.label) == ["ideal", "levels", "all"])
    }

    /// The non-ideality groups partition the chip's parameters: switched on one after
    /// another over the ideal chip they give back the chip; the ideal chip of the ideal
    /// preset is the ideal preset.
    @Test func nonidealitiesPartitionTheParameters() throws {
        var full = Preset.rram.config
        full.circuit.wires = WireParameters(rowWireResistanceOhms: 1, columnWireResistanceOhms: 1, sourceResistanceOhms: 0)
        full.circuit.irDrop = .fast
        full.periphery.limiterOffsetVolts = 0.001
        let ideal = full.withoutNonidealities
        let rebuilt = Nonideality.allCases.reduce(ideal) { c, effect in effect.switchOn(from: full, in: c) }
        #expect(rebuilt == full)
        #expect(Nonideality.allCases.allSatisfy { $0.isActive(in: full) })
        #expect(Preset.ideal.config.withoutNonidealities == Preset.ideal.config)
        #expect(Nonideality.allCases.filter { $0.isActive(in: Preset.rram.config) }.map(\.rawValue)
            == ["window", "levels", "variation", "read-noise", "stuck", "drift", "converters", "op-amp"])
        // Structure stays: tiles, scaling, headroom, mode.
        #expect(ideal.tile == full.tile && ideal.scaling == full.scaling && ideal.mappingHeadroom == full.mappingHeadroom)
    }

    /// On a real network and CIFAR-10 images: the ideal chip (and the `ideal` attribution row of
    /// a realistic chip) has zero error up to float rounding and float accuracy; inactive rows
    /// repeat it; the `all` row is the propagation run.
    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"))
    func idealChipHasNoErrorOnATestNetwork() throws {
        var settings = EvaluationSettings()
        settings.modelPath = repositoryRoot + "/Weights/testnets/vgg_tiny.h5"
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 12
        settings.batchSize = 5
        settings.threads = 2
        let inputs = try EvaluationInputs(settings: settings)
        var ideal = Preset.ideal.config
        ideal.calibrationImages = 8
        let clean = try Evaluation.diagnose(inputs, settings: settings, config: ideal, preset: .ideal, seed: 0, chips: 1,
                                            sensitivity: .block)
        for e in clean.propagation.opErrors ?? [] {
            #expect((e.relativeRMSError ?? 0) < 1e-5, "\(e.name): \(e.relativeRMSError ?? 0)")
        }
        #expect(clean.propagation.accuracy == clean.floatAccuracy)
        #expect(clean.attribution.filter(\.active).map(\.label) == ["ideal", "all"])
        #expect(clean.sensitivity.allSatisfy { $0.accuracy == clean.floatAccuracy && ($0.logitsRelativeRMSError ?? 0) < 1e-5 })

        var rram = Preset.rram.config
        rram.calibrationImages = 8
        let report = try Evaluation.diagnose(inputs, settings: settings, config: rram, preset: .rram, seed: 3, chips: 2,
                                             sensitivity: .off)
        let rows = Dictionary(uniqueKeysWithValues: report.attribution.map { ($0.label, $0) })
        let idealRow = try #require(rows["ideal"])
        #expect((idealRow.opErrors ?? []).allSatisfy { ($0.relativeRMSError ?? 0) < 1e-5 })
        #expect(idealRow.accuracy == report.floatAccuracy && idealRow.chipAccuracies.count == 2)
        for off in ["ir-drop", "circuits"] {
            #expect(rows[off]?.active == false && rows[off]?.logitsRelativeRMSError == idealRow.logitsRelativeRMSError)
        }
        #expect(rows["all"] == report.propagation)
        // The same chips as `eval` (seed, chip k): the same accuracy per chip, at another batch size.
        var evalSettings = settings
        evalSettings.batchSize = 7
        let eval = try Evaluation.analog(inputs, settings: evalSettings, config: rram, preset: .rram, seed: 3, chips: 2)
        #expect(eval.chipAccuracies == report.propagation.chipAccuracies)
        #expect(eval.floatAccuracy == report.floatAccuracy)
        for on in ["variation", "stuck", "levels", "read-noise"] {
            #expect((rows[on]?.logitsRelativeRMSError ?? 0) > 1e-3, "\(on)")
        }
        // Pooled over two chips: error sums are the two chips' sums.
        #expect(report.propagation.opErrors?.first?.sums.count == 2 * 12 * inputs.model.graph.ops[0].outputShape.reduce(1, *))
        // Same seed, same numbers.
        let again = try Evaluation.diagnose(inputs, settings: settings, config: rram, preset: .rram, seed: 3, chips: 2,
                                            sensitivity: .off)
        #expect(again.propagation == report.propagation)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let written = try DiagnosisOutputs.write(report, directory: dir)
        #expect(written.map { ($0 as NSString).lastPathComponent }
            == ["diagnosis.json", "diagnosis.md", "error-per-op.svg", "attribution.svg"])
        let decoded = try JSONDecoder().decode(DiagnosisReport.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/diagnosis.json")))
        #expect(decoded.propagation == report.propagation)
    }

    /// Threads change nothing; batch sizes change the error sums only by double rounding.
    @Test func resultsDoNotDependOnBatchesOrThreads() throws {
        let graph = Self.network()
        var config = Preset.rram.config
        config.tile = .unlimited
        var one = Self.options()
        one.threads = 1
        one.batchSize = 12
        var two = one
        two.threads = 2
        var small = two
        small.batchSize = 5
        let a = try Diagnosis.run(Self.images(graph), config: config, seed: 9, chips: 2, options: one)
        let b = try Diagnosis.run(Self.images(graph), config: config, seed: 9, chips: 2, options: two)
        let c = try Diagnosis.run(Self.images(graph), config: config, seed: 9, chips: 2, options: small)
        #expect(a.propagation == b.propagation && a.attribution == b.attribution && a.sensitivity == b.sensitivity)
        #expect(c.propagation.chipAccuracies == a.propagation.chipAccuracies)
        for (x, y) in zip(c.propagation.opErrors ?? [], a.propagation.opErrors ?? []) {
            #expect(abs(x.sums.error - y.sums.error) <= 1e-12 * y.sums.error && x.sums.count == y.sums.count, "\(x.name)")
        }
        // The read noise and variation of the rram preset are really there.
        #expect((a.propagation.logitsRelativeRMSError ?? 0) > 0.01)
    }

    @Test func mixingRefusesAChipOfAnotherSeed() throws {
        let graph = Self.network()
        let calibration = Self.images(graph).calibration
        let a = try AnalogChip(graph: graph, config: Preset.rram.config, seed: 1, chip: 0, inputMaxAbs: 1, calibration: calibration)
        let b = try AnalogChip(graph: graph, config: Preset.rram.config, seed: 2, chip: 0, inputMaxAbs: 1, calibration: calibration)
        #expect(errorMessage { _ = try a.replacing(ops: [1], with: b) }.contains("same graph, seed"))
        #expect(errorMessage { _ = try a.replacing(ops: [9], with: a) }.contains("op 9 is not an op"))
    }

    @Test func blocksGroupOpsByTheirFirstNumericComponent() {
        #expect(SensitivityGrouping.block(of: "features.3.block.1.0") == "features.3")
        #expect(SensitivityGrouping.block(of: "features.0.0") == "features.0")
        #expect(SensitivityGrouping.block(of: "classifier.0") == "classifier.0")
        #expect(SensitivityGrouping.block(of: "layer1.0.conv1") == "layer1.0")
        #expect(SensitivityGrouping.block(of: "add_2") == nil)
    }

    /// Functional ops join the block before them, wherever the block continues.
    @Test func blockGroupsOfAResidualBlock() throws {
        let g = Conv2DGeometry(inChannels: 1, outChannels: 1, kernel: (1, 1), input: (2, 2))
        func conv(_ name: String, _ input: Int) -> Op {
            Op(name: name, path: "", kind: .conv2d(geometry: g, weight: [0.5], bias: nil), inputs: [input], outputShape: [1, 2, 2])
        }
        let graph = Graph(inputShape: [1, 2, 2], ops: [
            conv("stem.0", 0), conv("blocks.1.conv.0", 1), Op(name: "relu", path: "", kind: .relu, inputs: [2], outputShape: [1, 2, 2]),
            conv("blocks.1.conv.1", 3), Op(name: "add", path: "", kind: .add, inputs: [4, 1], outputShape: [1, 2, 2]),
            Op(name: "flatten", path: "", kind: .flatten, inputs: [5], outputShape: [4]),
        ], outputIndex: 5)
        let chip = try AnalogChip(graph: graph, config: Preset.ideal.config, seed: 0, chip: 0, inputMaxAbs: 1,
                                  calibration: Calibration(maxAbs: [Float](repeating: 1, count: 7), images: 1))
        let groups = SensitivityGrouping.block.groups(chip)
        #expect(groups.map(\.label) == ["stem.0", "blocks.1"])
        #expect(groups.map(\.ops) == [[0], [1, 2, 3, 4]])
        #expect(SensitivityGrouping.op.groups(chip).map(\.ops) == [[0], [1], [2], [3], [4]])
    }

    @Test(arguments: [
        (["--images", "0"], "--images: must be positive, got 0"),
        (["--chips", "0"], "--chips: must be positive, got 0"),
        (["--batch", "0"], "--batch: must be positive, got 0"),
        (["--sensitivity", "layer"], "--sensitivity"),
        (["--variation=-1"], "--variation: must be >= 0"),
    ])
    func badFlagsAreRejectedNamingTheFlag(arguments: [String], expected: String) {
        do {
            _ = try XbarSimCommand.parseAsRoot(["diagnose"] + arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let message = XbarSimCommand.message(for: error)
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }
}

import Foundation
import Testing
@testable import XbarSim

/// The format-2 ops (pooling, channel wiring, clamp, digital functions) against independent
/// references: PyTorch's golden outputs in the committed test networks, brute-force
/// definitions, and closed forms.
struct NewOpsTests {
    static let testnets = ["ops_v2", "vgg_tiny", "resnet20_tiny"]

    static func testnet(_ name: String) -> String { repositoryRoot + "/Weights/testnets/\(name).h5" }

    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"), arguments: testnets)
    func floatEngineReproducesPyTorchOnTestNetworks(name: String) throws {
        let model = try ModelFile.load(Self.testnet(name))
        let dataset = try CIFAR10.test(in: try #require(sharedDataDirectory))
        let result = try GoldenCheck.float(model: model, dataset: dataset, threads: 2)
        #expect(result.logitsRelativeError <= 1e-5, "\(name): logits \(result.logitsRelativeError)")
        for op in result.ops { #expect(op.relativeError <= 1e-5, "\(name) op \(op.index) \(op.name) (\(op.type)): \(op.relativeError)") }
        #expect(result.predictionMismatches == 0)
    }

    /// With ideal devices the memristive network computes the float network, every op type included.
    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"), arguments: testnets)
    func idealChipReproducesFloatOnTestNetworks(name: String) throws {
        var settings = EvaluationSettings()
        settings.modelPath = Self.testnet(name)
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 8
        let inputs = try EvaluationInputs(settings: settings)
        let calibration = try Evaluation.calibrate(inputs, images: 8, threads: 1)
        for (mapping, mode, tile) in [(MappingScheme.paper, SignalMode.analog, "unlimited"), (.paper, .analog, "32x32"),
                                      (.differential, .digitized, "64x32"), (.invertedOutput, .analog, "unlimited"),
                                      (.invertedOutput, .analog, "32x32"), (.invertedOutput, .digitized, "64x32")] {
            var config = Preset.ideal.config
            config.mapping = mapping
            config.mode = mode
            config.tile = try #require(TileSize(argument: tile))
            let chip = try AnalogChip(graph: inputs.model.graph, config: config, seed: 1, chip: 0,
                                      inputMaxAbs: Evaluation.inputMaxAbs(inputs.model.metadata), calibration: calibration)
            let batch = inputs.batch(0..<8)
            let analog = try chip.run(batch, firstImage: 0, threads: 1)
            let float = try FloatExecutor(graph: inputs.model.graph).run(batch)
            let error = GoldenCheck.relativeError(analog.scalars, float.scalars)
            #expect(error <= 1e-4, "\(name) \(mapping) \(mode) \(tile): \(error)")
        }
    }

    /// Brute force over every window tap, in double precision, straight from PyTorch's docs.
    static func referencePool(_ x: [Float], _ g: PoolGeometry, n: Int, average: Bool, countIncludePad: Bool) -> [Double] {
        var out: [Double] = []
        for c in 0..<g.channels {
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for image in 0..<n {
                        var best = -Double.infinity, sum = 0.0, valid = 0
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                let iy = oy * g.strideHeight - g.paddingHeight + ky * g.dilationHeight
                                let ix = ox * g.strideWidth - g.paddingWidth + kx * g.dilationWidth
                                guard iy >= 0, iy < g.inHeight, ix >= 0, ix < g.inWidth else { continue }
                                let v = Double(x[((c * g.inHeight + iy) * g.inWidth + ix) * n + image])
                                best = max(best, v)
                                sum += v
                                valid += 1
                            }
                        }
                        // PyTorch's divisor with count_include_pad: the window clipped to the padded input.
                        let hs = oy * g.strideHeight - g.paddingHeight, ws = ox * g.strideWidth - g.paddingWidth
                        let he = min(hs + g.kernelHeight, g.inHeight + g.paddingHeight)
                        let we = min(ws + g.kernelWidth, g.inWidth + g.paddingWidth)
                        let divisor = countIncludePad ? (he - hs) * (we - ws) : valid
                        out.append(average ? sum / Double(divisor) : best)
                    }
                }
            }
        }
        return out
    }

    /// Max pooling's vector paths (32 images in registers, then 8 at a time, then one by one),
    /// NaN taps included: a NaN in a window wins, as in PyTorch.
    @Test(arguments: [11, 43])
    func maxPoolingVectorPathPropagatesNaN(n: Int) {
        let g = PoolGeometry(channels: 2, input: (5, 5), kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        var values = TestValues(seed: 21)
        var x = values.array(2 * 25 * n)
        x[(0 * 25 + 6) * n + 2] = .nan      // channel 0, pixel (1, 1), image 2 (first vector block)
        x[(1 * 25 + 24) * n + n - 2] = .nan // channel 1, pixel (4, 4), image n - 2 (scalar remainder)
        x[(0 * 25 + 0) * n + n - 5] = .nan  // channel 0, pixel (0, 0) (a window's first tap), image n - 5
        let y = Kernels.pool(Tensor(shape: [2, 5, 5, n], scalars: x), geometry: g, average: false, threads: 1)
        for c in 0..<2 {
            for oy in 0..<3 {
                for ox in 0..<3 {
                    for k in 0..<n {
                        var best = -Float.infinity, sawNaN = false
                        for iy in max(0, 2 * oy - 1)...min(4, 2 * oy + 1) {
                            for ix in max(0, 2 * ox - 1)...min(4, 2 * ox + 1) {
                                let v = x[((c * 5 + iy) * 5 + ix) * n + k]
                                if v.isNaN { sawNaN = true } else { best = max(best, v) }
                            }
                        }
                        let got = y.scalars[((c * 3 + oy) * 3 + ox) * n + k]
                        if sawNaN { #expect(got.isNaN, "c \(c) (\(oy), \(ox)) image \(k)") } else { #expect(got == best) }
                    }
                }
            }
        }
        #expect(y.scalars.filter(\.isNaN).count == 4 + 1 + 1)  // pixel (1,1) is in 4 windows, (4,4) and (0,0) in 1
    }

    @Test func poolingMatchesTheDefinition() throws {
        let cases: [(PoolGeometry, Bool)] = [
            (PoolGeometry(channels: 2, input: (7, 6), kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true), true),
            (PoolGeometry(channels: 2, input: (7, 6), kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true), false),
            (PoolGeometry(channels: 1, input: (9, 9), kernel: (3, 2), stride: (2, 3), padding: (1, 1), dilation: (2, 1)), false),
            (PoolGeometry(channels: 3, input: (5, 8), kernel: (2, 2), stride: (2, 2)), true),
            (PoolGeometry(channels: 1, input: (6, 6), kernel: (4, 4), stride: (3, 3), padding: (2, 2), ceilMode: true), true),
        ]
        var values = TestValues(seed: 11)
        // 3 images: the scalar tail only; 37: a 32-image register block, then the tail.
        for n in [3, 37] {
        for (g, countIncludePad) in cases {
            #expect(g.invalidReason == nil)
            let x = values.array(g.channels * g.inHeight * g.inWidth * n)
            let t = Tensor(shape: [g.channels, g.inHeight, g.inWidth, n], scalars: x)
            // Average pooling has no dilation (PyTorch's AvgPool2d), so dilated windows are max-only.
            for average in g.dilationHeight == 1 && g.dilationWidth == 1 ? [false, true] : [false] {
                let y = Kernels.pool(t, geometry: g, average: average, countIncludePad: countIncludePad, threads: 2)
                let reference = Self.referencePool(x, g, n: n, average: average, countIncludePad: countIncludePad)
                #expect(y.shape == [g.channels, g.outHeight, g.outWidth, n])
                #expect(GoldenCheck.relativeError(y.scalars, reference.map(Float.init)) <= 1e-6,
                        "\(g) average \(average) include pad \(countIncludePad), \(n) images")
            }
        }
        }
        // PyTorch's ceil_mode sizes: 32 -> 17 (k3 s2 p1), 17 -> 9, 7 -> 4; floor: 7 -> 3.
        #expect(PoolGeometry(channels: 1, input: (32, 32), kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true).outHeight == 17)
        #expect(PoolGeometry(channels: 1, input: (17, 17), kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true).outHeight == 9)
        #expect(PoolGeometry(channels: 1, input: (7, 7), kernel: (2, 2), stride: (2, 2), ceilMode: true).outHeight == 4)
        #expect(PoolGeometry(channels: 1, input: (7, 7), kernel: (2, 2), stride: (2, 2)).outHeight == 3)
        #expect(PoolGeometry(channels: 1, input: (4, 4), kernel: (2, 2), stride: (1, 1), padding: (2, 2)).invalidReason != nil)
    }

    @Test func channelWiringIsThePermutationPyTorchDefines() {
        // 6 channels of one value each (c), two images (c and 10 + c).
        let x = Tensor(shape: [6, 1, 1, 2], scalars: (0..<6).flatMap { [Float($0), Float(10 + $0)] })
        // view(n, 2, 3) -> transpose(1, 2): output j*2 + i = input i*3 + j: [0, 3, 1, 4, 2, 5].
        #expect(Kernels.shuffleChannels(x, groups: 2).scalars == [0, 10, 3, 13, 1, 11, 4, 14, 2, 12, 5, 15])
        #expect(Kernels.shuffleChannels(x, groups: 3).scalars == [0, 10, 2, 12, 4, 14, 1, 11, 3, 13, 5, 15])
        let slice = Kernels.sliceChannels(x, start: 2, stop: 4)
        #expect(slice.shape == [2, 1, 1, 2] && slice.scalars == [2, 12, 3, 13])
        let cat = Kernels.concatenateChannels([slice, Kernels.sliceChannels(x, start: 0, stop: 1)])
        #expect(cat.shape == [3, 1, 1, 2] && cat.scalars == [2, 12, 3, 13, 0, 10])
    }

    @Test func elementwiseFunctionsMatchClosedForms() {
        let xs: [Float] = [-30, -3, -1, -0.25, 0, 0.5, 2, 25]
        for x in xs {
            let d = Double(x)
            func close(_ f: ElementwiseFunction, _ expected: Double) {
                let y = Double(f(x))
                #expect(abs(y - expected) <= 1e-6 * max(1, abs(expected)), "\(f)(\(x)) = \(y), expected \(expected)")
            }
            close(.sigmoid, 1 / (1 + exp(-d)))
            close(.tanh, tanh(d))
            close(.silu, d / (1 + exp(-d)))
            close(.gelu(tanhApproximation: false), 0.5 * d * (1 + erf(d / 2.0.squareRoot())))
            close(.gelu(tanhApproximation: true), 0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d))))
            close(.leakyReLU(negativeSlope: 0.1), d >= 0 ? d : 0.1 * d)
            close(.elu(alpha: 1.5), d > 0 ? d : 1.5 * (exp(d) - 1))
            close(.softplus(beta: 2, threshold: 20), 2 * d > 20 ? d : log(1 + exp(2 * d)) / 2)
            close(.mish, d * tanh(log(1 + exp(d))))
            close(.clamp(lower: 0, upper: 6), min(max(d, 0), 6))
            close(.clamp(lower: nil, upper: 1.5), min(d, 1.5))
        }
    }

    /// Analog circuits of the new ops in closed form: the max circuit adds its offset,
    /// limiters clamp at the bound plus their offset, a digital op quantises its input on
    /// the ADC range, computes, and quantises its output on the DAC range.
    @Test func analogCircuitsOfTheNewOpsFollowTheirEquations() throws {
        let g = PoolGeometry(channels: 1, input: (2, 2), kernel: (2, 2), stride: (2, 2))
        let x = Tensor(shape: [1, 2, 2, 1], scalars: [0.3, -1, 0.7, 0.2])
        let y = AnalogCircuits.maxPool(x, geometry: g, offsetUnits: 0.05, railUnits: 0.72, threads: 1)
        #expect(y.scalars == [0.72])                                      // 0.7 + 0.05 clipped at the rail
        #expect(abs(AnalogCircuits.maxPool(x, geometry: g, offsetUnits: -0.1, railUnits: nil, threads: 1).scalars[0] - 0.6) < 1e-6)
        var t = Tensor(shape: [4], scalars: [-3, -0.5, 3, 8])
        AnalogCircuits.limit(&t, lower: 0, upper: 6, offsetUnits: 0.01, railUnits: 7)
        #expect(t.scalars == [0.01, 0.01, 3, 6.01])

        // A one-op network: sigmoid in digital periphery with 4-bit ADC and DAC.
        let op = Op(name: "s", path: "/ops/0000", kind: .elementwise(.sigmoid), inputs: [0], outputShape: [1, 1, 4])
        let graph = Graph(inputShape: [1, 1, 4], ops: [op], outputIndex: 0)
        var config = Preset.ideal.config
        config.periphery.adc.bits = 4
        config.periphery.dac.bits = 4
        let calibration = Calibration(maxAbs: [2, 1], images: 1)
        let chip = try AnalogChip(graph: graph, config: config, seed: 0, chip: 0, inputMaxAbs: 2, calibration: calibration)
        #expect(chip.stages[0].isDigital)
        let input: [Float] = [-2, -0.4, 0.3, 1.9]
        // (The network input's own DAC quantises on the same +-2 range first: idempotent.)
        let got = try chip.run(Tensor(shape: [1, 1, 4, 1], scalars: input), firstImage: 0, threads: 1).scalars
        // ADC: 4 bits on +-2 (step 2/7); sigmoid; DAC: 4 bits on +-1 (step 1/7).
        let expected = input.map { v -> Float in
            let a = (Double(v) / (2.0 / 7)).rounded() * (2.0 / 7)
            let s = 1 / (1 + exp(-a))
            return Float((s / (1.0 / 7)).rounded() * (1.0 / 7))
        }
        #expect(got.count == 4)
        for (a, b) in zip(got, expected) { #expect(abs(Double(a) - Double(b)) < 1e-6, "\(got) vs \(expected)") }
    }

    @Test func resourcesCountTheNewCircuits() throws {
        let pool = PoolGeometry(channels: 2, input: (4, 4), kernel: (2, 2), stride: (2, 2))
        let ops = [
            Op(name: "p", path: "/ops/0000", kind: .maxPool(pool), inputs: [0], outputShape: [2, 2, 2]),
            Op(name: "t", path: "/ops/0001", kind: .elementwise(.tanh), inputs: [1], outputShape: [2, 2, 2]),
            Op(name: "c", path: "/ops/0002", kind: .elementwise(.clamp(lower: 0, upper: 6)), inputs: [2], outputShape: [2, 2, 2]),
        ]
        let graph = Graph(inputShape: [2, 4, 4], ops: ops, outputIndex: 2)
        let chip = try AnalogChip(graph: graph, config: Preset.ideal.config, seed: 0, chip: 0, inputMaxAbs: 1,
                                  calibration: Calibration(maxAbs: [1, 1, 1, 1], images: 1))
        let unrolled = ChipResources.layers(chip: chip, layout: .spatiallyUnrolled, technology: .default)
        #expect(unrolled[0].opAmps.maxPool == 8 * 4)      // 8 outputs, one super diode per window input
        #expect(unrolled[1].adcs == 8 && unrolled[1].dacs == 8)
        #expect(unrolled[1].adcConversionsPerImage == 8 && unrolled[1].dacConversionsPerImage == 8)
        // Clamp 0..6: a precision clamp (op-amp + diode) at each bound, no converters.
        #expect(unrolled[2].opAmps.clamps == 16 && unrolled[2].opAmps.total == 16 && unrolled[2].adcs == 0)
        let stationary = ChipResources.layers(chip: chip, layout: .weightStationary, technology: .default)
        #expect(stationary[1].adcs == 2 && stationary[1].adcConversionsPerImage == 8)
    }

    @Test func formatVersionAndRequiredAttributesAreEnforced() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pool = RawOp(name: "pool", type: "max_pool2d", inputs: ["input"],
                         ints: ["kernel": [2, 2], "stride": [2, 2], "padding": [0, 0], "dilation": [1, 1], "ceil_mode": [0]])
        let rest = [RawOp(name: "flat", type: "flatten", inputs: ["pool"]),
                    RawOp(name: "fc", type: "linear", inputs: ["flat"],
                          tensors: ["weight": ([2, 4], [Float](repeating: 1, count: 8)), "bias": ([2], [0, 0])])]
        let path = dir + "/m.h5"
        try writeRawModel(path, ops: [pool] + rest, version: 2)
        let model = try ModelFile.load(path)
        #expect(model.graph.ops[0].outputShape == [1, 2, 2])
        try writeRawModel(path, ops: [pool] + rest, version: 1)
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("needs format_version 2"))
        var noCeil = pool
        noCeil.ints["ceil_mode"] = nil
        try writeRawModel(path, ops: [noCeil] + rest, version: 2)
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("required attribute 'ceil_mode' of max_pool2d is missing"))
        var conv = validRawOps()
        conv[0].ints["stride"] = nil
        try writeRawModel(path, ops: conv, version: 2)
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("required attribute 'stride' of conv2d is missing"))
        var noBias = validRawOps()
        noBias[3].tensors["bias"] = nil
        try writeRawModel(path, ops: noBias, version: 2)
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("tensor 'bias' is missing"))
        var huge = validRawOps()
        huge[0].ints["padding"] = [1 << 40, 1]
        try writeRawModel(path, ops: huge, version: 2)
        #expect(errorMessage { _ = try ModelFile.load(path) }.contains("attribute 'padding'"))
    }

    @Test func everyNewOpSurvivesWriteAndLoad() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = PoolGeometry(channels: 4, input: (6, 6), kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true)
        let q = PoolGeometry(channels: 4, input: (4, 4), kernel: (2, 2), stride: (1, 1), padding: (1, 1), dilation: (2, 2))
        let ops = [
            Op(name: "mp", path: "", kind: .maxPool(p), inputs: [0], outputShape: [4, 4, 4]),
            Op(name: "mp2", path: "", kind: .maxPool(q), inputs: [1], outputShape: [4, 4, 4]),
            Op(name: "ap", path: "", kind: .avgPool(p, countIncludePad: false), inputs: [0], outputShape: [4, 4, 4]),
            Op(name: "a", path: "", kind: .channelSlice(start: 1, stop: 3), inputs: [2], outputShape: [2, 4, 4]),
            Op(name: "cat", path: "", kind: .concat, inputs: [4, 3, 2], outputShape: [10, 4, 4]),
            Op(name: "sh", path: "", kind: .channelShuffle(groups: 5), inputs: [5], outputShape: [10, 4, 4]),
            Op(name: "cl", path: "", kind: .elementwise(.clamp(lower: -1, upper: nil)), inputs: [6], outputShape: [10, 4, 4]),
            Op(name: "ge", path: "", kind: .elementwise(.gelu(tanhApproximation: true)), inputs: [7], outputShape: [10, 4, 4]),
            Op(name: "sp", path: "", kind: .elementwise(.softplus(beta: 2, threshold: 10)), inputs: [8], outputShape: [10, 4, 4]),
            Op(name: "lr", path: "", kind: .elementwise(.leakyReLU(negativeSlope: 0.2)), inputs: [9], outputShape: [10, 4, 4]),
            Op(name: "el", path: "", kind: .elementwise(.elu(alpha: 0.5)), inputs: [10], outputShape: [10, 4, 4]),
            Op(name: "mi", path: "", kind: .elementwise(.mish), inputs: [11], outputShape: [10, 4, 4]),
            Op(name: "g", path: "", kind: .globalAveragePool, inputs: [12], outputShape: [10, 1, 1]),
        ]
        let graph = Graph(inputShape: [4, 6, 6], ops: ops, outputIndex: 12)
        let meta = ModelMetadata(architecture: "all", inputShape: [4, 6, 6], normalizationMean: [0, 0, 0, 0],
                                 normalizationStd: [1, 1, 1, 1], classNames: (0..<10).map { "\($0)" })
        let path = dir + "/all.h5"
        try ModelFile.write(Model(path: path, metadata: meta, graph: graph), to: path)
        let loaded = try ModelFile.load(path)
        #expect(loaded.metadata.formatVersion == 2)
        for (a, b) in zip(loaded.graph.ops, ops) {
            #expect(a.kind == b.kind && a.inputs == b.inputs && a.outputShape == b.outputShape, "\(b.name)")
        }
    }
}

import Testing
@testable import XbarSim

/// Read energy with IR drop: the quadratic forms of a layer's tiles and the receptive-field
/// moments of a batch, against solving every read of every tile with the exact solver.
struct IRDropEnergyTests {
    static let wires = WireParameters(rowWireResistanceOhms: 2, columnWireResistanceOhms: 3, sourceResistanceOhms: 1)

    static func config(_ scheme: MappingScheme, _ mode: SignalMode, wires: WireParameters = wires,
                       irDrop: IRDropMode = .exact) -> AnalogConfig {
        var c = Preset.rram.config           // programming variation, faults, finite-gain TIAs
        c.mapping = scheme
        c.mode = mode
        c.device.window = ConductanceWindow(gMinSiemens: 10e-6, gMaxSiemens: 1e-3)   // wires that matter
        c.tile = TileSize(rows: 8, columns: 4)
        c.circuit.wires = wires
        c.circuit.irDrop = irDrop
        c.circuit.fastTolerance = 1e-10
        return c
    }

    /// A 3x3 convolution (3 -> 5 channels, or depthwise on 5) of a 4x4 map with biases:
    /// 28 (depthwise 10) logical rows on 8x4 tiles, split into row and column tiles.
    static func layer(_ config: AnalogConfig, depthwise: Bool) throws -> CrossbarLayer {
        let (inC, groups) = depthwise ? (5, 5) : (3, 1)
        let g = Conv2DGeometry(inChannels: inC, outChannels: 5, kernel: (3, 3), stride: (1, 1), padding: (1, 1), groups: groups,
                               input: (4, 4))
        var values = TestValues(seed: depthwise ? 8 : 9)
        let w = values.array(5 * g.fanIn)
        let b = values.array(5)
        return try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: g.fanIn, outputs: 5, weights: w, bias: b),
                                 config: config, seed: 4, key: [0, 2])
    }

    /// The reference: every physical tile solved for every read (output position x image),
    /// its row voltages built by hand from the input (`V = sign·x·u`, bias rows at 1 unit).
    static func bruteForce(_ layer: CrossbarLayer, _ x: Tensor, voltsPerUnit u: Double, seconds t: Double) throws
        -> (device: Double, wire: Double) {
        let g = layer.geometry
        let m = layer.mapped
        let images = x.shape[3]
        let reads = g.outHeight * g.outWidth * images
        func value(_ l: Int, group: Int, _ oy: Int, _ ox: Int, _ n: Int) -> Double {
            guard l < m.inputs else { return 1 }
            let (ci, ky, kx) = (l / (g.kernelHeight * g.kernelWidth), (l / g.kernelWidth) % g.kernelHeight, l % g.kernelWidth)
            let c = group * g.channelsPerGroup + ci
            let iy = oy * g.strideHeight - g.paddingHeight + ky * g.dilationHeight
            let ix = ox * g.strideWidth - g.paddingWidth + kx * g.dilationWidth
            guard (0..<g.inHeight).contains(iy), (0..<g.inWidth).contains(ix) else { return 0 }
            return Double(x.scalars[((c * g.inHeight + iy) * g.inWidth + ix) * images + n])
        }
        var (device, wire) = (0.0, 0.0)
        let tiles = layer.physicalTiles()
        #expect(tiles.count > 1)
        for tile in tiles {
            let group = g.groups > 1 ? tile.outputs.lowerBound / (m.outputs / g.groups) : 0
            var volts = [Double](repeating: 0, count: tile.circuit.rows * reads)
            for (p, drive) in tile.rowDrives.enumerated() {
                var k = 0
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        for n in 0..<images {
                            volts[p * reads + k] = drive.sign * value(drive.logicalRow, group: group, oy, ox, n) * u
                            k += 1
                        }
                    }
                }
            }
            let d = try ExactTileSolver(tile.circuit).dissipation(inputVolts: volts, batch: reads)
            device += d.devicePowerWatts.reduce(0, +) * t
            wire += (d.wirePowerWatts.reduce(0, +) + d.sourcePowerWatts.reduce(0, +)) * t
        }
        return (device, wire)
    }

    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }

    static let cases: [(MappingScheme, SignalMode, Bool)] = [
        (.paper, .analog, false), (.differential, .analog, false), (.paper, .digitized, false),
        (.differential, .digitized, false), (.paper, .analog, true), (.differential, .analog, true),
    ]

    /// (4) A convolution split over tiles: forms + moments give the brute-force energy.
    @Test(arguments: cases.indices)
    func layerEnergyEqualsSolvingEveryRead(index: Int) throws {
        let (scheme, mode, depthwise) = Self.cases[index]
        let layer = try Self.layer(Self.config(scheme, mode), depthwise: depthwise)
        var values = TestValues(seed: 21)
        let channels = layer.geometry.inChannels
        let x = Tensor(shape: [channels, 4, 4, 3], scalars: values.array(channels * 48))
        let (u, t) = (0.05, 1e-8)
        let forms = try #require(try CrossbarEnergyForms.build([layer], threads: 2).first)
        #expect(forms.tiles == layer.physicalTiles().count)
        let e = ReadEnergy.solvedCrossbarJoules(forms: forms, layer: layer, input: x, voltsPerUnit: u, readSeconds: t, dac: nil,
                                                threads: 2)
        let reference = try Self.bruteForce(layer, x, voltsPerUnit: u, seconds: t)
        #expect(Self.relative(e.deviceJoules, reference.device) <= 1e-9, "\(e.deviceJoules) vs \(reference.device)")
        #expect(Self.relative(e.wireJoules, reference.wire) <= 1e-9, "\(e.wireJoules) vs \(reference.wire)")
        #expect(reference.wire > 1e-3 * reference.device)   // the wires matter in this case
        // IR drop lowers the devices' voltages: less device energy than the ideal-wire formula.
        let ideal = ReadEnergy.crossbarJoules(layer: layer, input: x, voltsPerUnit: u, readSeconds: t, dac: nil).joules
        #expect(e.deviceJoules < ideal)
    }

    /// The fast solver's forms give the exact solver's energy to its tolerance.
    @Test func fastSolverEnergyMatchesExact() throws {
        let exact = try Self.layer(Self.config(.paper, .analog), depthwise: false)
        let fast = try Self.layer(Self.config(.paper, .analog, irDrop: .fast), depthwise: false)
        var values = TestValues(seed: 22)
        let x = Tensor(shape: [3, 4, 4, 2], scalars: values.array(96))
        func energy(_ l: CrossbarLayer) throws -> (deviceJoules: Double, wireJoules: Double) {
            let f = try #require(try CrossbarEnergyForms.build([l], threads: 1).first)
            return ReadEnergy.solvedCrossbarJoules(forms: f, layer: l, input: x, voltsPerUnit: 0.1, readSeconds: 1e-8, dac: nil)
        }
        let (a, b) = (try energy(exact), try energy(fast))
        #expect(Self.relative(b.deviceJoules, a.deviceJoules) <= 1e-7)
        #expect(Self.relative(b.wireJoules, a.wireJoules) <= 1e-6)
    }

    /// (3) Wires of 1e-9 Ω, ideal TIAs: the solved device energy is the ideal-wire
    /// `ReadEnergy.crossbarJoules` of the same layer and batch.
    @Test(arguments: [false, true])
    func tinyWiresGiveTheIdealWireLayerEnergy(depthwise: Bool) throws {
        var config = Self.config(.paper, .analog, wires: WireParameters(rowWireResistanceOhms: 1e-9, columnWireResistanceOhms: 1e-9))
        config.periphery.opAmp = OpAmp(railVolts: 1.5, openLoopGain: nil)
        let layer = try Self.layer(config, depthwise: depthwise)
        var values = TestValues(seed: 23)
        let channels = layer.geometry.inChannels
        let x = Tensor(shape: [channels, 4, 4, 2], scalars: values.array(channels * 32))
        let forms = try #require(try CrossbarEnergyForms.build([layer], threads: 2).first)
        let e = ReadEnergy.solvedCrossbarJoules(forms: forms, layer: layer, input: x, voltsPerUnit: 0.1, readSeconds: 1e-8,
                                                dac: nil, threads: 2)
        let ideal = ReadEnergy.crossbarJoules(layer: layer, input: x, voltsPerUnit: 0.1, readSeconds: 1e-8, dac: nil).joules
        #expect(Self.relative(e.deviceJoules, ideal) <= 1e-6, "\(e.deviceJoules) vs \(ideal)")
        #expect(abs(e.wireJoules) <= 1e-6 * ideal)
    }

    /// (4) A whole run: the accumulator's per-op device and wire energy (convolution and both
    /// batch-norm stages, tiles split) equals the brute force over every crossbar the run
    /// observed, and the energy model adds the wires to the total.
    @Test(arguments: [SignalMode.analog, .digitized])
    func accumulatedRunEnergyEqualsSolvingEveryRead(mode: SignalMode) throws {
        let graph = ResourceLatencyTests.convBNActivation()
        var config = Self.config(.paper, mode)
        config.periphery.dac = DAC(bits: nil)   // the brute force drives the rows with the unquantized input
        let calibration = Calibration(maxAbs: [Float](repeating: 2, count: graph.ops.count + 1), images: 1)
        let chip = try AnalogChip(graph: graph, config: config, seed: 0, chip: 0, inputMaxAbs: 1, calibration: calibration)
        var values = TestValues(seed: 24)
        let input = Tensor(shape: [2, 4, 4, 3], scalars: values.array(96))
        var technology = Technology()
        technology.readPulseSeconds = 5e-9
        var accumulator = try ReadEnergyAccumulator(chip: chip, technology: technology, threads: 2)
        #expect(accumulator.solver == .exact)
        #expect(accumulator.forms.count == 3)
        var reference = [Int: (device: Double, wire: Double)]()
        var bruteForceError: (any Error)?
        _ = try chip.run(input, firstImage: 0, threads: 1) { o in
            accumulator.observe(o)
            do {
                let r = try Self.bruteForce(o.layer, o.input, voltsPerUnit: chip.voltsPerUnit,
                                            seconds: technology.crossbarReadSeconds)
                let old = reference[o.stage] ?? (0, 0)
                reference[o.stage] = (old.device + r.device, old.wire + r.wire)
            } catch {
                bruteForceError = error
            }
        }
        #expect(bruteForceError == nil)
        let device = accumulator.joulesPerImage(ops: 3)
        let wire = accumulator.wireJoulesPerImage(ops: 3)
        for op in 0..<2 {
            let r = try #require(reference[op])
            #expect(Self.relative(device[op] * 3, r.device) <= 1e-9, "op \(op): \(device[op] * 3) vs \(r.device)")
            #expect(Self.relative(wire[op] * 3, r.wire) <= 1e-9, "op \(op): \(wire[op] * 3) vs \(r.wire)")
            #expect(r.wire > 0)
        }
        #expect(device[2] == 0 && wire[2] == 0)
        let summary = EnergyModel.summary(chip: chip, layout: .spatiallyUnrolled, schedule: .layerByLayer, technology: technology,
                                          readJoulesPerImage: device, wireJoulesPerImage: wire,
                                          driverJoulesPerImage: accumulator.driverJoulesPerImage(ops: 3),
                                          tiaJoulesPerImage: accumulator.tiaJoulesPerImage(ops: 3))
        #expect(Self.relative(summary.energy.wireJoules, wire.reduce(0, +)) <= 1e-12)
        #expect(summary.energy.driverJoules > 0 && summary.energy.tiaJoules > 0)
        #expect(EnergyModel.energyPerImage(chip: chip, observed: accumulator, technology: technology)
            == summary.energyPerImageJoules)
    }

    /// With `--ir-drop off` the accumulator keeps the ideal-wire closed form and reports no wires.
    @Test func idealWiresKeepTheClosedForm() throws {
        let chip = try ResourceLatencyTests.chip(ResourceLatencyTests.convBNActivation(), mapping: .paper)
        let accumulator = try ReadEnergyAccumulator(chip: chip, technology: Technology())
        #expect(accumulator.solver == .off)
        #expect(accumulator.forms.isEmpty && accumulator.formSeconds == 0)
        #expect(accumulator.wireJoulesPerImage(ops: 3) == [0, 0, 0])
    }
}

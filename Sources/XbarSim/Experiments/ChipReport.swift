import Foundation
import XbarSimAnalog
import XbarSimCircuit
import XbarSimCrossbar
import XbarSimEnergy
import XbarSimGraph
import XbarSimTensor

/// One op of the chip report: its hardware, timing and energy per image.
public struct ReportLayer: Sendable, Hashable, Codable {
    public var index: Int
    public var op: String
    public var type: String
    public var memristors: Int
    public var tiles: Int
    public var tileUtilisation: Double
    public var opAmps: Int
    public var opAmpsByRole: OpAmpCounts
    public var dacs: Int
    public var adcs: Int
    public var steps: Int
    public var stageSeconds: Double
    public var busySeconds: Double
    public var energyPerImageJoules: Double
    public var energy: EnergyBreakdown
}

/// Resources of the network under one mapping scheme (chosen layout).
public struct SchemeResources: Sendable, Hashable, Codable {
    public var mapping: MappingScheme
    public var memristors: Int
    public var opAmps: Int
    public var opAmpsByRole: OpAmpCounts
    /// Op-amps of the convolution and fully connected crossbars (TIAs, subtractors, output
    /// inverters, input inverters, drift gain stages).
    public var convolutionAndFCOpAmps: Int
    public var tiles: Int
    /// TIAs of the convolution and fully connected crossbars alone (nil in older reports).
    public var convolutionAndFCTIAs: Int?
}

/// The reference design's published figures next to what this run gives under the same assumptions.
public struct ReferenceComparison: Sendable, Hashable, Codable {
    /// Voltage of the network input's largest magnitude (paper: 2.5 mV).
    public var inputVoltageVolts: Double
    /// Largest |weight| of the convolution and FC layers, and the fraction of weights within ±0.2.
    public var largestWeight: Double
    public var fractionOfWeightsWithin0p2: Double
    /// Largest conductance programmed in a convolution or FC crossbar, siemens.
    public var largestConductanceSiemens: Double
    /// `V_in² · 0.2 S`: the paper's worst case (it reports 1.1 µW).
    public var paperCaseDevicePowerWatts: Double
    /// `V_in² · G_max` with this network's largest conductance.
    public var closedFormMaxDevicePowerWatts: Double
    /// Largest device power during the run (bound: each op's largest |input|² · largest G).
    public var observedMaxDevicePowerWatts: Double
    public var observedMaxDevicePowerOp: String
    /// The same over the convolution and FC crossbars only (where the paper's estimate applies).
    public var observedMaxConvolutionDevicePowerWatts: Double
    public var observedMaxConvolutionDevicePowerOp: String
    public var cmosEquivalentCellPowerWatts: Double
    /// Largest power of one memristive neuron in the run (`Σ V²G` of one crossbar column at one
    /// output position, ideal wires), and its op: the memristive ShuffleNetV2 reference's
    /// figure (at most 2.8 µW). Nil in reports written before it was measured.
    public var observedMaxNeuronPowerWatts: Double?
    public var observedMaxNeuronPowerOp: String?
    /// Reads of `deviceResponseSeconds` that the ShuffleNetV2 reference's 137 ns allows.
    public var shuffleNetLatencyInDeviceResponses: Double?
    /// Reads of `deviceResponseSeconds` that 1.24 µs allows (the paper's figure / its 100 ps).
    public var paperLatencyInDeviceResponses: Double
    /// Crossbar reads on the critical path, spatially unrolled (each op one step).
    public var unrolledCriticalPathReads: Int
    /// Crossbar reads on the critical path, weight-stationary (output positions one by one).
    public var weightStationaryCriticalPathReads: Int
    /// The same with each batch-norm module counted as one read instead of two stages.
    public var weightStationaryCriticalPathReadsBatchNormAsOne: Int
    /// The same counting only convolution, FC and GAP crossbars (batch-norm free).
    public var weightStationaryCriticalPathReadsWithoutBatchNorm: Int
    /// Op-amps of the convolution and FC layers: paper scheme (TIAs and the `−x` input
    /// inverters), a two-TIA design (two TIAs per output, no inverters), and differential with subtractor.
    public var convolutionAndFCOpAmpsPaper: Int
    public var convolutionAndFCOpAmpsTwoTIA: Int
    public var convolutionAndFCOpAmpsDifferential: Int
}

/// `xbarsim report`: resources, energy, latency and the float reference's CPU time.
public struct ChipReport: Sendable, Codable {
    public var model: String
    public var data: String
    public var preset: String?
    public var images: Int
    public var seed: UInt64
    public var threads: Int
    public var parameters: AnalogConfig
    public var technology: Technology
    public var voltsPerUnit: Double
    public var layout: ConvolutionLayout
    public var schedule: Schedule
    public var memristors: Int
    public var opAmps: Int
    public var opAmpsByRole: OpAmpCounts
    public var tiles: Int
    public var tileUtilisation: Double
    public var dacs: Int
    public var adcs: Int
    public var energyPerImageJoules: Double
    public var energyBreakdownJoules: EnergyBreakdown
    /// Where the crossbar read and wire energy come from: `off`, the ideal-wire closed form
    /// (no wire energy); `fast`/`exact`, that IR-drop solver's tiles (quadratic forms, docs/energy.md).
    public var readEnergySolver: IRDropMode
    /// Wall-clock seconds spent solving the tiles for the energy forms (0 with ideal wires).
    public var readEnergyFormSeconds: Double
    /// Crossbar read energy per image of the same run's voltages with ideal wires (`t·Σ V²·ΣG`):
    /// equals `energyBreakdownJoules.crossbarReadJoules` without IR drop; with it, the difference
    /// is the wires' effect on the devices.
    public var idealWireReadJoulesPerImage: Double
    public var latencySeconds: Double
    public var intervalSeconds: Double
    public var imagesPerSecond: Double
    public var layers: [ReportLayer]
    /// Every layout x schedule (their per-layer lists left out).
    public var layouts: [LayoutSummary]
    /// Every mapping scheme (paper, differential, inverted-output), chosen layout.
    public var schemes: [SchemeResources]
    public var reference: ReferenceComparison
    public var analogAccuracy: Double
    public var floatAccuracy: Double
    /// Float reference on this machine: CPU wall time per image (batched, `threads` threads).
    public var floatCPUSecondsPerImage: Double
    public var floatImagesPerSecond: Double
    /// Ops in digital periphery (ADC, function, DAC), as `name (type)`; nil in older reports.
    public var digitalOps: [String]?
    /// With `--write-verify`: program pulses, verify reads and their energy and serial time, once
    /// per chip (`ProgrammingCostModel`); nil (absent from JSON) otherwise.
    public var programming: ProgrammingCost? = nil
}

extension Evaluation {
    /// Runs `images` test images through the float engine (timed) and through chip 0 of
    /// `config` (observing every crossbar's voltages), then computes resources, energy and
    /// latency for every layout and schedule, and for both mapping schemes.
    public static func chipReport(
        _ inputs: EvaluationInputs, settings: EvaluationSettings, config: AnalogConfig, preset: Preset?, seed: UInt64,
        technology: Technology, layout: ConvolutionLayout, schedule: Schedule
    ) throws -> ChipReport {
        try config.validate()
        try technology.validate()
        BLAS.setThreads(settings.threads)
        let threads = settings.threads
        let graph = inputs.model.graph
        let total = inputs.dataset.count
        let batches = stride(from: 0, to: total, by: settings.batchSize).map { $0..<min(total, $0 + settings.batchSize) }

        let executor = FloatExecutor(graph: graph, threads: threads, preparingWeights: true)
        var floatCorrect = 0
        var floatSeconds = 0.0
        for range in batches {
            let batch = inputs.batch(range)
            let start = Date()
            let logits = try executor.run(batch)
            floatSeconds += Date().timeIntervalSince(start)
            floatCorrect += countCorrect(logits, labels: inputs.dataset.labels, first: range.lowerBound)
        }

        let calibration = try calibrate(inputs, images: config.calibrationImages, threads: threads)
        let inputMax = inputMaxAbs(inputs.model.metadata)
        let chip = try AnalogChip(graph: graph, config: config, seed: seed, chip: 0, inputMaxAbs: inputMax, calibration: calibration)
        var observed = try ReadEnergyAccumulator(chip: chip, technology: technology, threads: threads)
        var correct = 0
        for range in batches {
            let logits = try chip.run(inputs.batch(range), firstImage: range.lowerBound, threads: threads,
                                      observe: { observed.observe($0) })
            correct += countCorrect(logits, labels: inputs.dataset.labels, first: range.lowerBound)
        }
        let reads = observed.joulesPerImage(ops: graph.ops.count)
        let wires = observed.wireJoulesPerImage(ops: graph.ops.count)
        let drivers = observed.driverJoulesPerImage(ops: graph.ops.count)
        let tias = observed.tiaJoulesPerImage(ops: graph.ops.count)
        var summaries: [LayoutSummary] = []
        for l in ConvolutionLayout.allCases {
            for s in Schedule.allCases {
                summaries.append(EnergyModel.summary(chip: chip, layout: l, schedule: s, technology: technology,
                                                     readJoulesPerImage: reads, wireJoulesPerImage: wires,
                                                     driverJoulesPerImage: drivers, tiaJoulesPerImage: tias))
            }
        }
        guard let chosen = summaries.first(where: { $0.layout == layout && $0.schedule == schedule }) else {
            preconditionFailure("every layout and schedule is summarised")
        }
        let layers = zip(chosen.layers, chosen.layerEnergy).map { r, e in
            ReportLayer(index: r.index, op: r.op, type: r.type, memristors: r.memristors, tiles: r.tiles,
                        tileUtilisation: r.tileUtilisation, opAmps: r.opAmps.total, opAmpsByRole: r.opAmps, dacs: r.dacs,
                        adcs: r.adcs, steps: r.steps, stageSeconds: r.stageSeconds, busySeconds: r.busySeconds,
                        energyPerImageJoules: e.totalJoules, energy: e)
        }

        // Every mapping scheme (resources do not depend on the run).
        var schemes: [SchemeResources] = []
        for scheme in MappingScheme.allCases {
            let c: AnalogChip
            if scheme == config.mapping {
                c = chip
            } else {
                var other = config
                other.mapping = scheme
                other.circuit.irDrop = .off   // resources only: no need to solve its tiles
                c = try AnalogChip(graph: graph, config: other, seed: seed, chip: 0, inputMaxAbs: inputMax, calibration: calibration)
            }
            let r = ChipResources.layers(chip: c, layout: layout, technology: technology)
            let roles = r.reduce(OpAmpCounts()) { $0 + $1.opAmps }
            schemes.append(SchemeResources(
                mapping: scheme, memristors: r.reduce(0) { $0 + $1.memristors }, opAmps: roles.total, opAmpsByRole: roles,
                convolutionAndFCOpAmps: convolutionAndFCOpAmps(r, graph: graph),
                tiles: r.reduce(0) { $0 + $1.tiles }, convolutionAndFCTIAs: convolutionAndFCOpAmps(r, graph: graph, tiasOnly: true)))
        }

        let reference = referenceComparison(
            chip: chip, observed: observed, technology: technology, summaries: summaries, schemes: schemes)
        var layoutTotals = summaries
        for k in layoutTotals.indices {
            layoutTotals[k].layers = []
            layoutTotals[k].layerEnergy = []
        }
        return ChipReport(
            model: inputs.model.path, data: inputs.dataDirectory, preset: preset?.rawValue, images: total, seed: seed,
            threads: threads, parameters: config, technology: technology, voltsPerUnit: chip.voltsPerUnit, layout: layout,
            schedule: schedule, memristors: chosen.memristors, opAmps: chosen.opAmps, opAmpsByRole: chosen.opAmpsByRole,
            tiles: chosen.tiles, tileUtilisation: chosen.tileUtilisation, dacs: chosen.dacs, adcs: chosen.adcs,
            energyPerImageJoules: chosen.energyPerImageJoules, energyBreakdownJoules: chosen.energy,
            readEnergySolver: observed.solver, readEnergyFormSeconds: observed.formSeconds,
            idealWireReadJoulesPerImage: observed.idealWireJoules / Double(max(observed.images, 1)),
            latencySeconds: chosen.latencySeconds, intervalSeconds: chosen.intervalSeconds,
            imagesPerSecond: chosen.imagesPerSecond, layers: layers, layouts: layoutTotals, schemes: schemes,
            reference: reference, analogAccuracy: Double(correct) / Double(total),
            floatAccuracy: Double(floatCorrect) / Double(total),
            floatCPUSecondsPerImage: floatSeconds / Double(total),
            floatImagesPerSecond: Double(total) / max(floatSeconds, 1e-12),
            digitalOps: zip(chip.graph.ops, chip.stages).filter { $0.1.isDigital }.map { "\($0.0.name) (\($0.0.kind.typeName))" },
            programming: config.device.writeVerify.isActive ? ProgrammingCostModel().cost(chip.programmingCounts) : nil)
    }

    /// Op-amps of the convolution and FC crossbars (`OpAmpCounts.crossbarOpAmps`), or their TIAs only.
    static func convolutionAndFCOpAmps(_ layers: [LayerResources], graph: Graph, tiasOnly: Bool = false) -> Int {
        layers.reduce(0) { sum, r in
            switch graph.ops[r.index].kind {
            case .conv2d, .linear: sum + (tiasOnly ? r.opAmps.tias : r.opAmps.crossbarOpAmps)
            default: sum
            }
        }
    }

    static func referenceComparison(
        chip: AnalogChip, observed: ReadEnergyAccumulator, technology: Technology, summaries: [LayoutSummary],
        schemes: [SchemeResources]
    ) -> ReferenceComparison {
        var largestWeight = 0.0
        var within = 0, count = 0
        var largestG = 0.0
        for (op, stage) in zip(chip.graph.ops, chip.stages) {
            let weights: [Float]
            switch op.kind {
            case .conv2d(_, let w, _): weights = w
            case .linear(_, _, let w, _): weights = w
            default: continue
            }
            for w in weights {
                largestWeight = max(largestWeight, Double(abs(w)))
                if abs(w) <= 0.2 { within += 1 }
            }
            count += weights.count
            if case .crossbar(let layer) = stage {
                largestG = max(largestG, layer.programmed.positiveSiemens.max() ?? 0, layer.programmed.negativeSiemens.max() ?? 0)
            }
        }
        let v = chip.config.periphery.inputVoltageVolts
        func reads(_ layout: ConvolutionLayout, batchNormReads: Double = 2) -> Int {
            // Critical path counted in crossbar reads: latency with every read 1 s and everything else 0 s.
            var t = Technology()
            t.readPulseSeconds = 1
            t.deviceResponseSeconds = 0
            t.opAmpSettlingSeconds = 0
            t.multiplierDelaySeconds = 0
            t.dacConversionSeconds = 0
            t.adcConversionSeconds = 0
            var layers = ChipResources.layers(chip: chip, layout: layout, technology: t)
            for k in layers.indices where layers[k].type == "batchnorm" { layers[k].stageSeconds = batchNormReads }
            return Int(Latency.latencySeconds(graph: chip.graph, layers: layers, inputSeconds: 0).rounded())
        }
        let paper = schemes.first { $0.mapping == .paper }?.convolutionAndFCOpAmps ?? 0
        let paperTIAs = schemes.first { $0.mapping == .paper }?.convolutionAndFCTIAs ?? 0
        let differential = schemes.first { $0.mapping == .differential }?.convolutionAndFCOpAmps ?? 0
        let opName = observed.maxDevicePowerOp >= 0 ? chip.graph.ops[observed.maxDevicePowerOp].name : ""
        var convMax = (power: 0.0, op: "")
        for (i, p) in observed.maxDevicePowerByOp where p > convMax.power {
            switch chip.graph.ops[i].kind {
            case .conv2d, .linear: convMax = (p, chip.graph.ops[i].name)
            default: break
            }
        }
        return ReferenceComparison(
            inputVoltageVolts: v, largestWeight: largestWeight,
            fractionOfWeightsWithin0p2: count > 0 ? Double(within) / Double(count) : 0,
            largestConductanceSiemens: largestG, paperCaseDevicePowerWatts: v * v * 0.2,
            closedFormMaxDevicePowerWatts: v * v * largestG, observedMaxDevicePowerWatts: observed.maxDevicePowerWatts,
            observedMaxDevicePowerOp: opName, observedMaxConvolutionDevicePowerWatts: convMax.power,
            observedMaxConvolutionDevicePowerOp: convMax.op, cmosEquivalentCellPowerWatts: technology.cmosEquivalentCellPowerWatts,
            observedMaxNeuronPowerWatts: observed.maxNeuronPowerWatts,
            observedMaxNeuronPowerOp: observed.maxNeuronPowerOp >= 0 ? chip.graph.ops[observed.maxNeuronPowerOp].name : "",
            shuffleNetLatencyInDeviceResponses: 137e-9 / technology.deviceResponseSeconds,
            paperLatencyInDeviceResponses: 1.24e-6 / technology.deviceResponseSeconds,
            unrolledCriticalPathReads: reads(.spatiallyUnrolled), weightStationaryCriticalPathReads: reads(.weightStationary),
            weightStationaryCriticalPathReadsBatchNormAsOne: reads(.weightStationary, batchNormReads: 1),
            weightStationaryCriticalPathReadsWithoutBatchNorm: reads(.weightStationary, batchNormReads: 0),
            convolutionAndFCOpAmpsPaper: paper, convolutionAndFCOpAmpsTwoTIA: 2 * paperTIAs,
            convolutionAndFCOpAmpsDifferential: differential)
    }
}

extension Evaluation {
    /// Energy per image of chip 0 under `config` (spatially unrolled, layer by layer, the
    /// default technology), from the read energy observed on the first `images` test
    /// images: the per-point energy of a sweep.
    public static func energyPerImage(
        _ inputs: EvaluationInputs, config: AnalogConfig, seed: UInt64, images: Int, threads: Int,
        calibration: Calibration, technology: Technology = .default
    ) throws -> Double {
        let graph = inputs.model.graph
        let chip = try AnalogChip(graph: graph, config: config, seed: seed, chip: 0,
                              inputMaxAbs: inputMaxAbs(inputs.model.metadata), calibration: calibration)
        var observed = try ReadEnergyAccumulator(chip: chip, technology: technology, threads: threads)
        let range = 0..<min(max(1, images), inputs.dataset.count)
        _ = try chip.run(inputs.batch(range), firstImage: 0, threads: threads, observe: { observed.observe($0) })
        return EnergyModel.energyPerImage(chip: chip, observed: observed, technology: technology)
    }
}

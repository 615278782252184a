import XbarSimAnalog
import XbarSimCrossbar
import XbarSimEnergy
import XbarSimGraph
import XbarSimTensor

/// One mapping scheme of a ``MappingComparison``.
public struct MappingComparisonRow: Sendable, Hashable, Codable {
    public var mapping: MappingScheme
    /// Every op-amp (``OpAmpCounts/total``) and by role.
    public var opAmps: Int
    public var opAmpsByRole: OpAmpCounts
    /// Op-amps of the convolution, FC and pooling crossbars (TIAs, subtractors, output
    /// inverters, input inverters, drift gain stages; batch norm excluded).
    public var crossbarOpAmps: Int
    public var memristors: Int
    /// Physical rows of every crossbar, batch-norm stages included (``ChipResources/crossbarRows(chip:layout:)``).
    public var crossbarRows: Int
    public var tiles: Int
    public var energyPerImageJoules: Double
    public var energy: EnergyBreakdown
    public var latencySeconds: Double
    /// Top-1 of this scheme's chip on the images run.
    public var accuracy: Double

    public init(
        mapping: MappingScheme, opAmps: Int, opAmpsByRole: OpAmpCounts, crossbarOpAmps: Int, memristors: Int, crossbarRows: Int,
        tiles: Int, energyPerImageJoules: Double, energy: EnergyBreakdown, latencySeconds: Double, accuracy: Double
    ) {
        self.mapping = mapping
        self.opAmps = opAmps
        self.opAmpsByRole = opAmpsByRole
        self.crossbarOpAmps = crossbarOpAmps
        self.memristors = memristors
        self.crossbarRows = crossbarRows
        self.tiles = tiles
        self.energyPerImageJoules = energyPerImageJoules
        self.energy = energy
        self.latencySeconds = latencySeconds
        self.accuracy = accuracy
    }
}

/// Op-amps, devices, crossbar rows and energy per image of the same network and chip under
/// every mapping scheme (`xbarsim report --compare-mappings`), and the reference design's
/// claim that its scheme halves the op-amps of a two-TIA design, as measured.
public struct MappingComparison: Sendable, Hashable, Codable {
    public var model: String
    public var preset: String?
    public var layout: ConvolutionLayout
    public var schedule: Schedule
    public var images: Int
    public var rows: [MappingComparisonRow]
    /// A two-TIA design (one TIA per column of a `G⁺`/`G⁻` pair, the difference taken on the
    /// wire, no input inverters): twice the paper scheme's TIAs of the convolution, FC and
    /// pooling crossbars.
    public var twoTIACrossbarOpAmps: Int
    /// The paper scheme's convolution/FC/pooling TIAs and input inverters over the two-TIA
    /// design's op-amps (drift gain stages, which either design needs for global drift
    /// compensation, left out of both).
    public var paperOverTwoTIA: Double
    /// The same over the paper scheme's TIAs alone (what "halved" counts: 0.5 by construction).
    public var paperTIAsOverTwoTIA: Double
    /// "op-amps halved" as measured, one sentence.
    public var verdict: String
}

extension Evaluation {
    /// Builds chip 0 of `config` under every mapping scheme, runs `inputs` (the first
    /// `settings.limit` test images) through each with the read-energy accumulator, and
    /// tabulates resources and energy for `layout` and `schedule`.
    public static func compareMappings(
        _ inputs: EvaluationInputs, settings: EvaluationSettings, config: AnalogConfig, preset: Preset?, seed: UInt64,
        technology: Technology, layout: ConvolutionLayout, schedule: Schedule
    ) throws -> MappingComparison {
        try config.validate()
        try technology.validate()
        BLAS.setThreads(settings.threads)
        let threads = settings.threads
        let graph = inputs.model.graph
        let total = inputs.dataset.count
        let batches = stride(from: 0, to: total, by: settings.batchSize).map { $0..<min(total, $0 + settings.batchSize) }
        let calibration = try calibrate(inputs, images: config.calibrationImages, threads: threads)
        let inputMax = inputMaxAbs(inputs.model.metadata)
        let ops = graph.ops.count
        var rows: [MappingComparisonRow] = []
        for scheme in MappingScheme.allCases {
            var c = config
            c.mapping = scheme
            let chip = try AnalogChip(graph: graph, config: c, seed: seed, chip: 0, inputMaxAbs: inputMax, calibration: calibration)
            var observed = try ReadEnergyAccumulator(chip: chip, technology: technology, threads: threads)
            var correct = 0
            for range in batches {
                let logits = try chip.run(inputs.batch(range), firstImage: range.lowerBound, threads: threads,
                                          observe: { observed.observe($0) })
                correct += countCorrect(logits, labels: inputs.dataset.labels, first: range.lowerBound)
            }
            let s = EnergyModel.summary(
                chip: chip, layout: layout, schedule: schedule, technology: technology,
                readJoulesPerImage: observed.joulesPerImage(ops: ops), wireJoulesPerImage: observed.wireJoulesPerImage(ops: ops),
                driverJoulesPerImage: observed.driverJoulesPerImage(ops: ops), tiaJoulesPerImage: observed.tiaJoulesPerImage(ops: ops))
            rows.append(MappingComparisonRow(
                mapping: scheme, opAmps: s.opAmps, opAmpsByRole: s.opAmpsByRole, crossbarOpAmps: s.opAmpsByRole.crossbarOpAmps,
                memristors: s.memristors, crossbarRows: ChipResources.crossbarRows(chip: chip, layout: layout).reduce(0, +),
                tiles: s.tiles, energyPerImageJoules: s.energyPerImageJoules, energy: s.energy, latencySeconds: s.latencySeconds,
                accuracy: Double(correct) / Double(max(total, 1))))
        }
        return mappingComparison(rows: rows, model: inputs.model.path, preset: preset?.rawValue, layout: layout,
                                 schedule: schedule, images: total)
    }

    /// The comparison and its verdict from the per-scheme rows.
    public static func mappingComparison(
        rows: [MappingComparisonRow], model: String, preset: String?, layout: ConvolutionLayout, schedule: Schedule, images: Int
    ) -> MappingComparison {
        let paper = rows.first { $0.mapping == .paper }
        let paperTIAs = paper?.opAmpsByRole.tias ?? 0
        let paperInverters = paper?.opAmpsByRole.inputInverters ?? 0
        let paperCrossbar = paperTIAs + paperInverters
        let gains = paper?.opAmpsByRole.driftGainStages ?? 0
        let twoTIA = 2 * paperTIAs
        let ratio = twoTIA > 0 ? Double(paperCrossbar) / Double(twoTIA) : 0
        let verdict: String
        if twoTIA == 0 {
            verdict = "no convolution, FC or pooling crossbars: nothing to compare"
        } else if ratio <= 0.5 {
            verdict = "holds: the paper scheme's conv/FC/pooling op-amps (\(paperCrossbar), TIAs and input inverters) are "
                + "\(formatRatio(ratio)) of a two-TIA design's (\(twoTIA))"
        } else {
            verdict = "does not hold as measured: with its input inverters the paper scheme's conv/FC/pooling op-amps "
                + "(\(paperCrossbar) = \(paperTIAs) TIAs + \(paperInverters) inverters) are \(formatRatio(ratio)) of a "
                + "two-TIA design's (\(twoTIA)), not 0.5; counting TIAs alone gives 0.5"
                + (gains > 0 ? " (the \(gains) drift gain stages behind its TIAs, which a two-TIA design would need too, left out)" : "")
        }
        return MappingComparison(
            model: model, preset: preset, layout: layout, schedule: schedule, images: images, rows: rows,
            twoTIACrossbarOpAmps: twoTIA, paperOverTwoTIA: ratio, paperTIAsOverTwoTIA: twoTIA > 0 ? 0.5 : 0, verdict: verdict)
    }

    static func formatRatio(_ r: Double) -> String {
        let scaled = (r * 1000).rounded() / 1000
        return "\(scaled)"
    }
}

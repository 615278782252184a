import Foundation
import XbarSimAnalog
import XbarSimGraph
import XbarSimTensor

/// Sums of squares of one value of the network over the images of a diagnosis: the float
/// activations `f` and the chip's deviation `a − f`.
public struct ErrorSums: Sendable, Equatable, Codable {
    /// `Σ f²`.
    public var signal: Double = 0
    /// `Σ (a − f)²`.
    public var error: Double = 0
    /// Elements summed.
    public var count: Int = 0

    public init(signal: Double = 0, error: Double = 0, count: Int = 0) {
        self.signal = signal
        self.error = error
        self.count = count
    }

    /// Adds elements `chip[i]` against `float[i]` (equal counts).
    public mutating func add(chip: UnsafeBufferPointer<Float>, float: UnsafeBufferPointer<Float>) {
        var s = 0.0, e = 0.0
        for i in 0..<min(chip.count, float.count) {
            let f = Double(float[i])
            let d = Double(chip[i]) - f
            s += f * f
            e += d * d
        }
        signal += s
        error += e
        count += min(chip.count, float.count)
    }

    public static func + (a: ErrorSums, b: ErrorSums) -> ErrorSums {
        ErrorSums(signal: a.signal + b.signal, error: a.error + b.error, count: a.count + b.count)
    }

    /// `sqrt(Σ(a − f)² / Σ f²)`; nil when every float value is 0.
    public var relativeRMSError: Double? { signal > 0 ? (error / signal).squareRoot() : nil }

    /// `10·log10(Σ f² / Σ(a − f)²)` = `−20·log10(relativeRMSError)` dB; nil when the chip is
    /// exact (infinite SNR) or every float value is 0.
    public var snrDecibels: Double? { signal > 0 && error > 0 ? 10 * log10(signal / error) : nil }
}

/// One op's error against float in one configuration.
public struct OpError: Sendable, Equatable, Codable {
    public var index: Int
    public var name: String
    public var type: String
    /// Relative RMS error of the op's output over every element of every image (and chip).
    public var relativeRMSError: Double?
    /// Signal-to-noise ratio in dB, nil when exact.
    public var snrDB: Double?
    public var sums: ErrorSums
}

/// Accuracy and errors of one chip configuration on the diagnosis images.
public struct DiagnosisRun: Sendable, Equatable, Codable {
    /// `ideal`, a `Nonideality` name, `all`, or (sensitivity) the op or block name.
    public var label: String
    /// False for an attribution row whose non-ideality the chip does not have (its numbers
    /// are the ideal chip's, not measured again).
    public var active: Bool
    /// Ops whose stages carry the non-idealities (sensitivity rows; nil: every op).
    public var ops: [Int]?
    /// Mean top-1 accuracy over chips (0...1), and per chip.
    public var accuracy: Double
    public var chipAccuracies: [Double]
    /// Relative RMS error and SNR of the logits.
    public var logitsRelativeRMSError: Double?
    public var logitsSNRDB: Double?
    /// Every op's error (attribution rows; nil for sensitivity rows).
    public var opErrors: [OpError]?
}

/// What `Diagnosis.run` measures.
public struct DiagnosisOptions: Sendable, Equatable {
    /// The attribution rows (one per non-ideality that is active, ideal and all).
    public var attribution = true
    /// Sensitivity: the non-idealities confined to each op, or to each block, or not run.
    public var sensitivity = SensitivityGrouping.op
    public var batchSize = 32
    public var threads = 1

    public init() {}
}

/// How `xbarsim diagnose` groups ops for layer sensitivity (`--sensitivity`).
public enum SensitivityGrouping: String, Sendable, Equatable, CaseIterable, Codable {
    /// One op at a time (every op with devices or circuits; wiring and flatten skipped).
    case op
    /// One block at a time: ops whose names agree up to their first numeric component
    /// (`features.3.block.1.0` is in block `features.3`); ops with no numeric component
    /// (`add`, `mul_2`, `avgpool`: functional ops) are in the block of the op before them.
    case block
    /// No sensitivity runs.
    case off

    /// Groups of op indices with their labels, in order of first appearance.
    public func groups(_ chip: AnalogChip) -> [(label: String, ops: [Int])] {
        let candidates = chip.stages.indices.filter { i in
            switch chip.stages[i] {
            case .wiring, .flatten: false
            default: true
            }
        }
        switch self {
        case .off: return []
        case .op: return candidates.map { (chip.graph.ops[$0].name, [$0]) }
        case .block:
            var out: [(label: String, ops: [Int])] = []
            var position: [String: Int] = [:]
            var previous: String?
            for (i, op) in chip.graph.ops.enumerated() {
                let label = Self.block(of: op.name) ?? previous ?? op.name
                previous = label
                guard candidates.contains(i) else { continue }
                if let k = position[label] {
                    out[k].ops.append(i)
                } else {
                    position[label] = out.count
                    out.append((label, [i]))
                }
            }
            return out
        }
    }

    /// The block of an op name; nil when it has no numeric component.
    public static func block(of name: String) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard let k = parts.firstIndex(where: { !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return nil }
        return parts[...k].joined(separator: ".")
    }
}

/// The images a diagnosis runs, with what a chip needs to be built for them.
public struct DiagnosisImages: Sendable {
    public var graph: Graph
    public var labels: [Int]
    /// Largest |input| the network can see (`Evaluation.inputMaxAbs`).
    public var inputMaxAbs: Double
    public var calibration: Calibration
    /// Images `range` as a normalised `[C, H, W, N]` batch.
    public var batch: @Sendable (Range<Int>) -> Tensor

    public init(graph: Graph, labels: [Int], inputMaxAbs: Double, calibration: Calibration,
                batch: @escaping @Sendable (Range<Int>) -> Tensor) {
        self.graph = graph
        self.labels = labels
        self.inputMaxAbs = inputMaxAbs
        self.calibration = calibration
        self.batch = batch
    }

    public var count: Int { labels.count }
}

/// The result of `xbarsim diagnose`.
public struct DiagnosisReport: Sendable, Equatable, Codable {
    public var model: String
    public var data: String
    public var preset: String?
    public var images: Int
    public var chips: Int
    public var seed: UInt64
    public var floatAccuracy: Double
    /// The chip diagnosed (every non-ideality on).
    public var parameters: AnalogConfig
    /// Error propagation: every op's error with every non-ideality on (the `all` row).
    public var propagation: DiagnosisRun
    /// `ideal`, each non-ideality alone (inactive ones flagged), `all`.
    public var attribution: [DiagnosisRun]
    /// Grouping of the sensitivity rows (`op`, `block`, `off`).
    public var sensitivityGrouping: String
    /// Non-idealities confined to one op (or block), the rest ideal.
    public var sensitivity: [DiagnosisRun]
    public var seconds: Double
}

/// Progress of a diagnosis: chip-images done out of the total.
public struct DiagnosisProgress: Sendable {
    public var imagesDone: Int
    public var imagesTotal: Int
    public var secondsElapsed: Double
    public var stage: String
}

/// Where a chip's accuracy goes (`xbarsim diagnose`, `docs/diagnose.md`).
public enum Diagnosis {
    /// Per-op and logits errors and top-1 accuracy of chips on every image of `images`.
    struct Measurement {
        var ops: [ErrorSums]
        var logits: ErrorSums
        var chipAccuracies: [Double]
    }

    /// The float engine's logits for every image, `[classes, count]`.
    static func floatLogits(_ images: DiagnosisImages, batchSize: Int, threads: Int) throws -> Tensor {
        let n = images.count
        let classes = images.graph.outputFeatures
        var out = [Float](repeating: 0, count: classes * n)
        let executor = FloatExecutor(graph: images.graph, threads: threads, preparingWeights: true)
        for start in stride(from: 0, to: n, by: batchSize) {
            let range = start..<min(n, start + batchSize)
            let logits = try executor.run(images.batch(range))
            for c in 0..<classes {
                for j in 0..<range.count { out[c * n + start + j] = logits.scalars[c * range.count + j] }
            }
        }
        return Tensor(shape: [classes, n], scalars: out)
    }

    /// Runs every chip on every image, comparing with float: every op's activations when
    /// `perOp`, else the logits only (against `floatLogits`).
    static func measure(
        _ images: DiagnosisImages, chips: [AnalogChip], perOp: Bool, floatLogits: Tensor, batchSize: Int, threads: Int,
        done: ((Int) -> Void)? = nil
    ) throws -> Measurement {
        let graph = images.graph
        let n = images.count
        let batches = stride(from: 0, to: n, by: batchSize).map { $0..<min(n, $0 + batchSize) }
        struct Partial {
            var ops: [ErrorSums]
            var logits = ErrorSums()
            var correct = 0
        }
        let lock = NSLock()
        let classes = floatLogits.shape[0]
        var result = Measurement(ops: [ErrorSums](repeating: ErrorSums(), count: perOp ? graph.ops.count : 0),
                                 logits: ErrorSums(), chipAccuracies: [])
        var imagesDone = 0
        for chip in chips {
            let partials = UncheckedSendable(PartialBox<Partial>(count: batches.count))
            let float = UncheckedSendable(floatLogits)
            let indexOf = Dictionary(uniqueKeysWithValues: batches.enumerated().map { ($0.element.lowerBound, $0.offset) })
            _ = try BatchRunner.sum(batches, workers: threads, blasThreads: threads, { range, threads in
                var partial = Partial(ops: [ErrorSums](repeating: ErrorSums(), count: perOp ? graph.ops.count : 0))
                let input = images.batch(range)
                var floatValues: [Tensor] = []
                if perOp {
                    floatValues.reserveCapacity(graph.ops.count)
                    _ = try FloatExecutor(graph: graph, threads: threads).run(input, observe: { _, t in floatValues.append(t) })
                }
                var mismatch: (op: String, message: String)?
                let logits = try chip.run(input, firstImage: range.lowerBound, threads: threads, values: perOp ? { i, y in
                    let f = floatValues[i]
                    guard f.scalars.count == y.scalars.count else {
                        mismatch = (graph.ops[i].name, "chip output has \(y.scalars.count) values, float \(f.scalars.count)")
                        return
                    }
                    y.scalars.withUnsafeBufferPointer { a in
                        f.scalars.withUnsafeBufferPointer { b in partial.ops[i].add(chip: a, float: b) }
                    }
                } : nil)
                if let mismatch { throw ExecutionError(op: mismatch.op, message: mismatch.message) }
                // Logits: [classes, batch] against the float logits' columns of this batch.
                let m = range.count
                var chipColumn = [Float](repeating: 0, count: classes * m)
                var floatColumn = [Float](repeating: 0, count: classes * m)
                for c in 0..<classes {
                    for j in 0..<m {
                        chipColumn[c * m + j] = logits.scalars[c * m + j]
                        floatColumn[c * m + j] = float.value.scalars[c * n + range.lowerBound + j]
                    }
                }
                chipColumn.withUnsafeBufferPointer { a in floatColumn.withUnsafeBufferPointer { partial.logits.add(chip: a, float: $0) } }
                partial.correct = Evaluation.countCorrect(logits, labels: images.labels, first: range.lowerBound)
                let index = indexOf[range.lowerBound] ?? 0
                lock.lock()
                partials.value.items[index] = partial
                lock.unlock()
                return partial.correct
            }, done: { count in done?(imagesDone + count) })
            imagesDone += n
            // Sums in batch order, so results do not depend on threads or scheduling.
            var correct = 0
            for case let p? in partials.value.items {
                if perOp { for i in result.ops.indices { result.ops[i] = result.ops[i] + p.ops[i] } }
                result.logits = result.logits + p.logits
                correct += p.correct
            }
            result.chipAccuracies.append(Double(correct) / Double(max(n, 1)))
        }
        return result
    }

    final class PartialBox<T> {
        var items: [T?]
        init(count: Int) { items = [T?](repeating: nil, count: count) }
    }

    static func run(label: String, active: Bool, ops: [Int]?, measurement m: Measurement, graph: Graph) -> DiagnosisRun {
        let opErrors = m.ops.isEmpty ? nil : m.ops.enumerated().map { i, s in
            OpError(index: i, name: graph.ops[i].name, type: graph.ops[i].kind.typeName, relativeRMSError: s.relativeRMSError,
                    snrDB: s.snrDecibels, sums: s)
        }
        let accuracy = m.chipAccuracies.reduce(0, +) / Double(max(m.chipAccuracies.count, 1))
        return DiagnosisRun(label: label, active: active, ops: ops, accuracy: accuracy, chipAccuracies: m.chipAccuracies,
                            logitsRelativeRMSError: m.logits.relativeRMSError, logitsSNRDB: m.logits.snrDecibels,
                            opErrors: opErrors)
    }

    /// Diagnoses chips with parameters `config` (chip `k` programmed from `seed`, key `k`, as in
    /// `Evaluation.analog`) on `images`.
    ///
    /// - Returns: the float accuracy; error propagation (`all`); the attribution rows (`ideal`,
    ///   every `Nonideality` switched on alone over `config.withoutNonidealities`, `all`); and
    ///   the sensitivity rows (the ideal chip with the stages of the ops of one group taken
    ///   from the `all` chip, `AnalogChip.replacing(ops:with:)`).
    public static func run(
        _ images: DiagnosisImages, config: AnalogConfig, seed: UInt64, chips: Int, options: DiagnosisOptions = DiagnosisOptions(),
        progress: ((DiagnosisProgress) -> Void)? = nil
    ) throws -> (floatAccuracy: Double, propagation: DiagnosisRun, attribution: [DiagnosisRun], sensitivity: [DiagnosisRun]) {
        try config.validate()
        guard chips > 0 else { throw SettingsError(parameter: "--chips", message: "must be positive, got \(chips)") }
        guard images.count > 0 else { throw SettingsError(parameter: "--images", message: "must be positive, got 0") }
        guard options.batchSize > 0 else {
            throw SettingsError(parameter: "--batch", message: "must be positive, got \(options.batchSize)")
        }
        guard options.threads > 0 else {
            throw SettingsError(parameter: "--threads", message: "must be positive, got \(options.threads)")
        }
        let start = Date()
        let (batchSize, threads) = (options.batchSize, options.threads)
        let graph = images.graph
        BLAS.setThreads(threads)
        let floatLogits = try floatLogits(images, batchSize: batchSize, threads: threads)
        let floatCorrect = Evaluation.countCorrect(floatLogits, labels: images.labels, first: 0)
        let ideal = config.withoutNonidealities
        func build(_ c: AnalogConfig) throws -> [AnalogChip] {
            try (0..<chips).map { k in
                try AnalogChip(graph: graph, config: c, seed: seed, chip: k, inputMaxAbs: images.inputMaxAbs,
                               calibration: images.calibration, threads: threads)
            }
        }
        let idealChips = try build(ideal)
        let fullChips = try build(config)
        let groups = options.sensitivity.groups(idealChips[0])
        let active = Nonideality.allCases.filter { $0.isActive(in: config) }
        let runs = options.attribution ? 2 + active.count : 1
        let total = images.count * chips * (runs + groups.count)
        var done = 0
        func report(_ stage: String) -> (Int) -> Void {
            { progress?(DiagnosisProgress(imagesDone: done + $0, imagesTotal: total,
                                          secondsElapsed: Date().timeIntervalSince(start), stage: stage)) }
        }
        func measure(_ chips: [AnalogChip], perOp: Bool, stage: String) throws -> Measurement {
            let m = try Self.measure(images, chips: chips, perOp: perOp, floatLogits: floatLogits, batchSize: batchSize,
                                     threads: threads, done: report(stage))
            done += images.count * chips.count
            return m
        }

        let all = run(label: "all", active: true, ops: nil,
                      measurement: try measure(fullChips, perOp: true, stage: "all"), graph: graph)
        var attribution: [DiagnosisRun] = []
        if options.attribution {
            let idealRun = run(label: "ideal", active: true, ops: nil,
                               measurement: try measure(idealChips, perOp: true, stage: "ideal"), graph: graph)
            attribution.append(idealRun)
            for effect in Nonideality.allCases {
                guard active.contains(effect) else {
                    var row = idealRun
                    row.label = effect.rawValue
                    row.active = false
                    attribution.append(row)
                    continue
                }
                let m = try measure(try build(effect.switchOn(from: config, in: ideal)), perOp: true, stage: effect.rawValue)
                attribution.append(run(label: effect.rawValue, active: true, ops: nil, measurement: m, graph: graph))
            }
            attribution.append(all)
        }
        var sensitivity: [DiagnosisRun] = []
        for group in groups {
            let mixed = try zip(idealChips, fullChips).map { try $0.replacing(ops: Set(group.ops), with: $1) }
            let m = try measure(mixed, perOp: false, stage: group.label)
            sensitivity.append(run(label: group.label, active: true, ops: group.ops, measurement: m, graph: graph))
        }
        return (Double(floatCorrect) / Double(images.count), all, attribution, sensitivity)
    }
}

extension Evaluation {
    /// `Diagnosis.run` on the first test images of `inputs` (`settings.limit`), with the chip's
    /// DAC/ADC ranges calibrated on training images as in `analog`.
    public static func diagnose(
        _ inputs: EvaluationInputs, settings: EvaluationSettings, config: AnalogConfig, preset: Preset?, seed: UInt64,
        chips: Int, sensitivity: SensitivityGrouping = .op, progress: ((DiagnosisProgress) -> Void)? = nil
    ) throws -> DiagnosisReport {
        try config.validate()
        let start = Date()
        let calibration = try calibrate(inputs, images: config.calibrationImages, threads: settings.threads)
        let images = DiagnosisImages(
            graph: inputs.model.graph, labels: inputs.dataset.labels, inputMaxAbs: inputMaxAbs(inputs.model.metadata),
            calibration: calibration, batch: { [inputs] in inputs.batch($0) })
        var options = DiagnosisOptions()
        options.batchSize = settings.batchSize
        options.threads = settings.threads
        options.sensitivity = sensitivity
        let r = try Diagnosis.run(images, config: config, seed: seed, chips: chips, options: options, progress: progress)
        return DiagnosisReport(
            model: inputs.model.path, data: inputs.dataDirectory, preset: preset?.rawValue, images: images.count, chips: chips,
            seed: seed, floatAccuracy: r.floatAccuracy, parameters: config, propagation: r.propagation,
            attribution: r.attribution, sensitivityGrouping: sensitivity.rawValue, sensitivity: r.sensitivity,
            seconds: Date().timeIntervalSince(start))
    }
}

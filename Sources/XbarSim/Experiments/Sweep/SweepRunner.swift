import Foundation
import XbarSimAnalog
import XbarSimDevice

/// Energy per image of a chip configuration, for the `energyPerImageJoules` column of a sweep.
/// The energy model connects here; nil (the default) leaves the column empty.
public typealias SweepEnergyModel = @Sendable (
    _ config: AnalogConfig, _ report: AnalogEvaluationReport, _ calibration: Calibration
) throws -> Double?

/// Progress of a sweep, after each batch of each chip of each point.
public struct SweepProgress: Sendable {
    /// Points of this run (this shard, less those already finished) done and in all.
    public var pointsDone: Int
    public var pointsTotal: Int
    /// Analog images evaluated in this run and the number the run needs.
    public var imagesDone: Int
    public var imagesTotal: Int
    public var secondsElapsed: Double
    /// The point being evaluated (nil between points).
    public var current: SweepPoint?
}

/// What a run did.
public struct SweepRunSummary: Sendable {
    /// Points of the whole sweep, of this shard, skipped because they were already in the
    /// folder, and evaluated now.
    public var pointsInSweep: Int
    public var pointsInShard: Int
    public var skipped: Int
    public var evaluated: Int
    public var floatAccuracy: Double
    /// Every finished record of this folder, in sweep order.
    public var records: [SweepRecord]
}

public enum Sweep {
    /// Runs the points of `plan` that belong to `shard` and are not yet in `directory`,
    /// appending each to `points.jsonl` as soon as it finishes, then writes the outputs
    /// (`SweepOutputs.write`). The float reference and the calibration are measured once.
    ///
    /// - Parameters:
    ///   - inputs: must hold exactly `plan.images` test images.
    ///   - log: one line per finished point (for logs when there is no terminal).
    public static func run(
        plan: SweepPlan, inputs: EvaluationInputs, settings: EvaluationSettings, directory: String,
        shard: Shard? = nil, energy: SweepEnergyModel? = nil, writeOutputs: Bool = true,
        progress: ((SweepProgress) -> Void)? = nil, log: ((String) -> Void)? = nil
    ) throws -> SweepRunSummary {
        try plan.validate()
        guard inputs.dataset.count == plan.images else {
            throw SettingsError(parameter: "--images", message: "the plan asks for \(plan.images) images, the data set has \(inputs.dataset.count)")
        }
        let points = try plan.points()
        let lock = try SweepLock(directory: directory)
        defer { lock.release() }
        let store = SweepStore(directory: directory)
        try store.open(SweepManifest(plan: plan, shard: shard, points: points.count))
        let finished = try store.load()
        let done = Set(finished.map(\.key))
        let mine = points.filter { shard?.contains(pointIndex: $0.index) ?? true }
        let todo = mine.filter { !done.contains($0.key) }
        if !finished.isEmpty {
            log?("resuming: \(mine.count - todo.count) of \(mine.count) points already in \(store.pointsPath)")
        }

        let start = Date()
        let reference = try Evaluation.floatReference(inputs, settings: settings)
        var calibrations: [Int: Calibration] = [:]
        let imagesPerPoint = plan.images * plan.chips
        let imagesTotal = imagesPerPoint * todo.count
        var records = finished
        for (n, point) in todo.enumerated() {
            let calibration: Calibration
            if let c = calibrations[point.config.calibrationImages] {
                calibration = c
            } else {
                calibration = try Evaluation.calibrate(inputs, images: point.config.calibrationImages, threads: settings.threads)
                calibrations[point.config.calibrationImages] = calibration
            }
            let report = try Evaluation.analog(
                inputs, settings: settings, config: point.config, preset: nil, seed: plan.seed, chips: plan.chips,
                floatReference: reference, calibration: calibration
            ) { p in
                progress?(SweepProgress(
                    pointsDone: n, pointsTotal: todo.count,
                    imagesDone: n * imagesPerPoint + p.chip * p.imagesTotal + p.imagesDone, imagesTotal: imagesTotal,
                    secondsElapsed: Date().timeIntervalSince(start), current: point))
            }
            let record = SweepRecord(
                index: point.index, key: point.key,
                parameters: Dictionary(uniqueKeysWithValues: ChipParameter.all.map { ($0.name, $0.read(point.config)) }),
                varied: point.varied, images: report.images, chips: report.chips, seed: report.seed,
                accuracy: report.accuracy, accuracyStd: report.accuracyStd, accuracyCI95: report.accuracyCI95,
                chipAccuracies: report.chipAccuracies, floatAccuracy: report.floatAccuracy, degradation: report.degradation,
                energyPerImageJoules: try energy?(point.config, report, calibration), seconds: report.seconds,
                imagesPerSecond: report.imagesPerSecond)
            try check(record)
            try store.append(record)
            records.append(record)
            let elapsed = Date().timeIntervalSince(start)
            progress?(SweepProgress(
                pointsDone: n + 1, pointsTotal: todo.count, imagesDone: (n + 1) * imagesPerPoint,
                imagesTotal: imagesTotal, secondsElapsed: elapsed, current: nil))
            let label = plan.axes.map { "\($0.parameter)=\(point.varied[$0.parameter] ?? "")" }.joined(separator: " ")
            let eta = Double(todo.count - n - 1) * elapsed / Double(n + 1)
            log?(String(format: "point %d/%d  %@  accuracy %.2f%% ± %.2f  (%.0f images/s, ETA %.0f s)",
                        n + 1, todo.count, label, record.accuracy * 100, record.accuracyStd * 100,
                        report.imagesPerSecond, eta))
        }
        records.sort { $0.index < $1.index }
        if writeOutputs { try SweepOutputs.write(plan: plan, records: records, directory: directory) }
        return SweepRunSummary(
            pointsInSweep: points.count, pointsInShard: mine.count, skipped: mine.count - todo.count,
            evaluated: todo.count, floatAccuracy: reference.accuracy, records: records)
    }

    /// Rejects NaN or infinite results before they reach the file.
    static func check(_ r: SweepRecord) throws {
        let values = [r.accuracy, r.accuracyStd, r.floatAccuracy, r.degradation] + r.accuracyCI95 + r.chipAccuracies
            + (r.energyPerImageJoules.map { [$0] } ?? [])
        guard values.allSatisfy(\.isFinite) else {
            throw SettingsError(parameter: "sweep", message: "point \(r.index) (\(r.varied)) gave a NaN or infinite result")
        }
    }
}

/// Combining the folders of a sharded sweep.
public enum SweepMerge {
    /// Reads the shard folders, checks they hold the same plan, and writes the union of their
    /// points (sorted, each once) and the outputs into `output`. Returns the merged records.
    /// Refuses folders with different plans (naming the folder and the first difference) and
    /// the same point with different numbers.
    public static func merge(_ directories: [String], into output: String) throws -> (records: [SweepRecord], missing: Int) {
        guard let first = directories.first else {
            throw SettingsError(parameter: "merge", message: "give at least one sweep folder")
        }
        var plan: SweepPlan?
        var total = 0
        var byKey: [String: (SweepRecord, String)] = [:]
        for dir in directories {
            let store = SweepStore(directory: dir)
            guard let manifest = try store.manifest() else {
                throw SweepStoreError(file: store.manifestPath, message: "missing: not a sweep folder")
            }
            if let plan, plan != manifest.plan {
                throw SweepStoreError(
                    file: store.manifestPath,
                    message: "a different sweep than \(first) (\(difference(plan, manifest.plan))); refusing to merge")
            }
            plan = manifest.plan
            total = manifest.points
            for r in try store.load() {
                if let (other, where_) = byKey[r.key] {
                    guard other.withoutTimings == r.withoutTimings else {
                        throw SweepStoreError(
                            file: store.pointsPath,
                            message: "point \(r.index) (key \(r.key)) differs from the one in \(where_); refusing to merge")
                    }
                    continue
                }
                byKey[r.key] = (r, dir)
            }
        }
        guard let plan else { throw SettingsError(parameter: "merge", message: "no sweep folders") }
        let records = byKey.values.map(\.0).sorted { $0.index < $1.index }
        let store = SweepStore(directory: output)
        let lock = try SweepLock(directory: output)
        defer { lock.release() }
        if FileManager.default.fileExists(atPath: store.manifestPath), try store.manifest()?.plan != plan {
            throw SweepStoreError(file: store.manifestPath, message: "holds a different sweep; choose another --out")
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(SweepManifest(plan: plan, shard: nil, points: total))
            .write(to: URL(fileURLWithPath: store.manifestPath), options: .atomic)
        try store.replacePoints(records)
        try SweepOutputs.write(plan: plan, records: records, directory: output)
        return (records, total - records.count)
    }

    /// The first field in which two plans differ, in words.
    public static func difference(_ a: SweepPlan, _ b: SweepPlan) -> String {
        if a.axes != b.axes {
            return "varied \(a.axes.map { "\($0.parameter)=\($0.values.joined(separator: ","))" }) vs "
                + "\(b.axes.map { "\($0.parameter)=\($0.values.joined(separator: ","))" })"
        }
        if a.design != b.design { return "design \(a.design.rawValue) vs \(b.design.rawValue)" }
        if a.chips != b.chips { return "chips \(a.chips) vs \(b.chips)" }
        if a.seed != b.seed { return "seed \(a.seed) vs \(b.seed)" }
        if a.images != b.images { return "images \(a.images) vs \(b.images)" }
        if a.model != b.model || a.modelBytes != b.modelBytes { return "model \(a.model) vs \(b.model)" }
        for p in ChipParameter.all where p.read(a.base) != p.read(b.base) {
            return "base \(p.name) \(p.read(a.base)) vs \(p.read(b.base))"
        }
        return a.base != b.base ? "base chip parameters" : "base preset \(a.basePreset ?? "-") vs \(b.basePreset ?? "-")"
    }
}

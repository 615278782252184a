import Foundation
import XbarSimDevice

/// The result of one finished sweep point: one line of `points.jsonl`.
public struct SweepRecord: Sendable, Equatable, Codable {
    public var index: Int
    public var key: String
    /// Every chip parameter at this point (`ChipParameter.all`, flag syntax).
    public var parameters: [String: String]
    /// The varied parameters only.
    public var varied: [String: String]
    public var images: Int
    public var chips: Int
    public var seed: UInt64
    /// Mean top-1 accuracy over chips, 0...1.
    public var accuracy: Double
    public var accuracyStd: Double
    public var accuracyCI95: [Double]
    public var chipAccuracies: [Double]
    public var floatAccuracy: Double
    /// `floatAccuracy - accuracy` (0.01 is one percentage point).
    public var degradation: Double
    /// From the energy model hook (`SweepEnergyModel`); nil when none is connected.
    public var energyPerImageJoules: Double?
    /// Wall time and analog images per second for this point (not part of the key; differs run to run).
    public var seconds: Double
    public var imagesPerSecond: Double

    public init(
        index: Int, key: String, parameters: [String: String], varied: [String: String], images: Int, chips: Int,
        seed: UInt64, accuracy: Double, accuracyStd: Double, accuracyCI95: [Double], chipAccuracies: [Double],
        floatAccuracy: Double, degradation: Double, energyPerImageJoules: Double?, seconds: Double, imagesPerSecond: Double
    ) {
        self.index = index
        self.key = key
        self.parameters = parameters
        self.varied = varied
        self.images = images
        self.chips = chips
        self.seed = seed
        self.accuracy = accuracy
        self.accuracyStd = accuracyStd
        self.accuracyCI95 = accuracyCI95
        self.chipAccuracies = chipAccuracies
        self.floatAccuracy = floatAccuracy
        self.degradation = degradation
        self.energyPerImageJoules = energyPerImageJoules
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }

    /// The record without its timings, for comparing runs (equal seeds give equal numbers, not equal times).
    public var withoutTimings: SweepRecord {
        var r = self
        r.seconds = 0
        r.imagesPerSecond = 0
        return r
    }
}

/// A sweep folder's description: the plan and which shard of it this folder holds.
public struct SweepManifest: Sendable, Equatable, Codable {
    public var format = "xbarsim-sweep-1"
    public var plan: SweepPlan
    public var shard: Shard?
    /// Points in the whole sweep (all shards).
    public var points: Int

    public init(plan: SweepPlan, shard: Shard?, points: Int) {
        self.plan = plan
        self.shard = shard
        self.points = points
    }
}

/// Error about a sweep folder or its files, naming the file.
public struct SweepStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
}

/// The append-only results of a sweep folder: `sweep.json` (the manifest) and `points.jsonl`
/// (one JSON line per finished point).
///
/// Each record is appended with one `write(2)` of the whole line followed by `fsync(2)`, so a
/// process killed at any moment (even with SIGKILL) leaves every earlier line intact and at
/// most a truncated last line. `load()` drops such a line (one without its newline) and cuts it
/// from the file, so the next append starts on a fresh line; any other unreadable line is an error.
public struct SweepStore: Sendable {
    public var directory: String
    public var manifestPath: String { directory + "/sweep.json" }
    public var pointsPath: String { directory + "/points.jsonl" }

    public init(directory: String) {
        self.directory = directory
    }

    /// The manifest, or nil when the folder has none yet.
    public func manifest() throws -> SweepManifest? {
        guard FileManager.default.fileExists(atPath: manifestPath) else { return nil }
        do {
            return try JSONDecoder().decode(SweepManifest.self, from: Data(contentsOf: URL(fileURLWithPath: manifestPath)))
        } catch {
            throw SweepStoreError(file: manifestPath, message: "not a sweep manifest (\(error))")
        }
    }

    /// Creates the folder and manifest, or checks that an existing manifest describes the same
    /// sweep and shard (so rerunning the same command resumes, and a different one is refused).
    public func open(_ manifest: SweepManifest) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let existing = try self.manifest() {
            guard existing.plan == manifest.plan else {
                throw SweepStoreError(
                    file: manifestPath,
                    message: "holds a different sweep (\(SweepMerge.difference(existing.plan, manifest.plan))); "
                        + "rerun the command that made it to resume, or choose another --out")
            }
            guard existing.shard == manifest.shard else {
                throw SweepStoreError(
                    file: manifestPath,
                    message: "holds shard \(existing.shard?.description ?? "none"), not \(manifest.shard?.description ?? "none")")
            }
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: manifestPath), options: .atomic)
    }

    /// The finished points, in file order, each key once (the first line wins, should two runs
    /// have shared the folder). Drops (and truncates away) a partial last line.
    public func load() throws -> [SweepRecord] {
        guard FileManager.default.fileExists(atPath: pointsPath) else { return [] }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: pointsPath)) } catch {
            throw SweepStoreError(file: pointsPath, message: "cannot read (\(error))")
        }
        let bytes = [UInt8](data)
        let complete = (bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
        if complete < bytes.count { try truncate(to: complete) }
        var records: [SweepRecord] = []
        let decoder = JSONDecoder()
        var lineNumber = 0
        var seen: Set<String> = []
        for line in bytes[0..<complete].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            lineNumber += 1
            if line.isEmpty { continue }
            do {
                let record = try decoder.decode(SweepRecord.self, from: Data(line))
                if seen.insert(record.key).inserted { records.append(record) }
            } catch {
                throw SweepStoreError(file: pointsPath, message: "line \(lineNumber) is not a sweep record (\(error))")
            }
        }
        return records
    }

    /// Appends one record as one line: a single `write` of the whole line, then `fsync`.
    public func append(_ record: SweepRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var line = [UInt8](try encoder.encode(record))
        line.append(UInt8(ascii: "\n"))
        let fd = Foundation.open(pointsPath, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { throw SweepStoreError(file: pointsPath, message: "cannot open for appending (errno \(errno))") }
        defer { close(fd) }
        var written = 0
        while written < line.count {
            let n = line[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SweepStoreError(file: pointsPath, message: "write failed (errno \(errno))")
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw SweepStoreError(file: pointsPath, message: "fsync failed (errno \(errno))") }
    }

    /// Rewrites `points.jsonl` with `records` (for merge), atomically.
    public func replacePoints(_ records: [SweepRecord]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        for r in records {
            data.append(try encoder.encode(r))
            data.append(UInt8(ascii: "\n"))
        }
        try data.write(to: URL(fileURLWithPath: pointsPath), options: .atomic)
    }

    func truncate(to length: Int) throws {
        let fd = Foundation.open(pointsPath, O_WRONLY)
        guard fd >= 0 else { throw SweepStoreError(file: pointsPath, message: "cannot open to drop a partial line (errno \(errno))") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0, fsync(fd) == 0 else {
            throw SweepStoreError(file: pointsPath, message: "cannot drop a partial last line (errno \(errno))")
        }
    }
}

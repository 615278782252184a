import Foundation
import XbarSimAnalog
import XbarSimDevice
import XbarSimSupport

/// One varied parameter and its values, as the command line wrote them (`--vary NAME=VALUES`).
public struct SweepAxis: Sendable, Hashable, Codable {
    /// A `ChipParameter` name, e.g. `"variation"`.
    public var parameter: String
    /// Values in flag syntax, in sweep order (ranges already expanded).
    public var values: [String]

    public init(parameter: String, values: [String]) {
        self.parameter = parameter
        self.values = values
    }

    /// Parses `NAME=VALUES`: a list `4,8,16` or an inclusive range `start:stop:step`
    /// (`0:0.2:0.02` is 11 values). Every value is checked by applying it to `base` and
    /// validating, so the error names the parameter and the value.
    ///
    /// Errors (all `DeviceParameterError` with parameter `--vary`): no `=`, an unknown name,
    /// an empty list or list item, a range on a non-numeric parameter, a step of zero, an empty
    /// range (step pointing away from stop), more than `maximumValues` values, a fractional
    /// value for an integer parameter, a repeated value, and any value out of range.
    public static func parse(_ text: String, base: AnalogConfig, maximumValues: Int = 10_000) throws -> SweepAxis {
        func fail(_ message: String) -> DeviceParameterError { DeviceParameterError(parameter: "--vary", message: message) }
        guard let eq = text.firstIndex(of: "=") else {
            throw fail("expected NAME=VALUES (e.g. variation=0:0.2:0.02 or levels=4,8,16), got '\(text)'")
        }
        let name = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let spec = String(text[text.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        guard let parameter = ChipParameter.named(name) else {
            throw fail("unknown parameter '\(name)' in '\(text)' (known: \(ChipParameter.names.joined(separator: ", ")))")
        }
        guard !spec.isEmpty else { throw fail("no values for '\(name)' in '\(text)'") }

        var values: [String]
        let isRange = spec.contains(":") && !spec.contains(",")
        if isRange {
            guard parameter.isNumeric else {
                throw fail("'\(name)' takes a list of values, not a range ('\(spec)')")
            }
            let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard parts.count == 3 else { throw fail("range '\(spec)' for '\(name)': expected start:stop:step") }
            var numbers: [Double] = []
            for (part, label) in zip(parts, ["start", "stop", "step"]) {
                guard let v = Double(part), v.isFinite else {
                    throw fail("range '\(spec)' for '\(name)': \(label) '\(part)' is not a number")
                }
                numbers.append(v)
            }
            let (start, stop, step) = (numbers[0], numbers[1], numbers[2])
            guard step != 0 else { throw fail("range '\(spec)' for '\(name)': step of zero") }
            let steps = (stop - start) / step
            guard steps >= -1e-9 else {
                throw fail("range '\(spec)' for '\(name)' is empty (step \(parts[2]) moves away from stop \(parts[1]))")
            }
            // Checked as a Double first: a tiny step gives more values than an Int holds.
            guard steps.isFinite, steps + 1e-9 < Double(maximumValues) else {
                let shown = !steps.isFinite ? "too many" : steps < 1e15 ? "\(Int((steps + 1e-9).rounded(.down)) + 1)"
                    : String(format: "%.3g", steps + 1)
                throw fail("range '\(spec)' for '\(name)' has \(shown) values (at most \(maximumValues))")
            }
            let count = Int((steps + 1e-9).rounded(.down)) + 1
            values = (0..<count).map { i in formatNumber(Double(String(format: "%.12g", start + Double(i) * step)) ?? 0) }
        } else {
            let items = spec.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if let empty = items.firstIndex(where: \.isEmpty) {
                throw fail("empty value at position \(empty + 1) of '\(spec)' for '\(name)'")
            }
            guard items.count <= maximumValues else {
                throw fail("'\(name)' has \(items.count) values (at most \(maximumValues))")
            }
            values = items
        }
        if parameter.kind == .integer {
            for v in values where Int(v) == nil {
                throw fail("'\(name)' takes whole numbers, got '\(v)' in '\(spec)'")
            }
        }
        var seen: Set<String> = []
        for v in values {
            var config = base
            do {
                try parameter.apply(v, &config)
                try config.validate()
            } catch {
                throw fail("\(name)=\(v) is rejected: \(error)")
            }
            let canonical = parameter.read(config)
            guard seen.insert(canonical).inserted else { throw fail("'\(name)' lists the value \(v) twice") }
        }
        return SweepAxis(parameter: name, values: values)
    }
}

/// How axes combine into points.
public enum SweepDesign: String, Sendable, Hashable, Codable, CaseIterable {
    /// Every combination of every axis's values (row-major: the last axis varies fastest).
    case grid
    /// Each axis varied alone around the base; points shared by several axes (the base
    /// itself, when an axis lists the base value) are run once.
    case oneAtATime = "one-at-a-time"
}

/// Splits a sweep among `count` jobs: job `index` (0-based) runs points `index`, `index + count`, ...
public struct Shard: Sendable, Hashable, Codable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw DeviceParameterError(parameter: "--shard", message: "N must be at least 1, got \(count)") }
        guard (0..<count).contains(index) else {
            throw DeviceParameterError(parameter: "--shard", message: "I must be in 0...\(count - 1) for N = \(count), got \(index)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`, e.g. `3/8` (I counts from 0, as Slurm's `$SLURM_ARRAY_TASK_ID` with `--array=0-7`).
    public init(argument: String) throws {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces))
        else {
            throw DeviceParameterError(parameter: "--shard", message: "expected I/N (e.g. 0/4), got '\(argument)'")
        }
        try self.init(index: i, count: n)
    }

    public func contains(pointIndex: Int) -> Bool { pointIndex % count == index }

    public var description: String { "\(index)/\(count)" }
}

/// Everything that defines a sweep's numbers: the base chip, the axes, the design, the Monte
/// Carlo settings and the evaluation images. Two runs with equal plans produce equal points.
public struct SweepPlan: Sendable, Hashable, Codable {
    /// The chip every point starts from (preset plus fixed flags).
    public var base: AnalogConfig
    /// The preset the base came from, for the record.
    public var basePreset: String?
    public var axes: [SweepAxis]
    public var design: SweepDesign
    /// Monte Carlo chips per point; chip `k` of every point uses `(seed, k)` (common random numbers).
    public var chips: Int
    public var seed: UInt64
    /// Test images per chip (the first `images` of the test set).
    public var images: Int
    /// Model file path, and its size in bytes (part of every point's key).
    public var model: String
    public var modelBytes: Int

    public init(
        base: AnalogConfig, basePreset: String?, axes: [SweepAxis], design: SweepDesign, chips: Int, seed: UInt64,
        images: Int, model: String, modelBytes: Int
    ) throws {
        self.base = base
        self.basePreset = basePreset
        self.axes = axes
        self.design = design
        self.chips = chips
        self.seed = seed
        self.images = images
        self.model = model
        self.modelBytes = modelBytes
        try validate()
    }

    public func validate() throws {
        func fail(_ p: String, _ m: String) -> DeviceParameterError { DeviceParameterError(parameter: p, message: m) }
        guard !axes.isEmpty else { throw fail("--vary", "give at least one --vary NAME=VALUES (or a --preset-sweep)") }
        var names: Set<String> = []
        for axis in axes {
            guard ChipParameter.named(axis.parameter) != nil else {
                throw fail("--vary", "unknown parameter '\(axis.parameter)'")
            }
            guard names.insert(axis.parameter).inserted else { throw fail("--vary", "'\(axis.parameter)' is varied twice") }
            guard !axis.values.isEmpty else { throw fail("--vary", "'\(axis.parameter)' has no values") }
        }
        guard chips > 0 else { throw fail("--chips", "must be positive, got \(chips)") }
        guard images > 0 else { throw fail("--images", "must be positive, got \(images)") }
        try base.validate()
        let count = design == .grid ? axes.reduce(1) { $0 * $1.values.count } : axes.reduce(0) { $0 + $1.values.count }
        guard count <= 1_000_000 else { throw fail("--vary", "the sweep has \(count) points (at most 1,000,000)") }
    }

    /// The points, in sweep order, each with its full configuration and key. Throws when a
    /// combination of values is invalid together (e.g. `g-min` above `g-max`), naming both.
    public func points() throws -> [SweepPoint] {
        var assignments: [[(String, String)]] = []
        switch design {
        case .grid:
            assignments = [[]]
            for axis in axes {
                assignments = assignments.flatMap { prefix in axis.values.map { prefix + [(axis.parameter, $0)] } }
            }
        case .oneAtATime:
            for axis in axes { assignments += axis.values.map { [(axis.parameter, $0)] } }
        }
        var points: [SweepPoint] = []
        var seen: Set<String> = []
        for assignment in assignments {
            var config = base
            for (name, value) in assignment {
                guard let p = ChipParameter.named(name) else { throw DeviceParameterError(parameter: "--vary", message: "unknown parameter '\(name)'") }
                try p.apply(value, &config)
            }
            do { try config.validate() } catch {
                let where_ = assignment.map { "\($0.0)=\($0.1)" }.joined(separator: ", ")
                throw DeviceParameterError(parameter: "--vary", message: "the point \(where_) is invalid: \(error)")
            }
            let key = try pointKey(config)
            guard seen.insert(key).inserted else { continue }
            var varied: [String: String] = [:]
            for axis in axes {
                varied[axis.parameter] = ChipParameter.named(axis.parameter).map { $0.read(config) } ?? ""
            }
            points.append(SweepPoint(index: points.count, key: key, config: config, varied: varied))
        }
        return points
    }

    /// SHA-256 of the canonical JSON of everything that determines a point's numbers.
    public func pointKey(_ config: AnalogConfig) throws -> String {
        struct Identity: Encodable {
            var config: AnalogConfig
            var chips: Int
            var seed: UInt64
            var images: Int
            var model: String
            var modelBytes: Int
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(
            Identity(config: config, chips: chips, seed: seed, images: images, model: model, modelBytes: modelBytes))
        return String(Checksum.sha256Hex(data).prefix(32))
    }
}

/// One point of a sweep.
public struct SweepPoint: Sendable, Hashable {
    /// Position in the sweep's order (shards take every N-th).
    public var index: Int
    public var key: String
    public var config: AnalogConfig
    /// The varied parameters' values at this point (flag syntax, canonical).
    public var varied: [String: String]
}

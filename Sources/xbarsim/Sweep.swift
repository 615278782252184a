import ArgumentParser
import Foundation
import XbarSim

extension SweepPreset: ExpressibleByArgument {}

extension XbarSimCommand {
    struct SweepCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sweep",
            abstract: "Accuracy of simulated chips across a grid of non-ideality parameters (resumable, shardable).",
            subcommands: [Run.self, Merge.self],
            defaultSubcommand: Run.self)
    }
}

extension XbarSimCommand.SweepCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a sweep (the default: `xbarsim sweep --vary ...` is `xbarsim sweep run --vary ...`).",
            discussion: """
                Each --vary NAME=VALUES names an eval flag without its dashes and a list (levels=4,8,16) or an \
                inclusive range start:stop:step (variation=0:0.2:0.02). Parameters: \
                \(ChipParameter.names.joined(separator: ", ")). Every eval flag sets the fixed base.

                Each finished point is appended to OUT/points.jsonl at once, keyed by a hash of its whole \
                configuration: rerunning the same command skips finished points, and a killed run loses at most \
                the point in progress. --shard I/N runs points I, I+N, I+2N, ... (I from 0); combine the shard \
                folders with `xbarsim sweep merge`. Outputs: results.csv, results.json, results.md, and SVG plots.
                """)

        @Option(name: .customLong("vary"), help: ArgumentHelp("A parameter and its values (repeatable).", valueName: "name=values"))
        var vary: [String] = []

        @Flag(help: "Vary each parameter alone around the base instead of over the full grid.")
        var oneAtATime = false

        @Option(help: ArgumentHelp("A standard figure (its --vary and the few flags it needs).", valueName: "name"))
        var presetSweep: SweepPreset?

        @Option(help: ArgumentHelp("Folder for points.jsonl and the results (created; reused to resume).", valueName: "dir"))
        var out: String

        @Option(help: ArgumentHelp("Run only every N-th point, starting at I (0-based).", valueName: "I/N"))
        var shard: String?

        @Option(parsing: .unconditional, help: ArgumentHelp("Monte Carlo chips per point.", valueName: "k"))
        var chips: Int = 1

        @Option(parsing: .unconditional, help: ArgumentHelp("Seed of every random draw (the same for every point).", valueName: "n"))
        var seed: UInt64 = 0

        @Option(parsing: .unconditional, help: ArgumentHelp("Evaluate the first N test images (default: all).", valueName: "n"))
        var images: Int?

        @Option(parsing: .unconditional, help: ArgumentHelp("Images per batch.", valueName: "n"))
        var batch: Int = EvaluationSettings().batchSize

        @Flag(help: "No progress bar or log lines; print only the result table.")
        var quiet = false

        @OptionGroup var common: ModelOptions

        @OptionGroup(title: "Base chip (every eval flag)") var chip: ChipOptions

        var settings: EvaluationSettings { common.settings(limit: images, batch: batch) }

        /// The base chip and the axes, checked (no data read).
        func design() throws -> (base: AnalogConfig, axes: [SweepAxis], design: SweepDesign, shard: Shard?) {
            do {
                var base = try chip.config()
                var specs = vary
                var design: SweepDesign = oneAtATime ? .oneAtATime : .grid
                if let presetSweep {
                    base = try presetSweep.apply(to: base)
                    let mine = Set(vary.compactMap { $0.split(separator: "=").first.map(String.init) })
                    specs = presetSweep.vary.filter { !mine.contains(String($0.split(separator: "=")[0])) } + vary
                    if !oneAtATime { design = presetSweep.design }
                }
                guard !specs.isEmpty else {
                    throw ValidationError("give at least one --vary NAME=VALUES or a --preset-sweep")
                }
                let axes = try specs.map { try SweepAxis.parse($0, base: base) }
                let names = axes.map(\.parameter)
                if let twice = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
                    throw ValidationError("--vary: '\(twice)' is varied twice")
                }
                let shard = try self.shard.map { try Shard(argument: $0) }
                return (base, axes, design, shard)
            } catch let error as DeviceParameterError {
                throw ValidationError(error.description)
            }
        }

        func validate() throws {
            if let images, images <= 0 { throw ValidationError("--images: must be positive, got \(images)") }
            do { try settings.validate() } catch let error as SettingsError { throw ValidationError(error.description) }
            guard chips > 0 else { throw ValidationError("--chips: must be positive, got \(chips)") }
            try usage { try CommandLimits.check(chips, CommandLimits.chips, flag: "--chips") }
            if let images { try usage { try CommandLimits.check(images, CommandLimits.images, flag: "--images") } }
            _ = try design()
        }

        func run() throws {
            let (base, axes, design, shard) = try design()
            let inputs = try EvaluationInputs(settings: settings)
            let modelBytes = (try? FileManager.default.attributesOfItem(atPath: common.model)[.size] as? Int) ?? 0
            let plan: SweepPlan
            do {
                plan = try SweepPlan(
                    base: base, basePreset: chip.preset.rawValue, axes: axes, design: design, chips: chips, seed: seed,
                    images: inputs.dataset.count, model: common.model, modelBytes: modelBytes)
                _ = try plan.points()
            } catch let error as DeviceParameterError {
                throw ValidationError(error.description)
            }
            let bar = SweepProgressBar(enabled: !quiet)
            // Energy per image of each point: chip 0's read energy observed on 64 images.
            let energy: SweepEnergyModel = { [inputs, settings, seed] config, _, calibration in
                try Evaluation.energyPerImage(inputs, config: config, seed: seed, images: 64, threads: settings.threads,
                                              calibration: calibration)
            }
            let summary = try Sweep.run(
                plan: plan, inputs: inputs, settings: settings, directory: out, shard: shard, energy: energy,
                progress: { bar.update($0) }, log: quiet ? nil : { bar.log($0) })
            bar.finish()
            let records = summary.records
            print(SweepOutputs.markdown(plan: plan, records: records))
            print("points: \(summary.pointsInSweep) in the sweep, \(summary.pointsInShard) in this "
                  + (shard.map { "shard (\($0))" } ?? "run") + ", \(summary.skipped) already done, \(summary.evaluated) evaluated now")
            print("results: \(out)/results.csv, results.json, results.md, *.svg (points: \(out)/points.jsonl)")
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Combine the folders of a sharded sweep (refuses folders of different sweeps).")

        @Argument(help: ArgumentHelp("Sweep folders (one per shard).", valueName: "dir"))
        var directories: [String]

        @Option(help: ArgumentHelp("Folder for the merged points and results.", valueName: "dir"))
        var out: String

        func validate() throws {
            guard !directories.isEmpty else { throw ValidationError("give the shard folders to merge") }
        }

        func run() throws {
            let (records, missing) = try SweepMerge.merge(directories, into: out)
            print("merged \(records.count) points from \(directories.count) folder(s) into \(out)"
                  + (missing > 0 ? "; \(missing) point(s) of the sweep are missing (unfinished shards?)" : ""))
        }
    }
}

/// Sweep progress on stderr: a redrawn bar on a terminal, plain lines otherwise.
final class SweepProgressBar {
    let enabled: Bool
    let terminal: Bool

    init(enabled: Bool) {
        self.enabled = enabled
        terminal = isatty(STDERR_FILENO) != 0
    }

    func update(_ p: SweepProgress) {
        guard enabled, terminal, p.imagesTotal > 0 else { return }
        let fraction = Double(p.imagesDone) / Double(p.imagesTotal)
        let width = 24
        let filled = min(width, Int(fraction * Double(width)))
        let rate = Double(p.imagesDone) / max(p.secondsElapsed, 1e-9)
        let eta = rate > 0 ? Double(p.imagesTotal - p.imagesDone) / rate : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r\u{1B}[2Ksweep [%@] %d/%d points  %.0f images/s  ETA %@ ", bar, p.pointsDone,
                          p.pointsTotal, rate, formatDuration(eta))
        FileHandle.standardError.write(Data(line.utf8))
    }

    func log(_ line: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[2K" : "") + line + "\n").utf8))
    }

    func finish() {
        guard enabled, terminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
    if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    return "\(s)s"
}

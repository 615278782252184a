import ArgumentParser
import Foundation
import XbarSim

extension XbarSimCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Throughput and accuracy of float and every preset x signal mode, and of one noisy crossbar tile.",
            discussion: """
                Runs the float engine and the ideal, paper and rram presets in analog and digitized mode on the \
                same test images, and prints each one's accuracy, images/s and speed relative to float. Then \
                times one programmed crossbar (programming variation and read noise) per --tile-sizes entry \
                against the same GEMM in float; Benchmarks/aihwkit_tile.py runs the same sizes and batch in aihwkit.
                """)

        @OptionGroup var common: ModelOptions

        @Option(parsing: .unconditional, help: ArgumentHelp("Test images per engine.", valueName: "n"))
        var images: Int = 1000

        @Option(parsing: .unconditional, help: ArgumentHelp("Monte Carlo chips per analog row.", valueName: "k"))
        var chips: Int = 1

        @Option(parsing: .unconditional, help: ArgumentHelp("Seed of every random draw.", valueName: "n"))
        var seed: UInt64 = 0

        @Option(parsing: .unconditional, help: ArgumentHelp("Images per batch.", valueName: "n"))
        var batch: Int = EvaluationSettings().batchSize

        @Flag(help: "Only the crossbar-tile benchmark (no model or data needed).")
        var tileOnly = false

        @Flag(help: "Skip the crossbar-tile benchmark.")
        var noTile = false

        @Option(parsing: .unconditional, help: ArgumentHelp("Square tile sizes, comma-separated.", valueName: "n,n,..."))
        var tileSizes: String = "128,256,512"

        @Option(parsing: .unconditional, help: ArgumentHelp("Input vectors per tile forward pass.", valueName: "n"))
        var tileBatch: Int = 256

        @Option(parsing: .unconditional, help: ArgumentHelp("Forward passes timed per tile size.", valueName: "n"))
        var tileRepeats: Int = 20

        @Flag(help: "Print one JSON object {modes, tiles} instead of tables.")
        var json = false

        var sizes: [Int] { tileSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

        var settings: EvaluationSettings { common.settings(limit: images, batch: batch) }

        func validate() throws {
            guard images > 0 else { throw ValidationError("--images: must be positive, got \(images)") }
            guard chips > 0 else { throw ValidationError("--chips: must be positive, got \(chips)") }
            do { try settings.validate() } catch let error as SettingsError { throw ValidationError(error.description) }
            let parts = tileSizes.split(separator: ",", omittingEmptySubsequences: false)
            guard !parts.isEmpty, parts.allSatisfy({ Int($0.trimmingCharacters(in: .whitespaces)).map { $0 >= 2 } ?? false }) else {
                throw ValidationError("--tile-sizes: expected sizes of at least 2 separated by commas, got '\(tileSizes)'")
            }
            guard tileBatch > 0 else { throw ValidationError("--tile-batch: must be positive, got \(tileBatch)") }
            guard tileRepeats > 0 else { throw ValidationError("--tile-repeats: must be positive, got \(tileRepeats)") }
            try usage {
                try CommandLimits.check(images, CommandLimits.images, flag: "--images")
                try CommandLimits.check(chips, CommandLimits.chips, flag: "--chips")
                try CommandLimits.check(tileBatch, CommandLimits.tileBatch, flag: "--tile-batch")
                try CommandLimits.check(tileRepeats, CommandLimits.tileRepeats, flag: "--tile-repeats")
                for part in parts {
                    let n = try CheckedSize.integer(String(part), in: CommandLimits.tileSide, parameter: "--tile-sizes")
                    try CommandLimits.checkTile(rows: n, columns: n, batch: tileBatch, flag: "--tile-sizes")
                }
            }
            guard !(tileOnly && noTile) else { throw ValidationError("--tile-only and --no-tile exclude each other") }
        }

        struct Output: Encodable {
            var modes: ModeBenchmarkReport?
            var tiles: [TileBenchmarkResult]
        }

        func run() throws {
            var output = Output(modes: nil, tiles: [])
            let log = { (s: String) in if !json { FileHandle.standardError.write(Data("  running \(s)\n".utf8)) } }
            if !tileOnly {
                let inputs = try EvaluationInputs(settings: settings)
                output.modes = try Benchmark.modes(inputs, settings: settings, seed: seed, chips: chips, progress: log)
            }
            if !noTile {
                for n in sizes {
                    log("tile \(n)x\(n)")
                    output.tiles.append(try Benchmark.tile(
                        rows: n, columns: n, batch: tileBatch, repeats: tileRepeats, seed: seed, threads: common.threads))
                }
            }
            if json { return try printJSON(output) }
            if let m = output.modes {
                print("model \(m.model), \(m.images) images, \(m.chips) chip(s), seed \(m.seed), batch \(m.batchSize), \(m.threads) threads")
                print("| engine | top-1 | vs float (points) | images/s | speed vs float |")
                print("|---|---|---|---|---|")
                for r in m.rows {
                    print(String(format: "| %@ | %.2f %% | %+.2f | %.1f | %.3fx |", r.name, r.accuracy * 100,
                                 r.accuracyChange * 100, r.imagesPerSecond, r.speedRatioToFloat))
                }
            }
            if !output.tiles.isEmpty {
                if output.modes != nil { print("") }
                let t0 = output.tiles[0]
                print("crossbar tile: uniform weights in [-1, 1], variation \(t0.variation), read noise \(t0.readNoise), "
                      + "batch \(t0.batch), \(t0.repeats) passes, \(common.threads) threads")
                print("| tile | program (s) | noisy vectors/s | float vectors/s | noisy / float | output rel. RMS error |")
                print("|---|---|---|---|---|---|")
                for t in output.tiles {
                    print(String(format: "| %dx%d | %.3f | %.0f | %.0f | %.3fx | %.4f |", t.rows, t.columns, t.programSeconds,
                                 t.vectorsPerSecond, t.floatVectorsPerSecond, t.ratioToFloat, t.relativeRMSError))
                }
            }
        }
    }
}

import ArgumentParser
import Foundation
import XbarSim

extension XbarSimCommand {
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a model on the CIFAR-10 test set (or any dataset file given with --data).",
            discussion: "Prints accuracy and throughput; --json prints one JSON object instead.")

        @Flag(help: "Run only the float32 reference engine (no crossbar simulation).")
        var float = false

        @OptionGroup var common: ModelOptions

        @OptionGroup(title: "Simulated chip") var chip: ChipOptions

        @Option(parsing: .unconditional, help: ArgumentHelp("Monte Carlo chips (independent programmings).", valueName: "k"))
        var chips: Int = 1

        @Option(parsing: .unconditional, help: ArgumentHelp("Seed of every random draw; equal seeds give equal results.", valueName: "n"))
        var seed: UInt64 = 0

        @Option(parsing: .unconditional, help: ArgumentHelp("Evaluate only the first N test images.", valueName: "n"))
        var limit: Int?

        @Option(parsing: .unconditional, help: ArgumentHelp("Images per batch.", valueName: "n"))
        var batch: Int = EvaluationSettings().batchSize

        @Flag(help: "Print one JSON object (mode, model, images, accuracy, imagesPerSecond, ...).")
        var json = false

        @Flag(help: "Time every op and print the seconds spent per op type (summed over the threads that run batches side by side).")
        var profile = false

        @Option(help: ArgumentHelp(
            "Write per-image results (chip, image, label, predicted class, logits) for float and every chip to a CSV file.",
            valueName: "file.csv"))
        var predictions: String?

        var settings: EvaluationSettings { common.settings(limit: limit, batch: batch) }

        func validate() throws {
            do { try settings.validate() } catch let error as SettingsError { throw ValidationError(error.description) }
            guard chips > 0 else { throw ValidationError("--chips: must be positive, got \(chips)") }
            try usage { try CommandLimits.check(chips, CommandLimits.chips, flag: "--chips") }
        }

        func run() throws {
            let inputs = try EvaluationInputs(settings: settings)
            let log = predictions.map { _ in PredictionLog() }
            if !float { return try runAnalog(inputs, log: log) }
            let bar = ProgressBar(label: "float", enabled: !json)
            let report = try Evaluation.float(inputs, settings: settings, profile: profile, predictions: log) { bar.update($0) }
            bar.finish()
            if let log, let predictions { try log.write(to: predictions) }
            if json {
                try printJSON(report)
            } else {
                print("model     \(report.model) (\(report.architecture))")
                print("data      \(report.data)")
                print("mode      float32 reference")
                print("images    \(report.images)")
                print("accuracy  \(formatPercent(report.accuracy)) (\(report.correct)/\(report.images))")
                print("speed     \(String(format: "%.1f", report.imagesPerSecond)) images/s "
                      + "(\(String(format: "%.2f", report.seconds)) s, batch \(report.batchSize), \(report.threads) threads)")
                printProfile(report.secondsByOpType, total: report.seconds)
            }
        }
    }
}

extension XbarSimCommand.Eval {
    func runAnalog(_ inputs: EvaluationInputs, log: PredictionLog?) throws {
        let config = try chip.config()
        let bar = ProgressBar(label: "chip", enabled: !json)
        let report = try Evaluation.analog(
            inputs, settings: settings, config: config, preset: chip.preset, seed: seed, chips: chips,
            profile: profile, predictions: log
        ) { p in
            bar.update(EvaluationProgress(imagesDone: p.chip * p.imagesTotal + p.imagesDone,
                                          imagesTotal: p.chips * p.imagesTotal, secondsElapsed: p.secondsElapsed))
        }
        bar.finish()
        if let log, let predictions { try log.write(to: predictions) }
        if json { return try printJSON(report) }
        print("model       \(report.model)")
        print("data        \(report.data)")
        print("chip        preset \(chip.preset.rawValue), mapping \(config.mapping.rawValue), mode \(config.mode.rawValue), "
              + "tile \(config.tile), scaling \(config.scaling.description)")
        print("images      \(report.images) x \(report.chips) chip(s), seed \(report.seed)")
        print("float       \(formatPercent(report.floatAccuracy))  (\(String(format: "%.1f", report.floatImagesPerSecond)) images/s)")
        print("analog      \(formatPercent(report.accuracy)) ± \(formatPercent(report.accuracyStd)) (std over chips), "
              + "95% CI [\(formatPercent(report.accuracyCI95[0])), \(formatPercent(report.accuracyCI95[1]))]")
        print("degradation \(String(format: "%.2f", report.degradation * 100)) percentage points")
        let digital = report.digitalOps ?? []
        if !digital.isEmpty {
            print("digital     \(digital.count) op(s) in digital periphery (ADC, function, DAC): "
                  + digital.prefix(8).joined(separator: ", ") + (digital.count > 8 ? ", ..." : ""))
        }
        let devices = report.mapping.reduce(0) { $0 + $1.devices }
        let rounded = report.mapping.reduce(0) { $0 + $1.weightsRoundedToZero }
        let clipped = report.mapping.reduce(0) { $0 + $1.weightsClipped }
        print("crossbars   \(report.mapping.count), \(devices) devices, \(rounded) weights below G_min left out, "
              + "\(clipped) clipped at G_max (per-layer details: --json)")
        if let worst = report.mapping.filter({ $0.irDropWeightError != nil })
            .max(by: { ($0.irDropWeightError ?? 0) < ($1.irDropWeightError ?? 0) }),
            let error = worst.irDropWeightError {
            print("IR drop     effective weights off ideal wires by up to \(String(format: "%.2f", error * 100))% "
                  + "(\(worst.op), \(worst.role)); per crossbar: irDropWeightError in --json")
        }
        let compensated = report.mapping.filter { $0.irCompensationResidual != nil }
        if let worst = compensated.max(by: { ($0.irCompensationResidual ?? 0) < ($1.irCompensationResidual ?? 0) }),
           let after = worst.irCompensationResidual {
            let before = compensated.compactMap(\.irCompensationResidualBefore).max() ?? 0
            let limited = compensated.reduce(0) { $0 + ($1.irCompensationDevicesAtWindowLimit ?? 0) }
            print("IR comp.    nominal weights off ideal by up to \(String(format: "%.3f", after * 100))% after "
                  + "pre-distortion (\(worst.op), \(worst.role)), \(String(format: "%.2f", before * 100))% before; "
                  + "\(limited) devices at the window; per crossbar: irCompensationResidual in --json")
        }
        if let cost = report.programming {
            print("write-verify \(cost.programPulses) pulses, \(cost.verifyReads) verify reads for \(cost.devices) devices "
                  + "(chip 0): \(String(format: "%.3g", cost.energyJoules)) J, \(String(format: "%.3g", cost.serialSeconds)) s serial; "
                  + "\(cost.devicesOutsideTolerance) devices outside the band")
        }
        print("speed       \(String(format: "%.1f", report.imagesPerSecond)) images/s "
              + "(\(String(format: "%.2f", report.imagesPerSecond / report.floatImagesPerSecond))x float)")
        printProfile(report.secondsByOpType, total: report.seconds)
    }
}

/// Seconds per op type, largest first, as a share of `total`.
func printProfile(_ secondsByOpType: [String: Double]?, total: Double) {
    for (type, seconds) in (secondsByOpType ?? [:]).sorted(by: { $0.value > $1.value }) {
        print("  " + type.padding(toLength: 18, withPad: " ", startingAt: 0)
              + String(format: "%7.3f s  %5.1f%%", seconds, 100 * seconds / max(total, 1e-9)))
    }
}

func formatPercent(_ fraction: Double) -> String { String(format: "%.2f%%", fraction * 100) }

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

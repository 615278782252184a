import ArgumentParser
import Foundation
import XbarSim

extension SensitivityGrouping: ExpressibleByArgument {}

extension XbarSimCommand {
    struct Diagnose: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Where a chip's accuracy goes: error of every op against float, each non-ideality alone, each op alone.",
            discussion: """
                Runs the first --images test images through the float engine and the chip (every eval chip flag) and \
                prints three tables: attribution (each non-ideality of the chip switched on alone over the ideal chip, \
                and all of them: accuracy, logits error), error propagation (relative RMS error and SNR of every op's \
                output against float) and layer sensitivity (every non-ideality confined to one op or block, the rest \
                ideal). --out DIR writes diagnosis.json, diagnosis.md and SVG figures. See docs/diagnose.md.
                """)

        @OptionGroup var common: ModelOptions

        @OptionGroup(title: "Simulated chip") var chip: ChipOptions

        @Option(help: ArgumentHelp("Test images (the first N of the test set).", valueName: "n"))
        var images: Int = 200

        @Option(help: ArgumentHelp("Monte Carlo chips (independent programmings; errors pooled, accuracies averaged).",
                                   valueName: "k"))
        var chips: Int = 1

        @Option(help: ArgumentHelp("Seed of every random draw; equal seeds give equal results.", valueName: "n"))
        var seed: UInt64 = 0

        @Option(help: ArgumentHelp("Images per batch (every op's float activations of a batch are kept).", valueName: "n"))
        var batch: Int = 32

        @Option(help: "Layer sensitivity one op at a time, one block at a time, or off.")
        var sensitivity: SensitivityGrouping = .op

        @Option(help: ArgumentHelp("Folder for diagnosis.json, diagnosis.md and the SVG figures (created).", valueName: "dir"))
        var out: String?

        @Flag(help: "Print the report as one JSON object instead of the tables.")
        var json = false

        var settings: EvaluationSettings { common.settings(limit: images, batch: batch) }

        func validate() throws {
            guard images > 0 else { throw ValidationError("--images: must be positive, got \(images)") }
            guard chips > 0 else { throw ValidationError("--chips: must be positive, got \(chips)") }
            do { try settings.validate() } catch let error as SettingsError { throw ValidationError(error.description) }
            _ = try chip.uncalibratedConfig(command: "diagnose")
        }

        func run() throws {
            let config = try chip.uncalibratedConfig(command: "diagnose")
            let inputs = try EvaluationInputs(settings: settings)
            let bar = ProgressBar(label: "diagnose", enabled: !json)
            let report = try Evaluation.diagnose(
                inputs, settings: settings, config: config, preset: chip.preset, seed: seed, chips: chips,
                sensitivity: sensitivity
            ) { p in
                bar.update(EvaluationProgress(imagesDone: p.imagesDone, imagesTotal: p.imagesTotal,
                                              secondsElapsed: p.secondsElapsed))
            }
            bar.finish()
            if let out { try DiagnosisOutputs.write(report, directory: out) }
            if json { return print(try DiagnosisOutputs.json(report), terminator: "") }
            print(DiagnosisOutputs.table(report))
            print(String(format: "%.1f s", report.seconds) + (out.map { "; written: \($0)/diagnosis.json, diagnosis.md, *.svg" } ?? ""))
        }
    }
}

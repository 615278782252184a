import ArgumentParser
import Foundation
import XbarSim

extension XbarSimCommand {
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a model on the CIFAR-10 test set.",
            discussion: "Prints accuracy and throughput; --json prints one JSON object instead.")

        @Flag(help: "Run the float32 reference engine (no crossbar simulation).")
        var float = false

        @OptionGroup var common: ModelOptions

        @Option(help: ArgumentHelp("Evaluate only the first N test images.", valueName: "n"))
        var limit: Int?

        @Option(help: ArgumentHelp("Images per batch.", valueName: "n"))
        var batch: Int = EvaluationSettings().batchSize

        @Flag(help: "Print one JSON object (mode, model, images, accuracy, imagesPerSecond, ...).")
        var json = false

        @Flag(help: "Time every op and print the seconds spent per op type.")
        var profile = false

        var settings: EvaluationSettings {
            var s = EvaluationSettings()
            s.modelPath = common.model
            s.dataDirectory = common.data
            s.limit = limit
            s.batchSize = batch
            s.threads = common.threads
            return s
        }

        func validate() throws {
            do { try settings.validate() } catch let error as SettingsError { throw ValidationError(error.description) }
            guard float else {
                throw ValidationError(
                    "only the float reference engine exists in this version: pass --float (crossbar simulation is not implemented yet)")
            }
        }

        func run() throws {
            let inputs = try EvaluationInputs(settings: settings)
            let bar = ProgressBar(label: "float", enabled: !json)
            let report = try Evaluation.float(inputs, settings: settings, profile: profile) { bar.update($0) }
            bar.finish()
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
                for (type, seconds) in (report.secondsByOpType ?? [:]).sorted(by: { $0.value > $1.value }) {
                    print("  " + type.padding(toLength: 18, withPad: " ", startingAt: 0)
                          + String(format: "%7.3f s  %5.1f%%", seconds, 100 * seconds / report.seconds))
                }
            }
        }
    }
}

func formatPercent(_ fraction: Double) -> String { String(format: "%.2f%%", fraction * 100) }

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

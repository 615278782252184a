import ArgumentParser
import Foundation
import XbarSim

extension XbarSimCommand {
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a model file: provenance, ops, shapes and multiply-accumulates.")

        @Option(help: ArgumentHelp("HDF5 model file.", valueName: "path"))
        var model: String = EvaluationSettings.defaultModelPath

        @Flag(name: .customLong("no-verify"), help: "Load the model file even if it does not match its checksum (warned).")
        var noVerify = false

        func run() throws {
            let m = try ModelFile.load(model, verify: !noVerify)
            if let warning = m.integrity.warning(file: model) { FileHandle.standardError.write(Data((warning + "\n").utf8)) }
            let meta = m.metadata
            let p = meta.provenance
            print("model          \(m.path)")
            print("architecture   \(meta.architecture) (format version \(meta.formatVersion))")
            print("input          \(meta.inputShape), classes \(meta.classNames.joined(separator: ", "))")
            print("ops            \(m.graph.ops.count), \(m.graph.macsPerImage) MACs per image")
            if let accuracy = p.floatTestAccuracy { print("float accuracy \(formatPercent(accuracy)) (at export)") }
            print("trained with   \(p.trainingCommand)")
            print("               \(p.trainingEpochs) epochs, seed \(p.trainingSeed), "
                  + "\(String(format: "%.0f", p.trainingWallSeconds / 60)) min on \(p.trainingHardware)")
            if !p.trainingNoise.isEmpty { print("training noise \(p.trainingNoise)") }
            print("")
            for (i, op) in m.graph.ops.enumerated() {
                let inputs = op.inputs.map { $0 == 0 ? "input" : m.graph.ops[$0 - 1].name }.joined(separator: ", ")
                print(String(format: "%4d  %-16@ %-28@ %-16@ <- %@", i, op.kind.typeName as NSString,
                             op.name as NSString, "\(op.outputShape)" as NSString, inputs as NSString))
            }
        }
    }

    struct Golden: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the float engine against the PyTorch outputs stored in the model file.",
            discussion: """
                Exits non-zero when the logits or any op's output is further than --tolerance (relative to the \
                tensor's largest magnitude) from PyTorch's.
                """)

        @OptionGroup var common: ModelOptions

        @Option(parsing: .unconditional,
                help: ArgumentHelp("Largest accepted relative error (max |engine - PyTorch| / max |PyTorch|).", valueName: "r"))
        var tolerance: Double = GoldenCheck.defaultTolerance

        @Flag(help: "Print one JSON object.")
        var json = false

        func validate() throws {
            try common.validate()
            do { try GoldenCheck.validate(tolerance: tolerance) } catch { throw ValidationError("\(error)") }
        }

        func run() throws {
            BLAS.setThreads(common.threads)
            let m = try common.loadModel()
            let (dataset, _) = try EvaluationInputs.testImages(data: common.data)
            let result = try GoldenCheck.float(model: m, dataset: dataset, threads: common.threads)
            let failures = result.failures(tolerance: tolerance)
            defer {
                if !failures.isEmpty {
                    // The table (or JSON) first, then the one-line verdict and a non-zero exit.
                    FileHandle.standardError.write(Data("error: \(GoldenMismatch(model: m.path, tolerance: tolerance, failures: failures))\n".utf8))
                    Foundation.exit(1)
                }
            }
            if json { return try printJSON(result) }
            print("logits: max relative error \(String(format: "%.2e", result.logitsRelativeError)) over \(result.images) images, "
                  + "\(result.predictionMismatches) prediction mismatches")
            print("per op (image \(m.golden?.opImageIndex ?? 0)): max relative error \(String(format: "%.2e", result.maxOpRelativeError))")
            for op in result.ops {
                print(String(format: "%4d  %-16@ %-28@ %.2e", op.index, op.type as NSString, op.name as NSString, op.relativeError))
            }
            if failures.isEmpty {
                print("passed: every error <= tolerance \(String(format: "%.1e", tolerance))")
            }
        }
    }
}

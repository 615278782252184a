import ArgumentParser
import Foundation
import XbarSim

extension XbarSimCommand {
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a model file: provenance, ops, shapes and multiply-accumulates.")

        @Option(help: ArgumentHelp("HDF5 model file.", valueName: "path"))
        var model: String = EvaluationSettings.defaultModelPath

        func run() throws {
            let m = try ModelFile.load(model)
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
            abstract: "Check the float engine against the PyTorch outputs stored in the model file.")

        @OptionGroup var common: ModelOptions

        @Flag(help: "Print one JSON object.")
        var json = false

        func run() throws {
            BLAS.setThreads(common.threads)
            let m = try ModelFile.load(common.model)
            let dataset = try CIFAR10.test(in: try CIFAR10.locate(explicit: common.data))
            let result = try GoldenCheck.float(model: m, dataset: dataset, threads: common.threads)
            if json { return try printJSON(result) }
            print("logits: max relative error \(String(format: "%.2e", result.logitsRelativeError)) over \(result.images) images, "
                  + "\(result.predictionMismatches) prediction mismatches")
            print("per op (image \(m.golden?.opImageIndex ?? 0)): max relative error \(String(format: "%.2e", result.maxOpRelativeError))")
            for op in result.ops {
                print(String(format: "%4d  %-16@ %-28@ %.2e", op.index, op.type as NSString, op.name as NSString, op.relativeError))
            }
        }
    }
}

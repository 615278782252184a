import ArgumentParser
import XbarSim

@main
struct XbarSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xbarsim",
        abstract: "Memristor-crossbar inference emulator.",
        discussion: """
            Runs trained networks (HDF5 model files, see Weights/FORMAT.md) on CIFAR-10, \
            in float32 or on simulated memristor crossbars.
            """,
        version: "0.1.0",
        subcommands: [Eval.self, Report.self, SweepCommand.self, Diagnose.self, Bench.self, Spice.self, Info.self, Golden.self])

    static func main() {
        Allocator.reuseLargeBuffers()
        main(nil)
    }
}

/// Options every command that reads a model and the dataset shares.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("HDF5 model file.", valueName: "path"))
    var model: String = EvaluationSettings.defaultModelPath

    @Option(help: ArgumentHelp(
        "CIFAR-10 folder (binary layout). Default: $XBARSIM_DATA, Datasets/cifar-10-batches-bin, ../shared/cifar10/cifar-10-batches-bin.",
        valueName: "path"))
    var data: String?

    @Option(help: ArgumentHelp("Threads for BLAS and XbarSim's loops.", valueName: "n"))
    var threads: Int = EvaluationSettings().threads

    /// Evaluation settings for these options, `limit` test images and `batch` per batch.
    func settings(limit: Int?, batch: Int) -> EvaluationSettings {
        var s = EvaluationSettings()
        s.modelPath = model
        s.dataDirectory = data
        s.limit = limit
        s.batchSize = batch
        s.threads = threads
        return s
    }
}

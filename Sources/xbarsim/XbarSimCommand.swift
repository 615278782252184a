import ArgumentParser
import Foundation
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
        subcommands: [Eval.self, Report.self, SweepCommand.self, Diagnose.self, Bench.self, Spice.self, Info.self, Golden.self,
                      CheckModelFile.self])

    static func main() {
        Allocator.reuseLargeBuffers()
        // Model files are read once in a child process first (xbarsim check-model-file), so
        // that a corrupt file that crashes libhdf5 is an error naming it, not a crash here.
        if CommandLine.arguments.dropFirst().first != CheckModelFile.configuration.commandName {
            HDF5File.readPreflight = { path in
                try HDF5File.childCheck(path: path, executable: "/proc/self/exe",
                                        arguments: [CheckModelFile.configuration.commandName ?? "", path])
            }
        }
        // Long IR-drop solves say how far they are (stderr, one line every few seconds).
        TileSolveProgress.shared.install(interval: 5) { r in
            let line = "IR drop: solved \(r.tilesDone)/\(r.tilesTotal) tiles of this crossbar in "
                + String(format: "%.0f s", r.secondsElapsed) + (r.iterations > 0 ? " (\(r.iterations) solver iterations)" : "") + "\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
        main(nil)
    }
}

/// Options every command that reads a model and the dataset shares.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("HDF5 model file.", valueName: "path"))
    var model: String = EvaluationSettings.defaultModelPath

    @Option(help: ArgumentHelp(
        "CIFAR-10 folder (binary layout) or an XbarSim dataset file (.h5, Datasets/FORMAT.md). Default: $XBARSIM_DATA, Datasets/cifar-10-batches-bin, ../shared/cifar10/cifar-10-batches-bin.",
        valueName: "path"))
    var data: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads for BLAS and XbarSim's loops.", valueName: "n"))
    var threads: Int = EvaluationSettings().threads

    @Flag(name: .customLong("no-verify"),
          help: "Load a model file even if its contents do not match its checksum (loudly warned; results may be wrong).")
    var noVerify = false

    func validate() throws {
        try usage { try CommandLimits.checkThreads(threads) }
    }

    /// Loads the model file (`--model`), verifying its checksum unless `--no-verify`; warnings go to stderr.
    func loadModel() throws -> Model {
        let m = try ModelFile.load(model, verify: !noVerify)
        if let warning = m.integrity.warning(file: model) { FileHandle.standardError.write(Data((warning + "\n").utf8)) }
        return m
    }

    /// Evaluation settings for these options, `limit` test images and `batch` per batch.
    func settings(limit: Int?, batch: Int) -> EvaluationSettings {
        var s = EvaluationSettings()
        s.modelPath = model
        s.dataDirectory = data
        s.limit = limit
        s.batchSize = batch
        s.threads = threads
        s.verifyChecksum = !noVerify
        return s
    }
}

/// Runs a library check and shows its error as a usage error (one line naming the flag).
func usage(_ body: () throws -> Void) throws {
    do { try body() } catch let error as ValidationError { throw error } catch { throw ValidationError("\(error)") }
}

/// Reads a model file completely and exits (hidden; run in a child process before a model is
/// loaded, see `HDF5File.childCheck`).
struct CheckModelFile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-model-file", abstract: "Read a model file completely (used internally).", shouldDisplay: false)

    @Argument var path: String

    func run() throws { _ = try ModelFile.load(path) }
}

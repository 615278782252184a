import Foundation
import Testing
@testable import XbarSim

/// Threads that cannot be created, a missing $XBARSIM_DATA, calibration images beyond the
/// training file: each an error naming the cause, never a hang or a silent fallback.
@Suite(.serialized)
struct ThreadAndDataTests {
    @Test(.enabled(if: xbarsimBinary != nil, "needs the xbarsim binary"))
    func threadsThatCannotStartAreAnErrorNotAHang() throws {
        // Under a 1.5 GB address-space limit, 700 threads with 8 MiB stacks cannot all start.
        let binary = try #require(xbarsimBinary)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "ulimit -v 1500000; exec \"$0\" eval --float --limit 1 --threads 700", binary]
        p.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            p.terminate()
            Issue.record("xbarsim --threads 700 under a memory limit hung")
            return
        }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationReason == .exit && p.terminationStatus != 0, "\(text)")
        #expect(text.contains("--threads: cannot start 700 threads"), "\(text)")
    }

    @Test func missingXbarsimDataIsAnErrorNamingTheVariable() throws {
        let work = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        // A default folder exists, but the variable names another one: no fallback.
        try FileManager.default.createDirectory(atPath: work + "/Datasets/cifar-10-batches-bin", withIntermediateDirectories: true)
        let message = errorMessage {
            _ = try CIFAR10.locate(explicit: nil, environment: ["XBARSIM_DATA": "/missing"], workingDirectory: work)
        }
        #expect(message.hasPrefix("$XBARSIM_DATA=/missing: no such directory"), "\(message)")
        // Empty means unset.
        #expect(try CIFAR10.locate(explicit: nil, environment: ["XBARSIM_DATA": ""], workingDirectory: work)
                == work + "/Datasets/cifar-10-batches-bin")
    }

    @Test func fifoInsteadOfAFileIsRefusedNotBlocking() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/test_batch.bin", 0o644) == 0)
        #expect(mkfifo(dir + "/model.h5", 0o644) == 0)
        #expect(errorMessage { _ = try CIFAR10.test(in: dir) }.contains("not a regular file"))
        #expect(errorMessage { _ = try ModelFile.load(dir + "/model.h5") }.contains("not a regular file"))
        #expect(errorMessage { _ = try Technology.default.applying(file: dir + "/model.h5") }.contains("not a regular file"))
    }

    @Test(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"))
    func calibrationUsesWhatItReportsOrRefuses() throws {
        var c = Preset.ideal.config
        c.calibrationImages = 60_000
        #expect(errorMessage { try c.validate() }.hasPrefix("--calibration-images: must be in 1...10000"))
        c.calibrationImages = 10_000
        try c.validate()

        // A training file shorter than asked for is an error, not a quiet smaller calibration.
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try #require(sharedDataDirectory)
        for (name, records) in [("test_batch.bin", 2), ("data_batch_1.bin", 5)] {
            let handle = try #require(FileHandle(forReadingAtPath: source + "/" + name))
            try handle.readData(ofLength: records * CIFAR10.recordBytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        var settings = EvaluationSettings()
        settings.modelPath = defaultModelPath
        settings.dataDirectory = dir
        settings.limit = 1
        settings.threads = 1
        let inputs = try EvaluationInputs(settings: settings)
        _ = try Evaluation.calibrate(inputs, images: 5, threads: 1)
        let message = errorMessage { _ = try Evaluation.calibrate(inputs, images: 16, threads: 1) }
        #expect(message.contains("--calibration-images 16") && message.contains("holds only 5 images"), "\(message)")
    }
}

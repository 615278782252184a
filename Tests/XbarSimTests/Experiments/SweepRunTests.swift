import Foundation
import Testing
@testable import XbarSim

/// Real sweeps on the trained model and a few test images: kill-and-resume with the CLI
/// binary, and shard-and-merge against the unsharded run.
@Suite(.enabled(if: sharedDataDirectory != nil, "needs ../shared/cifar10"), .serialized)
struct SweepRunTests {
    /// The debug binary `swift test` builds next to the tests.
    static let binary: String? = {
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("debug/xbarsim").path,
            repositoryRoot + "/.build/debug/xbarsim",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static let sweepArguments = [
        "sweep", "--vary", "variation=0,0.05,0.1", "--images", "6", "--batch", "6", "--calibration-images", "4",
        "--chips", "1", "--seed", "3", "--threads", "1", "--quiet", "--model", defaultModelPath,
    ]

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test(.enabled(if: binary != nil, "needs the xbarsim binary"))
    func killedSweepResumesWithEveryPointExactlyOnce() throws {
        let binary = try #require(Self.binary)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let points = dir + "/points.jsonl"
        let arguments = Self.sweepArguments + ["--data", try #require(sharedDataDirectory), "--out", dir]

        let first = Process()
        first.executableURL = URL(fileURLWithPath: binary)
        first.arguments = arguments
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        let deadline = Date().addingTimeInterval(120)
        while Self.lines(points).isEmpty && first.isRunning && Date() < deadline { usleep(20_000) }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        let afterKill = Self.lines(points)
        #expect(afterKill.count >= 1 && afterKill.count < 3, "\(afterKill.count) points after the kill")

        let second = Process()
        second.executableURL = URL(fileURLWithPath: binary)
        second.arguments = arguments
        let output = Pipe()
        second.standardOutput = output
        second.standardError = FileHandle.nullDevice
        try second.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)
        #expect(text.contains("\(afterKill.count) already done, \(3 - afterKill.count) evaluated now"), "\(text)")

        let records = try SweepStore(directory: dir).load()
        #expect(records.map(\.index).sorted() == [0, 1, 2])
        #expect(Set(records.map(\.key)).count == 3)
        #expect(records.map { $0.varied["variation"] ?? "" }.sorted() == ["0", "0.05", "0.1"])
        // The lines written before the kill are untouched.
        #expect(Array(Self.lines(points).prefix(afterKill.count)) == afterKill)
        let csv = Self.lines(dir + "/results.csv")
        #expect(csv.count == 4)
        for name in ["results.json", "results.md", "accuracy-vs-variation.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + name), "\(name)")
        }
    }

    @Test func shardsMergedEqualTheUnshardedRun() throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var settings = EvaluationSettings()
        settings.modelPath = defaultModelPath
        settings.dataDirectory = sharedDataDirectory
        settings.limit = 6
        settings.batchSize = 6
        settings.threads = 1
        let inputs = try EvaluationInputs(settings: settings)
        var base = Preset.ideal.config
        base.calibrationImages = 4
        let plan = try SweepPlan(
            base: base, basePreset: "ideal",
            axes: [try SweepAxis.parse("variation=0.05,0.2", base: base), try SweepAxis.parse("levels=8,32", base: base)],
            design: .oneAtATime, chips: 1, seed: 11, images: 6, model: defaultModelPath, modelBytes: 1)
        let whole = try Sweep.run(plan: plan, inputs: inputs, settings: settings, directory: root + "/whole")
        var shardDirs: [String] = []
        for s in 0..<2 {
            let dir = root + "/shard\(s)"
            let summary = try Sweep.run(plan: plan, inputs: inputs, settings: settings, directory: dir,
                                        shard: try Shard(index: s, count: 2), writeOutputs: false)
            #expect(summary.records.map(\.index) == (0..<4).filter { $0 % 2 == s })
            shardDirs.append(dir)
        }
        let (merged, missing) = try SweepMerge.merge(shardDirs, into: root + "/merged")
        #expect(missing == 0)
        #expect(whole.records.count == 4)
        #expect(merged.map(\.withoutTimings) == whole.records.map(\.withoutTimings))
        // Identical numbers, not just close ones.
        #expect(merged.map(\.chipAccuracies) == whole.records.map(\.chipAccuracies))
        #expect(SweepOutputs.markdown(plan: plan, records: merged) == SweepOutputs.markdown(plan: plan, records: whole.records))

        // Rerunning the finished sweep evaluates nothing.
        let again = try Sweep.run(plan: plan, inputs: inputs, settings: settings, directory: root + "/whole")
        #expect(again.evaluated == 0 && again.skipped == 4)
    }
}

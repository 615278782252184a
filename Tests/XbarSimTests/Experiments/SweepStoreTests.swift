import Foundation
import Testing
@testable import XbarSim

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The append-only store, merging and the output writers, on hand-made records.
struct SweepStoreTests {
    static func plan(seed: UInt64 = 0) throws -> SweepPlan {
        let base = Preset.ideal.config
        return try SweepPlan(
            base: base, basePreset: "ideal",
            axes: [try SweepAxis.parse("variation=0,0.1", base: base), try SweepAxis.parse("levels=8,16,32", base: base)],
            design: .grid, chips: 2, seed: seed, images: 100, model: "m.h5", modelBytes: 1)
    }

    static func record(_ point: SweepPoint, accuracy: Double) -> SweepRecord {
        SweepRecord(
            index: point.index, key: point.key,
            parameters: Dictionary(uniqueKeysWithValues: ChipParameter.all.map { ($0.name, $0.read(point.config)) }),
            varied: point.varied, images: 100, chips: 2, seed: 0, accuracy: accuracy, accuracyStd: 0.01,
            accuracyCI95: [accuracy - 0.09, accuracy + 0.09], chipAccuracies: [accuracy - 0.01, accuracy + 0.01],
            floatAccuracy: 0.92, degradation: 0.92 - accuracy, energyPerImageJoules: point.index == 0 ? 1.5e-6 : nil,
            seconds: 1, imagesPerSecond: 200)
    }

    @Test func partialLastLineIsDroppedAndCutSoAppendsStayReadable() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plan = try Self.plan()
        let points = try plan.points()
        let store = SweepStore(directory: dir)
        try store.open(SweepManifest(plan: plan, shard: nil, points: points.count))
        try store.append(Self.record(points[0], accuracy: 0.9))
        try store.append(Self.record(points[1], accuracy: 0.8))
        // What a SIGKILL in the middle of the third write could leave.
        let handle = try #require(FileHandle(forWritingAtPath: store.pointsPath))
        handle.seekToEndOfFile()
        handle.write(Data("{\"index\":2,\"key\":\"ab".utf8))
        handle.closeFile()

        let loaded = try store.load()
        #expect(loaded == [Self.record(points[0], accuracy: 0.9), Self.record(points[1], accuracy: 0.8)])
        let text = try String(contentsOfFile: store.pointsPath, encoding: .utf8)
        #expect(text.hasSuffix("}\n") && text.split(separator: "\n").count == 2)
        try store.append(Self.record(points[2], accuracy: 0.7))
        #expect(try store.load().map(\.index) == [0, 1, 2])
        // Two runs sharing a folder may append the same point twice: it is loaded once (the first).
        try store.append(Self.record(points[1], accuracy: 0.1))
        #expect(try store.load().map(\.accuracy) == [0.9, 0.8, 0.7])
    }

    @Test func corruptMiddleLineIsAnErrorNamingFileAndLine() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let points = try Self.plan().points()
        let store = SweepStore(directory: dir)
        try store.append(Self.record(points[0], accuracy: 0.9))
        let handle = try #require(FileHandle(forWritingAtPath: store.pointsPath))
        handle.seekToEndOfFile()
        handle.write(Data("not json\n".utf8))
        handle.closeFile()
        try store.append(Self.record(points[1], accuracy: 0.8))
        let message = errorMessage { _ = try store.load() }
        #expect(message.contains("points.jsonl: line 2 is not a sweep record"), "\(message)")
    }

    @Test func folderOfAnotherSweepIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SweepStore(directory: dir)
        try store.open(SweepManifest(plan: try Self.plan(), shard: nil, points: 6))
        try store.open(SweepManifest(plan: try Self.plan(), shard: nil, points: 6))  // same sweep: resumes
        let message = errorMessage { try store.open(SweepManifest(plan: try Self.plan(seed: 7), shard: nil, points: 6)) }
        #expect(message.contains("holds a different sweep (seed 0 vs 7)"), "\(message)")
    }

    @Test func mergeUnitesShardsAndRefusesMixedSweeps() throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let plan = try Self.plan()
        let points = try plan.points()
        let accuracy = { (i: Int) in 0.9 - 0.05 * Double(i) }
        for s in 0..<2 {
            let shard = try Shard(index: s, count: 2)
            let store = SweepStore(directory: "\(root)/shard\(s)")
            try store.open(SweepManifest(plan: plan, shard: shard, points: points.count))
            for p in points where shard.contains(pointIndex: p.index) { try store.append(Self.record(p, accuracy: accuracy(p.index))) }
        }
        let (merged, missing) = try SweepMerge.merge(["\(root)/shard1", "\(root)/shard0"], into: "\(root)/all")
        #expect(missing == 0)
        #expect(merged == points.map { Self.record($0, accuracy: accuracy($0.index)) })
        #expect(try SweepStore(directory: "\(root)/all").load() == merged)
        #expect(FileManager.default.fileExists(atPath: "\(root)/all/heatmap-variation-levels.svg"))

        let other = SweepStore(directory: "\(root)/other")
        try other.open(SweepManifest(plan: try Self.plan(seed: 3), shard: nil, points: points.count))
        let message = errorMessage { _ = try SweepMerge.merge(["\(root)/shard0", "\(root)/other"], into: "\(root)/bad") }
        #expect(message.contains("other/sweep.json: a different sweep") && message.contains("seed 0 vs 3"), "\(message)")

        let clash = SweepStore(directory: "\(root)/clash")
        try clash.open(SweepManifest(plan: plan, shard: nil, points: points.count))
        try clash.append(Self.record(points[0], accuracy: 0.5))
        let clashMessage = errorMessage { _ = try SweepMerge.merge(["\(root)/shard0", "\(root)/clash"], into: "\(root)/bad2") }
        #expect(clashMessage.contains("point 0") && clashMessage.contains("differs"), "\(clashMessage)")
    }

    @Test func csvAndJsonHaveOneRowPerPointAndEveryColumn() throws {
        let points = try Self.plan().points()
        let records = points.map { Self.record($0, accuracy: 0.8) }
        let csv = SweepOutputs.csv(records).split(separator: "\n")
        #expect(csv.count == 1 + records.count)
        let header = csv[0].split(separator: ",").map(String.init)
        #expect(header == SweepOutputs.columns)
        for name in ChipParameter.names + ["accuracy", "accuracyCI95Low", "energyPerImageJoules", "degradation"] {
            #expect(header.contains(name))
        }
        for line in csv.dropFirst() { #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == header.count) }
        let row4 = csv[5].split(separator: ",", omittingEmptySubsequences: false)
        #expect(row4[header.firstIndex(of: "levels") ?? 0] == "16")
        #expect(row4[header.firstIndex(of: "variation") ?? 0] == "0.1")
        #expect(row4[header.firstIndex(of: "energyPerImageJoules") ?? 0] == "")

        let json = try #require(JSONSerialization.jsonObject(with: Data(SweepOutputs.json(records).utf8)) as? [[String: Any]])
        #expect(json.count == records.count)
        #expect(Set(json[0].keys) == Set(SweepOutputs.columns))
        #expect(json[0]["energyPerImageJoules"] as? Double == 1.5e-6)
        #expect(json[1]["energyPerImageJoules"] is NSNull)
        #expect(json[4]["levels"] as? Int == 16)
        #expect(json[4]["mapping"] as? String == "paper")
        #expect(json[4]["tile"] as? String == "unlimited")
        #expect((json[4]["chipAccuracies"] as? [Double])?.count == 2)
        #expect(abs((json[4]["accuracy"] as? Double ?? 0) - 0.8) < 1e-12)
    }

    @Test func plotsAreWellFormedSVGWithABandAndAMarkerPerPoint() throws {
        let plan = try Self.plan()
        let records = try plan.points().map { Self.record($0, accuracy: 0.5 + 0.05 * Double($0.index)) }
        let plots = SweepPlot.plots(plan: plan, records: records)
        #expect(plots.map(\.0).sorted() == ["accuracy-vs-levels.svg", "accuracy-vs-variation.svg", "heatmap-variation-levels.svg"])
        for (name, svg) in plots {
            let parser = XMLParser(data: Data(svg.utf8))
            #expect(parser.parse(), "\(name) is not well-formed XML")
        }
        let levels = try #require(plots.first { $0.0 == "accuracy-vs-levels.svg" }?.1)
        // Two curves (variation 0 and 0.1), three points each, one CI band each, a float line.
        #expect(levels.components(separatedBy: "<circle").count - 1 == 6)
        #expect(levels.components(separatedBy: "<polygon").count - 1 == 2)
        #expect(levels.contains("float 92.00 %") && levels.contains("stroke-dasharray"))
        let heat = try #require(plots.first { $0.0.hasPrefix("heatmap") }?.1)
        #expect(heat.components(separatedBy: "<text").count - 1 >= 6 + 2 + 3 + 2)
        #expect(heat.contains(">75.0<"))  // the last point: 0.5 + 0.05 * 5
    }

    @Test func niceTicks() {
        let t = SweepPlot.ticks(0, 1)
        #expect(t.count == 6 && zip(t, [0, 0.2, 0.4, 0.6, 0.8, 1]).allSatisfy { abs($0 - $1) < 1e-12 }, "\(t)")
        #expect(SweepPlot.ticks(82.3, 91.7) == [84, 86, 88, 90])
        #expect(SweepPlot.ticks(0, 100) == [0, 20, 40, 60, 80, 100])
    }
}

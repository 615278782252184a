import Foundation
import Testing
@testable import XbarSim

/// `--vary` parsing, plan expansion and point keys (no model or data needed).
struct SweepSpecificationTests {
    static let base = Preset.ideal.config

    @Test func sha256MatchesFIPSVectors() {
        // FIPS 180-4 / NIST example vectors.
        #expect(Checksum.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Checksum.sha256Hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Checksum.sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func rangesAndListsExpand() throws {
        let v = try SweepAxis.parse("variation=0:0.2:0.02", base: Self.base)
        #expect(v.parameter == "variation")
        #expect(v.values == ["0", "0.02", "0.04", "0.06", "0.08", "0.1", "0.12", "0.14", "0.16", "0.18", "0.2"])
        #expect(try SweepAxis.parse("adc-bits=3:10:1", base: Self.base).values == ["3", "4", "5", "6", "7", "8", "9", "10"])
        #expect(try SweepAxis.parse("drift-time=1000:100:-300", base: Self.base).values == ["1000", "700", "400", "100"])
        #expect(try SweepAxis.parse("levels=4, 8,16", base: Self.base).values == ["4", "8", "16"])
        #expect(try SweepAxis.parse("g-min=0.5uS,1uS", base: Self.base).values == ["0.5uS", "1uS"])
        #expect(try SweepAxis.parse("mapping=paper,differential", base: Self.base).values == ["paper", "differential"])
        #expect(try SweepAxis.parse("tile=64x64,unlimited", base: Self.base).values == ["64x64", "unlimited"])
    }

    static let bad: [(String, String)] = [
        ("wobble=1,2", "unknown parameter 'wobble'"),
        ("variation", "expected NAME=VALUES"),
        ("variation=", "no values for 'variation'"),
        ("variation=0.2:0:0.05", "range '0.2:0:0.05' for 'variation' is empty"),
        ("variation=0:0.2:0", "step of zero"),
        ("variation=0:x:0.1", "stop 'x' is not a number"),
        ("variation=0:1", "expected start:stop:step"),
        ("variation=0.1,-0.1", "variation=-0.1 is rejected: --variation: must be >= 0, got -0.1"),
        ("stuck-on=0.5,1.5", "stuck-on=1.5 is rejected: --stuck-on: must be in [0, 1], got 1.5"),
        ("levels=1,4", "levels=1 is rejected: --levels"),
        ("levels=4.5", "'levels' takes whole numbers, got '4.5'"),
        ("adc-bits=2:40:1", "adc-bits=25 is rejected: --adc-bits: must be 2...24"),
        ("tile=1x1", "tile=1x1 is rejected: --tile: rows must be at least 2"),
        ("mapping=paper,sideways", "mapping=sideways is rejected: --mapping: expected one of paper, differential"),
        ("mapping=paper:differential:1", "'mapping' takes a list of values, not a range"),
        ("levels=4,,8", "empty value at position 2"),
        ("levels=4,8,4", "lists the value 4 twice"),
        ("variation=0:1:1e-6", "has 1000001 values"),
        ("g-max=1 furlong", "g-max=1 furlong is rejected: --g-max: expected a conductance"),
    ]

    @Test(arguments: bad.indices)
    func badSpecificationIsRejectedNamingTheBadPart(index: Int) {
        let (spec, expected) = Self.bad[index]
        let message = errorMessage { _ = try SweepAxis.parse(spec, base: Self.base) }
        #expect(message.hasPrefix("--vary: "), "\(spec): \(message)")
        #expect(message.contains(expected), "\(spec): \(message)")
    }

    func plan(_ specs: [String], design: SweepDesign = .grid, seed: UInt64 = 0) throws -> SweepPlan {
        try SweepPlan(
            base: Self.base, basePreset: "ideal", axes: specs.map { try SweepAxis.parse($0, base: Self.base) },
            design: design, chips: 2, seed: seed, images: 10, model: "m.h5", modelBytes: 1)
    }

    @Test func gridIsEveryCombinationLastAxisFastest() throws {
        let points = try plan(["variation=0,0.1", "levels=8,16,32"]).points()
        #expect(points.map(\.index) == Array(0..<6))
        #expect(points.map { $0.varied["variation"] ?? "" } == ["0", "0", "0", "0.1", "0.1", "0.1"])
        #expect(points.map { $0.varied["levels"] ?? "" } == ["8", "16", "32", "8", "16", "32"])
        #expect(points[4].config.device.variation.relativeSigma == 0.1)
        #expect(points[4].config.device.levels == .uniform(count: 16))
        #expect(Set(points.map(\.key)).count == 6)
    }

    @Test func oneAtATimeRunsTheSharedBasePointOnce() throws {
        // variation=0 and stuck-on=0 are both the base chip: 3 + 3 - 1 points.
        let points = try plan(["variation=0,0.1,0.2", "stuck-on=0,0.01,0.02"], design: .oneAtATime).points()
        #expect(points.count == 5)
        #expect(points.map { "\($0.varied["variation"] ?? "")/\($0.varied["stuck-on"] ?? "")" }
                == ["0/0", "0.1/0", "0.2/0", "0/0.01", "0/0.02"])
    }

    @Test func invalidCombinationNamesThePoint() throws {
        let p = try plan(["g-min=1uS,50uS", "g-max=10uS,100uS"])
        let message = errorMessage { _ = try p.points() }
        #expect(message.contains("g-min=50uS, g-max=10uS"), "\(message)")
        #expect(message.contains("--g-max: must be greater than --g-min"), "\(message)")
    }

    @Test func keysDependOnEverythingThatChangesTheNumbers() throws {
        let a = try plan(["variation=0,0.1"]).points()
        let b = try plan(["variation=0.1,0"]).points()
        #expect(a[1].key == b[0].key)  // same configuration, same key, whatever the order
        #expect(try plan(["variation=0,0.1"], seed: 1).points()[1].key != a[1].key)
        var c = try plan(["variation=0,0.1"])
        c.images = 11
        #expect(try c.points()[1].key != a[1].key)
        #expect(a[0].key.count == 32 && a[0].key.allSatisfy(\.isHexDigit))
    }

    @Test func shardsPartitionThePoints() throws {
        #expect(try Shard(argument: "2/3") == Shard(index: 2, count: 3))
        for text in ["3/3", "0/0", "a/2", "1", "-1/2"] {
            #expect(errorMessage { _ = try Shard(argument: text) }.hasPrefix("--shard: "), "\(text)")
        }
        let shards = try (0..<3).map { try Shard(index: $0, count: 3) }
        for i in 0..<10 { #expect(shards.filter { $0.contains(pointIndex: i) }.count == 1) }
        #expect((0..<10).filter { shards[1].contains(pointIndex: $0) } == [1, 4, 7])
    }

    @Test func presetsParse() throws {
        for preset in SweepPreset.allCases where preset != .wireResistance {
            let base = try preset.apply(to: Self.base)
            let axes = try preset.vary.map { try SweepAxis.parse($0, base: base) }
            #expect(!axes.isEmpty)
            let points = try SweepPlan(base: base, basePreset: "ideal", axes: axes, design: preset.design, chips: 1, seed: 0,
                                       images: 1, model: "m", modelBytes: 0).points()
            #expect(points.count >= 5, "\(preset)")
        }
        // Until the IR-drop parameter lands, the wire-resistance figure names what is missing.
        if ChipParameter.named("wire-resistance") == nil {
            let message = errorMessage { _ = try SweepAxis.parse(SweepPreset.wireResistance.vary[0], base: Self.base) }
            #expect(message.contains("unknown parameter 'wire-resistance'"))
        }
    }
}

import ArgumentParser
import Testing
import XbarSim
@testable import xbarsim

/// Invalid chip parameters are rejected before any work, naming the flag.
struct EvalOptionsTests {
    static let invalid: [([String], String)] = [
        (["--variation=-0.1"], "--variation: must be >= 0, got -0.1"),
        (["--read-noise=-1"], "--read-noise"),
        (["--levels", "1"], "--levels: must be 0 (continuous) or at least 2, got 1"),
        (["--g-min", "100uS", "--g-max", "10uS"], "--g-max: must be greater than --g-min"),
        (["--g-min", "1 furlong"], "--g-min: expected a conductance"),
        (["--stuck-on", "1.5"], "--stuck-on: must be in [0, 1], got 1.5"),
        (["--stuck-off=-0.1"], "--stuck-off"),
        (["--tile", "0x0"], "--tile: rows must be at least 2, got 0"),
        (["--tile", "big"], "--tile: expected ROWSxCOLUMNS"),
        (["--dac-bits", "40"], "--dac-bits: must be 2...24"),
        (["--adc-bits", "1"], "--adc-bits: must be 2...24"),
        (["--scaling", "sideways"], "--scaling: expected layer, column"),
        (["--chips", "0"], "--chips: must be positive, got 0"),
        (["--limit", "0"], "--limit: must be positive, got 0"),
        (["--rail=-1"], "--rail: must be a positive voltage"),
        (["--drift-time", "5"], "--drift-time"),
    ]

    @Test(arguments: invalid.indices)
    func invalidParameterIsRejectedNamingTheFlag(index: Int) {
        let (arguments, expected) = Self.invalid[index]
        do {
            _ = try XbarSimCommand.parseAsRoot(["eval"] + arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let message = XbarSimCommand.message(for: error)
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }

    @Test func presetsAndOverridesCombine() throws {
        let command = try XbarSimCommand.parseAsRoot(["eval", "--preset", "rram", "--levels", "0", "--tile", "unlimited"])
        let eval = try #require(command as? XbarSimCommand.Eval)
        let config = try eval.chip.config()
        #expect(config.device.levels == .continuous)
        #expect(config.tile == .unlimited)
        #expect(config.device.variation == Preset.rram.config.device.variation)
    }
}

/// `xbarsim report` rejects bad technology overrides naming the flag and field.
struct ReportOptionsTests {
    @Test(arguments: [
        (["--tech-set", "opAmpPower=1"], "--tech-set: field 'opAmpPower': unknown field"),
        (["--tech-set", "readPulseSeconds=-1"], "--tech-set: field 'readPulseSeconds': must be a finite value >= 0"),
        (["--tech-set", "readPulseSeconds"], "--tech-set: expected field=value"),
        (["--tech", "/nonexistent/tech.json"], "/nonexistent/tech.json: cannot read the file"),
        (["--images", "0"], "--images: must be positive, got 0"),
    ])
    func badOverrideIsRejected(arguments: [String], expected: String) {
        do {
            _ = try XbarSimCommand.parseAsRoot(["report"] + arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let message = XbarSimCommand.message(for: error)
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }

    @Test func paperPresetStartsFromThePaperTechnology() throws {
        let command = try XbarSimCommand.parseAsRoot(["report", "--preset", "paper", "--tech-set", "opAmpStaticPowerWatts=2e-3"])
        let report = try #require(command as? XbarSimCommand.Report)
        let t = try report.technology()
        #expect(t.readPulseSeconds == Technology.paper.readPulseSeconds)
        #expect(t.opAmpStaticPowerWatts == 2e-3)
    }
}

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
        (["--wire-resistance=-1"], "--wire-resistance: must be a finite resistance >= 0 ohms, got -1.0"),
        (["--row-wire-resistance", "nan"], "--row-wire-resistance: must be a finite resistance"),
        (["--column-wire-resistance=-0.5"], "--column-wire-resistance: must be a finite resistance"),
        (["--source-resistance", "inf"], "--source-resistance: must be a finite resistance"),
        (["--wire-resistance", "1e-12"], "--row-wire-resistance: must be 0 or at least 1e-9 ohms"),
        (["--ir-drop", "spice"], "--ir-drop"),
        (["--ir-drop-tolerance", "0"], "--ir-drop-tolerance: must be in (0, 1), got 0.0"),
        (["--ir-drop-tolerance", "2"], "--ir-drop-tolerance: must be in (0, 1)"),
        (["--ir-compensation=-1"], "--ir-compensation: must be in 0...50 iterations, got -1"),
        (["--ir-compensation", "51"], "--ir-compensation: must be in 0...50"),
        (["--ir-compensation", "two"], "--ir-compensation"),
        (["--ir-compensation-window", "stretch"], "--ir-compensation-window"),
        (["--write-verify", "65"], "--write-verify: must be in 0...64 rounds, got 65"),
        (["--write-verify=-2"], "--write-verify: must be in 0...64"),
        (["--write-verify-tolerance", "0"], "--write-verify-tolerance: must be in (0, 1]"),
        (["--write-verify-tolerance", "nan"], "--write-verify-tolerance"),
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

    /// A wire resistance alone selects the fast solver; --ir-drop overrides; row/column flags override --wire-resistance.
    @Test func wireFlagsSetTheCircuitModel() throws {
        func config(_ arguments: [String]) throws -> AnalogConfig {
            let eval = try #require(try XbarSimCommand.parseAsRoot(["eval"] + arguments) as? XbarSimCommand.Eval)
            return try eval.chip.config()
        }
        #expect(try config([]).circuit.irDrop == .off)
        let fast = try config(["--wire-resistance", "1", "--column-wire-resistance", "2", "--source-resistance", "10"])
        #expect(fast.circuit.irDrop == .fast)
        #expect(fast.circuit.wires == WireParameters(rowWireResistanceOhms: 1, columnWireResistanceOhms: 2, sourceResistanceOhms: 10))
        let exact = try config(["--wire-resistance", "0.5", "--ir-drop", "exact", "--ir-drop-tolerance", "1e-8"])
        #expect(exact.circuit.irDrop == .exact && exact.circuit.fastTolerance == 1e-8)
        #expect(try config(["--wire-resistance", "3", "--ir-drop", "off"]).circuit.irDrop == .off)
    }
}

/// `xbarsim sweep` rejects bad specifications before any work, and its parameter table
/// means what the eval flags mean.
struct SweepOptionsTests {
    static let invalid: [([String], String)] = [
        (["--vary", "wobble=1,2"], "--vary: unknown parameter 'wobble' in 'wobble=1,2'"),
        (["--vary", "variation=0.3:0.1:0.1"], "range '0.3:0.1:0.1' for 'variation' is empty"),
        (["--vary", "variation=0:0.3:0"], "step of zero"),
        (["--vary", "variation=-0.5,0"], "variation=-0.5 is rejected: --variation: must be >= 0, got -0.5"),
        (["--vary", "levels=8", "--vary", "levels=16"], "'levels' is varied twice"),
        (["--shard", "4/4", "--vary", "levels=8"], "--shard: I must be in 0...3"),
        ([], "give at least one --vary"),
        (["--vary", "levels=8", "--chips", "0"], "--chips: must be positive"),
        (["--vary", "levels=8", "--images", "0"], "--images: must be positive"),
        (["--vary", "levels=8", "--variation=-1"], "--variation: must be >= 0"),
    ]

    @Test(arguments: invalid.indices)
    func invalidSweepIsRejectedNamingTheBadPart(index: Int) {
        let (arguments, expected) = Self.invalid[index]
        do {
            _ = try XbarSimCommand.parseAsRoot(["sweep", "--out", "/tmp/unused"] + arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let message = XbarSimCommand.message(for: error)
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }

    /// Commands that build chips without calibration refuse `--calibrate` (and `spice` per-column
    /// drift compensation, which its netlists do not carry) with the flag named, instead of ignoring it.
    @Test(arguments: [
        (["diagnose", "--calibrate", "column"], "--calibrate: xbarsim diagnose does not calibrate"),
        (["report", "--calibrate", "bn"], "--calibrate: xbarsim report does not calibrate"),
        (["spice", "--tile", "8x8", "--calibrate", "all"], "--calibrate: xbarsim spice does not calibrate"),
        (["spice", "--tile", "8x8", "--drift-time", "100", "--drift-compensation", "column"], "--drift-compensation:"),
    ])
    func uncalibratedCommandsRefuseCalibration(arguments: [String], expected: String) throws {
        do {
            var command = try XbarSimCommand.parseAsRoot(arguments)
            try command.run()
            Issue.record("\(arguments) was accepted")
        } catch {
            let message = XbarSimCommand.message(for: error)
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }

    /// Sample values for every table entry; `eval --NAME VALUE` and the table must build the same chip.
    static let samples: [String: String] = [
        "g-min": "2uS", "g-max": "50uS", "levels": "16", "variation": "0.07", "variation-distribution": "lognormal",
        "read-noise": "0.03", "stuck-on": "0.002", "stuck-off": "0.004", "drift-time": "7200", "drift-nu": "0.05",
        "drift-nu-sigma": "0.01", "drift-compensation": "global", "mapping": "differential", "scaling": "column",
        "tile": "64x32", "mode": "digitized", "dac-bits": "6", "adc-bits": "7", "rail": "1.2", "opamp-gain": "1000",
        "input-voltage": "0.2", "limiter-offset": "0.01", "maxpool-offset": "0.003", "multiplier-gain-error": "0.02",
        "calibration-images": "64", "calibrate": "all",
        "wire-resistance": "1", "stuck-scope": "batchnorm", "headroom": "0.1", "ir-drop": "exact",
        "pooling-conductance": "10uS", "relu-limit": "0.3", "write-verify": "3", "write-verify-tolerance": "0.05",
        "ir-compensation": "4", "ir-compensation-window": "rescale",
    ]

    @Test func parameterTableAgreesWithTheEvalFlags() throws {
        for parameter in ChipParameter.all {
            let value = try #require(Self.samples[parameter.name], "add a sample value for \(parameter.name)")
            for preset in ["ideal", "rram"] {
                let command = try XbarSimCommand.parseAsRoot(["eval", "--preset", preset, parameter.flag, value])
                let eval = try #require(command as? XbarSimCommand.Eval)
                var viaTable = try #require(Preset(rawValue: preset)).config
                try parameter.apply(value, &viaTable)
                #expect(try eval.chip.config() == viaTable, "\(parameter.name) \(value) on \(preset)")
                if preset == "ideal" {
                    #expect(viaTable != Preset.ideal.config, "the sample for \(parameter.name) changes nothing")
                }
            }
        }
    }

    @Test func presetSweepSetsItsAxesAndTheFlagsTheBase() throws {
        let command = try XbarSimCommand.parseAsRoot(
            ["sweep", "--preset-sweep", "adc-bits", "--preset", "rram", "--stuck-on", "0", "--out", "/tmp/unused"])
        let run = try #require(command as? XbarSimCommand.SweepCommand.Run)
        let design = try run.design()
        #expect(design.axes.map(\.parameter) == ["adc-bits"])
        #expect(design.base.mode == .digitized)
        #expect(design.base.device.stuck.stuckOnFraction == 0)
        #expect(design.base.device.variation == Preset.rram.config.device.variation)
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

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

import ArgumentParser
import Testing
import XbarSim
@testable import xbarsim

/// Hostile command-line values (issue 17): negative numbers parse and are then judged, every
/// count and size is bounded before it can overflow or size an allocation, and physically
/// absurd chip parameters are rejected; each error is one line naming the flag.
struct HostileValuesTests {
    static let invalid: [([String], String)] = [
        // Negative numbers reach the validation (not "Missing value").
        (["eval", "--variation", "-1"], "--variation: must be >= 0"),
        (["eval", "--read-noise", "-inf"], "--read-noise"),
        (["eval", "--threads", "-1"], "--threads: must be in 1...1024, got -1"),
        (["eval", "--limit", "-5"], "--limit: must be positive, got -5"),
        (["eval", "--limiter-offset", "-1e308"], "--limiter-offset: must be in -1...1 V"),
        (["eval", "--relu-limit", "-0.5"], "--relu-limit: must be"),
        (["eval", "--relu-limit", "1e308"], "--relu-limit: must be"),
        (["eval", "--relu-limit", "nan"], "--relu-limit"),
        // Overflowing or enormous counts and sizes.
        (["eval", "--threads", "9223372036854775807"], "--threads: must be in 1...1024"),
        (["eval", "--chips", "9223372036854775807"], "--chips: must be in 1...100000"),
        (["eval", "--batch", "9223372036854775807"], "--batch: must be at most 65536"),
        (["eval", "--limit", "9223372036854775807"], "--limit: must be at most"),
        (["eval", "--tile", "100000x100000"], "--tile: must be in 2...65536"),
        (["eval", "--levels", "9223372036854775807"], "--levels: must be in 2...1048576"),
        (["eval", "--g-max", "1e308"], "--g-max: must be in"),
        (["eval", "--scaling", "1e308"], "--scaling: must be in"),
        (["eval", "--calibration-images", "60000"], "--calibration-images: must be in 1...10000"),
        (["spice", "--tile", "100000x100000"], "--tile: must be in 2...65536 (rows and columns of one crossbar, 2 to 65,536), got 100000"),
        (["spice", "--tile", "65536x65536"], "--tile: a 65536x65536 tile with 1 input vector(s) would need"),
        (["spice", "--tile", "4096x4096", "--wire-resistance", "1", "--check"],
         "--tile: a 4096x4096 tile with 1 input vector(s) and the exact solver would need"),
        (["spice", "--tile", "9223372036854775807x2"], "--tile: must be in 2...65536"),
        (["spice", "--tile", "99999999999999999999x2"], "--tile: expected ROWSxCOLUMNS"),
        (["spice", "--tile", "4x4", "--threads", "0"], "--threads: must be in 1...1024, got 0"),
        (["spice", "--tile", "4x4", "--batch", "9223372036854775807"], "--batch: must be in 1...65536"),
        (["spice", "--modules", "--check", "--points", "9223372036854775807"], "--points: must be in 2...100000"),
        (["spice", "--op", "0", "--image", "9223372036854775807"], "--image: must be in 0...1000000000"),
        (["spice", "--modules"], "--modules compares with the engine: add --check"),
        (["bench", "--tile-batch", "9223372036854775807"], "--tile-batch: must be in 1...65536"),
        (["bench", "--tile-sizes", "100000"], "--tile-sizes: must be in 2...65536, got 100000"),
        (["bench", "--tile-sizes", "65536", "--tile-batch", "65536"], "--tile-sizes: a 65536x65536 tile"),
        (["bench", "--tile-sizes", "128,100000"], "--tile-sizes: must be in 2...65536, got 100000"),
        (["bench", "--chips", "9223372036854775807"], "--chips: must be in 1...100000"),
        (["sweep", "--out", "/tmp/never", "--vary", "variation=0:1:1e-300"], "--vary: range '0:1:1e-300' for 'variation' has"),
        (["sweep", "--out", "/tmp/never", "--vary", "variation=-1e308:1e308:1"], "--vary: range"),
        (["sweep", "--out", "/tmp/never", "--vary", "levels=0:9223372036854775807:1"], "at most 10000"),
        (["sweep", "--out", "/tmp/never", "--vary", "variation=0,1", "--chips", "9223372036854775807"], "--chips: must be in"),
        (["golden", "--tolerance", "-1"], "--tolerance: must be a finite relative error >= 0, got -1.0"),
        (["golden", "--tolerance", "nan"], "--tolerance"),
        // Physically absurd chip parameters.
        (["eval", "--read-noise", "1e308"], "--read-noise: must be in 0...1"),
        (["eval", "--read-noise", "1e155"], "--read-noise: must be in 0...1"),
        (["eval", "--variation", "10"], "--variation: must be in 0...1"),
        (["eval", "--input-voltage", "1e308"], "--input-voltage: must be in 1e-06...10 V"),
        (["eval", "--drift-time", "1e308"], "--drift-time"),
        (["eval", "--limiter-offset", "1e308"], "--limiter-offset: must be in -1...1 V"),
        (["eval", "--source-resistance", "1e308"], "--source-resistance: must be in"),
        (["eval", "--wire-resistance", "1e9"], "--row-wire-resistance: must be in"),
        (["eval", "--multiplier-gain-error", "0.9"], "--multiplier-gain-error: must be in"),
        (["eval", "--opamp-gain", "1e300"], "--opamp-gain: must be in"),
        (["eval", "--rail", "1e300"], "--rail: must be in"),
        (["eval", "--drift-nu", "nan"], "--drift-nu"),
        (["eval", "--ir-drop-tolerance", "1e-300"], "--ir-drop-tolerance: must be in"),
    ]

    @Test(arguments: invalid.indices)
    func hostileValueIsRejectedNamingTheFlag(index: Int) {
        let (arguments, expected) = Self.invalid[index]
        do {
            _ = try XbarSimCommand.parseAsRoot(arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let message = XbarSimCommand.message(for: error)
            #expect(message.contains(expected), "\(arguments): \(message)")
            #expect(!message.contains("Missing value"), "\(arguments): \(message)")
            #expect(!message.contains("\n"), "\(arguments): a one-line message, got \(message)")
        }
    }

    @Test func largeButFeasibleTilesAreAccepted() throws {
        _ = try XbarSimCommand.parseAsRoot(["bench", "--tile-only", "--tile-sizes", "128,1024,2048"])
        _ = try XbarSimCommand.parseAsRoot(["spice", "--tile", "2048x2048"])
    }

    @Test func negativeZeroIsZero() throws {
        let command = try XbarSimCommand.parseAsRoot(["eval", "--variation", "-0", "--read-noise", "-0", "--limiter-offset", "-0"])
        let eval = try #require(command as? XbarSimCommand.Eval)
        let config = try eval.chip.config()
        #expect(config.device.variation.relativeSigma.sign == .plus)
        #expect(config.device.readNoise.relativeSigma.sign == .plus)
        #expect(config.periphery.limiterOffsetVolts.sign == .plus)
    }

    @Test func negativeValuesWhereTheyAreValidParse() throws {
        let command = try XbarSimCommand.parseAsRoot(["eval", "--limiter-offset", "-0.01", "--multiplier-gain-error", "-0.1"])
        let eval = try #require(command as? XbarSimCommand.Eval)
        let config = try eval.chip.config()
        #expect(config.periphery.limiterOffsetVolts == -0.01)
        #expect(config.periphery.multiplierGainError == -0.1)
    }
}

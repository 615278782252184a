import ArgumentParser
import Testing
import XbarSim
@testable import xbarsim

/// `xbarsim spice` rejects contradictory or malformed requests before any work, naming the flag.
struct SpiceOptionsTests {
    static let invalid: [([String], String)] = [
        ([], "give --tile RxC (a random tile), --op NAME|INDEX|all or --modules"),
        (["--op", "3", "--modules"], "give one of --op NAME|INDEX|all and --modules"),
        (["--tile", "unlimited"], "give --tile RxC"),
        (["--tile", "4x4", "--wire-resistance=-1"], "--wire-resistance: must be a finite resistance >= 0 ohms, got -1.0"),
        (["--tile", "4x4", "--batch", "0"], "--batch: must be positive, got 0"),
        (["--op", "3", "--channels", "zero"], "--channels: expected a positive number or 'all', got 'zero'"),
        (["--modules", "--points", "1"], "--points: must be at least 2, got 1"),
    ]

    @Test(arguments: invalid.indices)
    func invalidRequestIsRejectedNamingTheFlag(index: Int) {
        let (arguments, expected) = Self.invalid[index]
        do {
            _ = try XbarSimCommand.Spice.parse(arguments)
            Issue.record("accepted \(arguments)")
        } catch {
            let message = XbarSimCommand.Spice.message(for: error)
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }

    @Test func validRequestsParse() throws {
        _ = try XbarSimCommand.Spice.parse(["--tile", "8x8", "--wire-resistance", "1", "--check"])
        _ = try XbarSimCommand.Spice.parse(["--op", "all", "--channels", "all", "--positions", "1"])
    }
}

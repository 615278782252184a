import Foundation
import Testing
@testable import XbarSim

/// Every chip parameter has a documented physical range, enforced by `AnalogConfig.validate()`.
struct PhysicalRangeTests {
    @Test func presetsAreInsideEveryRange() throws {
        for preset in Preset.allCases { try preset.config.validate() }
    }

    @Test(arguments: PhysicalRange.all.indices)
    func outsideValuesAreRejectedNamingTheFlag(index: Int) throws {
        let range = PhysicalRange.all[index]
        // A config where the parameter is on, then pushed outside its range each way and to NaN/inf.
        for bad in [range.high * 10 + 1, -range.high * 10 - 1, .nan, .infinity, -.infinity, 1e308] {
            guard var c = Self.config(setting: range.flag, to: bad) else { continue }
            c = c.normalizingNegativeZeros()
            let message = errorMessage { try c.validate() }
            #expect(!message.isEmpty, "\(range.flag) = \(bad) was accepted")
        }
        // The bounds themselves are accepted.
        for good in [range.low, range.high] {
            guard let c = Self.config(setting: range.flag, to: good) else { continue }
            let message = errorMessage { try c.validate() }
            #expect(message.isEmpty || !message.hasPrefix(range.flag + ": must be in"), "\(range.flag) = \(good): \(message)")
        }
    }

    /// `Preset.ideal` with one parameter set (through the sweep's parameter table where it has one).
    static func config(setting flag: String, to value: Double) -> AnalogConfig? {
        var c = Preset.ideal.config
        let name = String(flag.dropFirst(2))
        switch name {
        case "row-wire-resistance": c.circuit.wires.rowWireResistanceOhms = value; c.circuit.irDrop = .fast
        case "column-wire-resistance": c.circuit.wires.columnWireResistanceOhms = value; c.circuit.irDrop = .fast
        case "source-resistance": c.circuit.wires.sourceResistanceOhms = value; c.circuit.irDrop = .fast
        case "ir-drop-tolerance": c.circuit.fastTolerance = value
        case "tile":
            guard value.isFinite, abs(value) < 1e12 else { return nil }
            c.tile = TileSize(rows: Int(value), columns: Int(value))
        case "levels":
            guard value.isFinite, abs(value) < 1e12 else { return nil }
            c.device.levels = .uniform(count: Int(value))
        case "calibration-images":
            guard value.isFinite, abs(value) < 1e12 else { return nil }
            c.calibrationImages = Int(value)
        case "write-verify":
            guard value.isFinite, abs(value) < 1e12 else { return nil }
            c.device.writeVerify.iterations = Int(value)
        case "ir-compensation":
            guard value.isFinite, abs(value) < 1e12 else { return nil }
            c.irCompensation.iterations = Int(value)
        case "scaling": c.scaling = .fixed(siemensPerUnit: value)
        case "rail": c.periphery.opAmp.railVolts = value
        case "opamp-gain": c.periphery.opAmp.openLoopGain = value
        case "drift-time": c.device.drift.timeSeconds = value
        case "g-min": c.device.window = ConductanceWindow(gMinSiemens: value, gMaxSiemens: 2e3)
        default:
            guard let p = ChipParameter.named(name) else { return nil }
            do { try p.apply(value.isFinite ? "\(value)" : "1e999", &c) } catch { return nil }
            if !value.isFinite, name != "g-max" { return nil }
        }
        return c
    }

    @Test func hugeReadNoiseIsRejectedNotSilentlyOff() {
        var c = Preset.rram.config
        c.device.readNoise.relativeSigma = 1e308
        #expect(errorMessage { try c.validate() }.hasPrefix("--read-noise: must be in 0...1"))
        c.device.readNoise.relativeSigma = 1
        #expect(errorMessage { try c.validate() }.isEmpty)
    }

    @Test func documentationListsEveryRange() throws {
        let doc = try String(contentsOfFile: repositoryRoot + "/docs/devices.md", encoding: .utf8)
        let section = try #require(doc.range(of: "## Accepted ranges"))
        let table = doc[section.upperBound...]
        for range in PhysicalRange.all {
            #expect(table.contains("`\(range.flag)`"), "docs/devices.md has no range row for \(range.flag)")
        }
    }
}

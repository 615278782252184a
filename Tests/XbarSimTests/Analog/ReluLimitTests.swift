import Foundation
import Testing
@testable import XbarSim

/// `--relu-limit V_p`: every analog ReLU is `min(max(x, δ), V_p + δ, rail)` in volts.
struct ReluLimitTests {
    static func chip(limit: Double?, offset: Double, rail: Double?) throws -> (AnalogChip, Tensor) {
        let op = Op(name: "relu", path: "relu", kind: .relu, inputs: [0], outputShape: [1, 1, 61])
        let graph = Graph(inputShape: [1, 1, 61], ops: [op], outputIndex: 0)
        let x = Tensor(shape: [1, 1, 61, 1], scalars: (0..<61).map { Float($0 - 30) / 10 })
        var config = Preset.ideal.config
        config.periphery.reluLimitVolts = limit
        config.periphery.limiterOffsetVolts = offset
        config.periphery.opAmp.railVolts = rail
        let calibration = Calibration(maxAbs: [3, 3], images: 1)
        return (try AnalogChip(graph: graph, config: config, seed: 0, chip: 0, inputMaxAbs: 3, calibration: calibration), x)
    }

    /// Against the closed form in volts, computed here in double precision from the chip's volts per unit.
    @Test(arguments: [(0.05, 0.0, nil), (0.05, 0.004, nil), (0.08, 0.002, 0.06), (1.0, 0.0, nil)] as [(Double, Double, Double?)])
    func reluIsLimitedAtVp(limit: Double, offset: Double, rail: Double?) throws {
        let (chip, x) = try Self.chip(limit: limit, offset: offset, rail: rail)
        let u = chip.voltsPerUnit
        #expect(abs(u - 0.1 / 3) < 1e-12)
        let y = try chip.run(x, firstImage: 0, threads: 1)
        var clipped = 0
        for (xi, yi) in zip(x.scalars, y.scalars) {
            let volts = min(max(Double(xi) * u, offset), limit + offset, rail ?? .infinity)
            if Double(xi) * u > min(limit + offset, rail ?? .infinity) { clipped += 1 }
            #expect(abs(Double(yi) - volts / u) <= 1e-6, "x = \(xi): \(yi) vs \(volts / u)")
        }
        // 1 V is beyond every input (0.1 V at 3 units): nothing clipped; the others clip.
        #expect(limit >= 1 ? clipped == 0 : clipped >= 5, "\(clipped) clipped")
        // Without the limiter the ReLU is unchanged.
        let (plain, _) = try Self.chip(limit: nil, offset: offset, rail: rail)
        let free = try plain.run(x, firstImage: 0, threads: 1)
        for (xi, yi) in zip(x.scalars, free.scalars) {
            #expect(abs(Double(yi) - min(max(Double(xi) * u, offset), rail ?? .infinity) / u) <= 1e-6)
        }
    }

    /// The op-level netlist (precision clamps at δ and min(V_p + δ, rail)) through ngspice.
    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"))
    func reluOpNetlistMatchesNgspice() throws {
        let ngspice = try #require(testNgspice)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (limit, offset, rail) in [(0.05, 0.002, nil), (0.08, 0.0, 0.06)] as [(Double, Double, Double?)] {
            let (chip, x) = try Self.chip(limit: limit, offset: offset, rail: rail)
            let item = try ModuleCheck.check(chip: chip, op: 0, image: x, firstImage: 0,
                                             selection: LayerSelection(channels: nil, positions: nil), ngspice: ngspice,
                                             path: dir + "/relu.cir", threads: 1)
            #expect(item.values == 61)
            #expect(item.relativeError <= 1e-6, "V_p \(limit), δ \(offset), rail \(String(describing: rail)): \(item.relativeError)")
        }
    }

    @Test func badLimitIsRejectedNamingTheFlag() {
        for bad in [-0.1, 0, .nan, 20] {
            var config = Preset.ideal.config
            config.periphery.reluLimitVolts = bad
            #expect(errorMessage { try config.validate() }.contains("--relu-limit"), "\(bad)")
        }
    }
}

import Foundation
import Testing
@testable import XbarSim

struct ModuleCircuitTests {
    static func nonIdealConfig() -> AnalogConfig {
        var c = Preset.ideal.config
        c.periphery.opAmp = OpAmp(railVolts: 0.12, openLoopGain: 1e4)
        c.periphery.limiterOffsetVolts = 0.002
        c.periphery.multiplierGainError = 0.01
        c.periphery.maxPoolOffsetVolts = 0.003
        c.mapping = .differential
        c.tile = TileSize(argument: "8x8") ?? .unlimited
        return c
    }

    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"), arguments: [false, true])
    func moduleCircuitsMatchTheEngine(nonIdeal: Bool) throws {
        let ngspice = try #require(testNgspice)
        let config = nonIdeal ? Self.nonIdealConfig() : Preset.ideal.config
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let items = try ModuleCheck.run(config: config, voltsPerUnit: 0.05, points: 41, ngspice: ngspice, directory: dir)
        #expect(Set(items.map(\.name)).isSuperset(of: ["relu", "hardsigmoid", "hardswish", "add", "mul"]))
        #expect(items.contains { $0.name.contains("max_pool2d") } && items.contains { $0.name.contains("clamp") })
        #expect(items.contains { $0.name == "relu-limit" })
        #expect(items.count == 11)
        for item in items {
            #expect(item.relativeError <= 1e-4, "\(item.name): \(item.relativeError) (max abs \(item.maxAbsoluteError))")
            #expect(item.values >= 8 && item.scale > 0)
        }
        // The diode ReLU with its output limiter at V_p (docs/shufflenetv2.md) to 1e-6.
        let limited = try #require(items.first { $0.name == "relu-limit" })
        #expect(limited.relativeError <= 1e-6, "relu-limit: \(limited.relativeError)")
    }
}

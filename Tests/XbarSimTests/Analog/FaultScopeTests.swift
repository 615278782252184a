import Testing
@testable import XbarSim

struct FaultScopeTests {
    func programmed(_ config: AnalogConfig) throws -> [Double] {
        let g = Conv2DGeometry(inChannels: 4, outChannels: 2, kernel: (1, 1), input: (1, 1))
        let m = CrossbarMatrix(inputs: 4, outputs: 2, weights: [0.5, -0.25, 1, 0, -1, 0.75, 0.2, 0.1], bias: nil)
        let layer = try CrossbarLayer(geometry: g, matrix: m, config: config, seed: 3, key: [0, 1])
        return layer.programmed.positiveSiemens + layer.programmed.negativeSiemens
    }

    /// Every device stuck on: crossbars inside the scope read G_max wherever a device
    /// sits; crossbars outside it are programmed exactly as without faults.
    @Test(arguments: FaultScope.allCases)
    func faultsOnlyInsideTheScope(scope: FaultScope) throws {
        var config = AnalogConfig()
        config.device.window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let clean = try programmed(config)
        config.device.stuck = StuckFaults(stuckOnFraction: 1, stuckOffFraction: 0)
        config.faultScope = scope
        for bn in [false, true] {
            let g = try programmed(config.forCrossbar(batchNormStage: bn))
            if scope.includes(batchNormStage: bn) {
                #expect(zip(g, clean).allSatisfy { $1 == 0 || $0 == 100e-6 }, "scope \(scope), bn \(bn)")
                #expect(g != clean)
            } else {
                #expect(g == clean, "scope \(scope), bn \(bn)")
            }
        }
        #expect(FaultScope.weights.includes(batchNormStage: false) && !FaultScope.weights.includes(batchNormStage: true))
    }
}

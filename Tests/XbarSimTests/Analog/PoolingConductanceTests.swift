import Testing
@testable import XbarSim

/// `--pooling-conductance`: the global-average-pooling crossbars' devices at a chosen conductance.
struct PoolingConductanceTests {
    static let input = Tensor(shape: [2, 4, 4, 3], scalars: (0..<96).map { Float(($0 * 37) % 19) / 10 - 0.9 })

    static func chip(_ config: AnalogConfig) throws -> AnalogChip {
        let graph = tinyModel().graph
        return try AnalogChip(graph: graph, config: config, seed: 3, chip: 0, inputMaxAbs: 2,
                              calibration: Calibration.measure(graph: graph, batch: input, threads: 1))
    }

    /// The GAP layers of a chip (op name, layer).
    static func pools(_ chip: AnalogChip) -> [CrossbarLayer] {
        zip(chip.graph.ops, chip.stages).compactMap { op, stage in
            guard case .globalAveragePool = op.kind, case .crossbar(let layer) = stage else { return nil }
            return layer
        }
    }

    @Test(arguments: [MappingScheme.paper, .differential])
    func poolingDevicesSitAtTheRequestedConductance(scheme: MappingScheme) throws {
        var c = Preset.ideal.config
        c.mapping = scheme
        c.poolingConductanceSiemens = 7e-6
        try c.validate()
        let pools = Self.pools(try Self.chip(c))
        #expect(pools.count == 2)
        for layer in pools {
            // paper: G⁺ = 7 µS for every (positive) weight; differential: G⁺ = 7 µS, G⁻ = G_min.
            let placed = layer.mapped.positiveSiemens.filter { $0 > 0 }
            #expect(!placed.isEmpty && placed.allSatisfy { abs($0 - 7e-6) <= 1e-15 })
        }
        // Other crossbars keep the default mapping (largest weight at G_max).
        let firstConv = try #require(Self.chip(c).stages.first.flatMap { stage -> CrossbarLayer? in
            if case .crossbar(let l) = stage { return l } else { return nil }
        })
        let gMax = c.device.window.gMaxSiemens
        let top = max(firstConv.mapped.positiveSiemens.max() ?? 0, firstConv.mapped.negativeSiemens.max() ?? 0)
        #expect(abs(top - gMax) <= 1e-12)
    }

    /// Ideal devices: the pooling conductance changes nothing in the outputs (the TIA gain follows).
    @Test func idealOutputsDoNotDependOnIt() throws {
        var low = Preset.ideal.config
        low.poolingConductanceSiemens = 2e-6
        let a = try Self.chip(Preset.ideal.config).run(Self.input, firstImage: 0, threads: 1)
        let b = try Self.chip(low).run(Self.input, firstImage: 0, threads: 1)
        #expect(GoldenCheck.relativeError(b.scalars, a.scalars) <= 1e-5)
    }

    /// With column wires, lower pooling conductance means less IR drop in the GAP columns.
    @Test func lowerConductanceCutsTheIRDropError() throws {
        var c = Preset.ideal.config
        c.circuit.wires = WireParameters(rowWireResistanceOhms: 0, columnWireResistanceOhms: 50)
        c.circuit.irDrop = .exact
        let atTop = Self.pools(try Self.chip(c)).compactMap { $0.irDropWeightError() }
        c.poolingConductanceSiemens = 10e-6
        let low = Self.pools(try Self.chip(c)).compactMap { $0.irDropWeightError() }
        #expect(atTop.count == 2 && low.count == 2)
        for (high, lowered) in zip(atTop, low) {
            #expect(lowered < high / 5, "\(lowered) vs \(high)")   // ~10x less current per column
        }
    }

    @Test func outOfWindowValuesAreRejectedNamingTheFlag() {
        var c = Preset.rram.config
        c.poolingConductanceSiemens = 1   // 1 S, far above G_max
        #expect(throws: DeviceParameterError.self) { try c.validate() }
        do { try c.validate() } catch { #expect("\(error)".contains("--pooling-conductance")) }
        c.mapping = .differential
        c.poolingConductanceSiemens = c.device.window.gMinSiemens   // differential needs > G_min
        #expect(throws: DeviceParameterError.self) { try c.validate() }
    }
}

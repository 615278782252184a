import Foundation
import Testing
@testable import XbarSim

/// The mapping comparison's verdict and the op-amp counts' JSON, against hand values.
struct MappingComparisonTests {
    static func row(_ mapping: MappingScheme, tias: Int, inputInverters: Int, subtractors: Int = 0) -> MappingComparisonRow {
        var o = OpAmpCounts()
        o.tias = tias
        o.inputInverters = inputInverters
        o.subtractors = subtractors
        return MappingComparisonRow(mapping: mapping, opAmps: o.total, opAmpsByRole: o, crossbarOpAmps: o.crossbarOpAmps,
                                    memristors: 0, crossbarRows: 0, tiles: 0, energyPerImageJoules: 0, energy: EnergyBreakdown(),
                                    latencySeconds: 0, accuracy: 0)
    }

    @Test func verdictFollowsTheMeasuredRatio() {
        // 100 TIAs + 30 inverters against 2 x 100 TIAs: 0.65, not halved.
        let c = Evaluation.mappingComparison(rows: [Self.row(.paper, tias: 100, inputInverters: 30),
                                                    Self.row(.differential, tias: 200, inputInverters: 0, subtractors: 100)],
                                             model: "m", preset: nil, layout: .spatiallyUnrolled, schedule: .layerByLayer, images: 1)
        #expect(c.twoTIACrossbarOpAmps == 200)
        #expect(abs(c.paperOverTwoTIA - 0.65) < 1e-12 && c.paperTIAsOverTwoTIA == 0.5)
        #expect(c.verdict.hasPrefix("does not hold") && c.verdict.contains("130 = 100 TIAs + 30 inverters"))
        // Drift gain stages are left out of both sides.
        var withGains = Self.row(.paper, tias: 100, inputInverters: 30)
        withGains.opAmpsByRole.driftGainStages = 100
        let g = Evaluation.mappingComparison(rows: [withGains], model: "m", preset: nil, layout: .spatiallyUnrolled,
                                             schedule: .layerByLayer, images: 1)
        #expect(abs(g.paperOverTwoTIA - 0.65) < 1e-12 && g.verdict.contains("100 drift gain stages"))
        // Without inverters (e.g. every weight negative) the claim holds exactly.
        let h = Evaluation.mappingComparison(rows: [Self.row(.paper, tias: 100, inputInverters: 0)],
                                             model: "m", preset: nil, layout: .weightStationary, schedule: .layerByLayer, images: 1)
        #expect(h.paperOverTwoTIA == 0.5 && h.verdict.hasPrefix("holds"))
    }

    /// Reports written before a role or energy component existed decode with it at 0; new
    /// ones round-trip.
    @Test func countsAndBreakdownDecodeOldAndNewJSON() throws {
        let old = Data(#"{"tias": 4, "subtractors": 1, "inverters": 2, "batchNorm": 8, "activation": 3, "summers": 5, "multipliers": 6}"#.utf8)
        let o = try JSONDecoder().decode(OpAmpCounts.self, from: old)
        #expect(o.tias == 4 && o.batchNorm == 8 && o.multipliers == 6)
        #expect(o.inputInverters == 0 && o.clamps == 0 && o.summerInverters == 0 && o.maxPool == 0)
        #expect(o.total == 4 + 1 + 2 + 8 + 3 + 5)
        var n = o
        n.inputInverters = 7
        n.clamps = 9
        n.batchNormInputInverters = 11
        n.driftGainStages = 2
        n.summerInverters = 1
        #expect(try JSONDecoder().decode(OpAmpCounts.self, from: JSONEncoder().encode(n)) == n)
        #expect(n.total == o.total + 7 + 9 + 11 + 2 + 1)
        let oldEnergy = Data(#"{"crossbarReadJoules": 1, "wireJoules": 0, "opAmpJoules": 2, "multiplierJoules": 0, "dacJoules": 0, "adcJoules": 3}"#.utf8)
        var e = try JSONDecoder().decode(EnergyBreakdown.self, from: oldEnergy)
        #expect(e.totalJoules == 6 && e.driverJoules == 0 && e.tiaJoules == 0)
        e.driverJoules = 0.5
        e.tiaJoules = 0.25
        #expect(e.totalJoules == 6.75)
        #expect(try JSONDecoder().decode(EnergyBreakdown.self, from: JSONEncoder().encode(e)) == e)
        // A technology written before the supply voltages existed keeps their defaults.
        let oldTech = Data(#"{"opAmpStaticPowerWatts": 0.001, "opAmpPowerGating": true}"#.utf8)
        let t = try JSONDecoder().decode(Technology.self, from: oldTech)
        #expect(t.opAmpStaticPowerWatts == 0.001 && t.opAmpPowerGating && t.driverSupplyVolts == 1.8 && t.tiaSupplyVolts == 1.8)
        var u = Technology.paper
        u.tiaSupplyVolts = 0.9
        #expect(try JSONDecoder().decode(Technology.self, from: JSONEncoder().encode(u)) == u)
    }
}

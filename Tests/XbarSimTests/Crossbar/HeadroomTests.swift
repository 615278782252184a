import Foundation
import Testing
@testable import XbarSim

struct HeadroomTests {
    /// Headroom h maps the largest |weight| to G_max/(1+h), for both schemes and scalings.
    @Test(arguments: [MappingScheme.paper, .differential], [WeightScaling.perLayer, .perColumn])
    func largestWeightSitsBelowGMax(scheme: MappingScheme, scaling: WeightScaling) {
        let m = CrossbarMatrix(inputs: 3, outputs: 2, weights: [0.2, -0.1, 0, 0, 0.05, -0.4], bias: nil)
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let plain = MappedCrossbar.map(m, scheme: scheme, scaling: scaling, window: window)
        let spaced = MappedCrossbar.map(m, scheme: scheme, scaling: scaling, window: window, headroom: 0.25)
        let top = (spaced.positiveSiemens + spaced.negativeSiemens).max() ?? 0
        let expected = scheme == .paper ? 100e-6 / 1.25 : 1e-6 + 99e-6 / 1.25
        #expect(abs(top - expected) <= 1e-15)
        #expect(((plain.positiveSiemens + plain.negativeSiemens).max() ?? 0) > top)
        // The represented weights are unchanged.
        let (a, b) = (plain.representedWeights().weights, spaced.representedWeights().weights)
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-6) }
    }

    /// Configurations stored before a field existed still decode, with its default.
    @Test func olderConfigurationsDecode() throws {
        var config = Preset.rram.config
        config.mappingHeadroom = 0.3
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any])
        json.removeValue(forKey: "mappingHeadroom")
        json.removeValue(forKey: "faultScope")
        let decoded = try JSONDecoder().decode(AnalogConfig.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(decoded.mappingHeadroom == 0)
        #expect(decoded.faultScope == .all)
        #expect(decoded.device == config.device && decoded.tile == config.tile)
    }
}

import Foundation
import Testing
@testable import XbarSim

struct TechnologyTests {
    @Test func defaultFileMatchesDefaultsInCode() throws {
        // Start from zeros so every field must come from the file.
        var zero = Technology()
        for name in Technology.fieldNames where name != "opAmpPowerGating" { try zero.set(name, to: "0.5", source: "test") }
        try zero.set("opAmpPowerGating", to: "true", source: "test")
        let t = try zero.applying(file: repositoryRoot + "/docs/technology-default.json")
        #expect(t == Technology.default)
    }

    @Test func partialFileOverridesOnlyItsFields() throws {
        let json = #"{"opAmpStaticPowerWatts": 1e-4, "opAmpPowerGating": true}"#
        let t = try Technology.default.applying(json: Data(json.utf8), source: "t.json")
        #expect(t.opAmpStaticPowerWatts == 1e-4)
        #expect(t.opAmpPowerGating)
        #expect(t.adcEnergyPerConversionJoules == Technology.default.adcEnergyPerConversionJoules)
    }

    @Test(arguments: [
        (#"{"opAmpPowerWatts": 1}"#, "t.json: field 'opAmpPowerWatts': unknown field"),
        (#"{"readPulseSeconds": "fast"}"#, "t.json: field 'readPulseSeconds': expected a number, got \"fast\""),
        (#"{"readPulseSeconds": true}"#, "t.json: field 'readPulseSeconds': expected a number, got true"),
        (#"{"opAmpPowerGating": 1}"#, "t.json: field 'opAmpPowerGating': expected true or false, got 1.0"),
        (#"{"adcEnergyPerConversionJoules": -1e-12}"#, "t.json: field 'adcEnergyPerConversionJoules': must be a finite value >= 0"),
        (#"[1, 2]"#, "t.json: expected a JSON object"),
        (#"{"readPulseSeconds": 0, "deviceResponseSeconds": 0, "opAmpSettlingSeconds": 0}"#,
         "t.json: field 'readPulseSeconds': a crossbar read must take some time"),
    ])
    func badFileNamesFileAndField(json: String, expected: String) {
        let message = errorMessage { _ = try Technology.default.applying(json: Data(json.utf8), source: "t.json") }
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test func missingFileIsNamed() {
        let message = errorMessage { _ = try Technology.default.applying(file: "/nonexistent/tech.json") }
        #expect(message == "/nonexistent/tech.json: cannot read the file")
    }

    @Test func commandLineOverride() throws {
        var t = Technology.default
        try t.set("adcEnergyPerConversionJoules", to: "2e-12", source: "--tech-set")
        #expect(t.adcEnergyPerConversionJoules == 2e-12)
        let message = errorMessage { try t.set("adcEnergy", to: "1", source: "--tech-set") }
        #expect(message.hasPrefix("--tech-set: field 'adcEnergy': unknown field"))
        #expect(errorMessage { try t.set("opAmpPowerGating", to: "maybe", source: "--tech-set") }
            == "--tech-set: field 'opAmpPowerGating': expected true or false, got 'maybe'")
    }

    @Test func readLastsAtLeastResponsePlusSettling() {
        var t = Technology()
        t.readPulseSeconds = 1e-9
        t.deviceResponseSeconds = 0.1e-9
        t.opAmpSettlingSeconds = 2e-9
        #expect(abs(t.crossbarReadSeconds - 2.1e-9) < 1e-21)
        t.readPulseSeconds = 10e-9
        #expect(t.crossbarReadSeconds == 10e-9)
    }
}

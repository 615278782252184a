import Testing
import XbarSimDevice

struct DeviceValidationTests {
    static func model(_ edit: (inout DeviceModel) -> Void) -> DeviceModel {
        var m = DeviceModel()
        edit(&m)
        return m
    }

    static let cases: [(DeviceModel, String)] = [
        (model { $0.variation.relativeSigma = -0.1 }, "--variation: must be >= 0, got -0.1"),
        (model { $0.variation.relativeSigma = .infinity }, "--variation: must be finite, got inf"),
        (model { $0.levels = .uniform(count: 1) }, "--levels: must be 0 (continuous) or at least 2, got 1"),
        (model { $0.levels = ConductanceLevels(cliValue: -3) }, "--levels: must be 0 (continuous) or at least 2, got -3"),
        (model { $0.window = ConductanceWindow(gMinSiemens: 1e-4, gMaxSiemens: 1e-5) },
         "--g-max: must be greater than --g-min, got --g-min 0.0001 S, --g-max 1e-05 S"),
        (model { $0.window = ConductanceWindow(gMinSiemens: 1e-5, gMaxSiemens: 1e-5) },
         "--g-max: must be greater than --g-min, got --g-min 1e-05 S, --g-max 1e-05 S"),
        (model { $0.window.gMinSiemens = -1e-6 }, "--g-min: must be finite and >= 0 S, got -1e-06 S"),
        (model { $0.window.gMaxSiemens = .nan }, "--g-max: must be finite, got nan S"),
        (model { $0.stuck.stuckOnFraction = 1.5 }, "--stuck-on: must be in [0, 1], got 1.5"),
        (model { $0.stuck.stuckOffFraction = -0.1 }, "--stuck-off: must be in [0, 1], got -0.1"),
        (model { $0.stuck = StuckFaults(stuckOnFraction: 0.6, stuckOffFraction: 0.5) },
         "--stuck-off: --stuck-on + --stuck-off must be <= 1, got 0.6 + 0.5"),
        (model { $0.readNoise.relativeSigma = -0.01 }, "--read-noise: must be >= 0, got -0.01"),
        (model { $0.drift.timeSeconds = 10 }, "--drift-time: must be finite and >= the reference time t0 = 20.0 s, got 10.0 s"),
        (model { $0.drift.referenceTimeSeconds = 0 }, "--drift-time: the reference time t0 must be finite and > 0 s, got 0.0 s"),
        (model { $0.drift.nuMean = -0.1 }, "--drift-nu: must be >= 0, got -0.1"),
        (model { $0.drift.nuSigma = -0.2 }, "--drift-nu-sigma: must be >= 0, got -0.2"),
    ]

    @Test(arguments: cases)
    func invalidParametersNameTheirFlag(model: DeviceModel, message: String) {
        let error = #expect(throws: DeviceParameterError.self) { try model.validate() }
        #expect(error?.description == message)
    }

    @Test func boundaryValuesAreValid() throws {
        try Self.model { $0.stuck = StuckFaults(stuckOnFraction: 0.5, stuckOffFraction: 0.5) }.validate()
        try Self.model { $0.levels = .uniform(count: 2); $0.window.gMinSiemens = 0 }.validate()
        try Self.model { $0.drift.timeSeconds = 20 }.validate()
        #expect(DeviceParameterError(parameter: "--levels", message: "m").description == "--levels: m")
    }
}

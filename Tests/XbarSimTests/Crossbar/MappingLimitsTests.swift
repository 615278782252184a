import Testing
@testable import XbarSim

/// Bias rows are counted before mapping: an absurd scaling or model cannot size an enormous crossbar.
struct MappingLimitsTests {
    static let matrix = CrossbarMatrix(inputs: 2, outputs: 2, weights: [0.5, -0.25, 1, 0.1], bias: [0.2, -3])

    @Test func ordinaryLayersPass() throws {
        for scaling in [WeightScaling.perLayer, .perColumn, .fixed(siemensPerUnit: 1e-5)] {
            try MappedCrossbar.checkMappable(Self.matrix, scheme: .paper, scaling: scaling, window: ConductanceWindow(),
                                             name: "op")
        }
    }

    @Test func hugeFixedScalingIsAnErrorNotAnAllocation() {
        let message = errorMessage {
            try MappedCrossbar.checkMappable(Self.matrix, scheme: .paper, scaling: .fixed(siemensPerUnit: 1e3),
                                             window: ConductanceWindow(gMinSiemens: 0, gMaxSiemens: 1e-12), name: "op 3")
        }
        #expect(message.hasPrefix("op 3: output 0 would need"), "\(message)")
        #expect(message.contains("lower --scaling"))
    }

    @Test func nonFiniteOrOutsizedModelValuesAreErrors() {
        let nan = CrossbarMatrix(inputs: 1, outputs: 1, weights: [.nan], bias: nil)
        #expect(errorMessage {
            try MappedCrossbar.checkMappable(nan, scheme: .paper, scaling: .perLayer, window: ConductanceWindow(), name: "op")
        }.contains("non-finite weight"))
        let hugeBias = CrossbarMatrix(inputs: 1, outputs: 1, weights: [1e-30], bias: [1e30])
        #expect(errorMessage {
            try MappedCrossbar.checkMappable(hugeBias, scheme: .paper, scaling: .perLayer, window: ConductanceWindow(), name: "op")
        }.contains("bias rows"))
    }
}

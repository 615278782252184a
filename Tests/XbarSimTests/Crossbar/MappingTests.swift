import Testing
@testable import XbarSim

struct MappingTests {
    /// The reference design's sign handling on a hand-computed 3x2 example.
    ///
    /// Weights (outputs x inputs) [[0.2, -0.1, 0], [0, 0.05, -0.2]], fixed scaling 1 S per unit
    /// (conductance = |weight| in siemens). Positive weights sit on the inverted (−x) rows,
    /// negative ones on the direct (+x) rows; zero weights get no device. With inputs
    /// x = (1, 2, 3) volts the column currents into the virtual ground are
    ///   I0 = −1·0.2 + 2·0.1 = 0                 (−x·G⁺ + x·G⁻)
    ///   I1 = −2·0.05 + 3·0.2 = 0.5 A
    /// and the TIA (R_f = 1/s = 1 Ω, inverting) outputs V = −R_f·I = (0, −0.5),
    /// which equals W·x = (0.2 − 0.2 + 0, 0.1 − 0.6) = (0, −0.5).
    @Test func paperSchemeSignHandling() {
        let m = CrossbarMatrix(inputs: 3, outputs: 2, weights: [0.2, -0.1, 0, 0, 0.05, -0.2], bias: nil)
        let window = ConductanceWindow(gMinSiemens: 0, gMaxSiemens: 10)
        let mapped = MappedCrossbar.map(m, scheme: .paper, scaling: .fixed(siemensPerUnit: 1), window: window)
        // G⁺ (on −x rows) and G⁻ (on +x rows), outputs x rows.
        #expect(mapped.positiveSiemens.map { Float($0) } == [0.2, 0, 0, 0, 0.05, 0])
        #expect(mapped.negativeSiemens.map { Float($0) } == [0, 0.1, 0, 0, 0, 0.2])
        #expect(mapped.deviceCount == 4)          // the two zero weights get no device
        #expect(mapped.biasRows == 0)
        let x: [Double] = [1, 2, 3]
        for o in 0..<2 {
            var current = 0.0
            for i in 0..<3 {
                current += -x[i] * mapped.positiveSiemens[o * 3 + i] + x[i] * mapped.negativeSiemens[o * 3 + i]
            }
            let v = -current / mapped.siemensPerUnit[o]   // TIA with R_f = 1/s
            #expect(abs(v - [0, -0.5][o]) < 1e-7)   // weights are float32: 1e-7 relative
        }
    }

    @Test func differentialSchemeUsesTwoDevicesPerWeightWithGMinOffsets() {
        let m = CrossbarMatrix(inputs: 2, outputs: 1, weights: [0.5, -0.25], bias: [0.1])
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 101e-6)
        let mapped = MappedCrossbar.map(m, scheme: .differential, scaling: .perLayer, window: window)
        // s = (G_max − G_min)/max|w| = 100 µS / 0.5 = 200 µS per unit.
        #expect(abs(mapped.siemensPerUnit[0] - 200e-6) < 1e-15)
        // Rows: two inputs and one bias row (0.1·200 µS = 20 µS fits one device).
        #expect(mapped.biasRows == 1)
        let expectedPositive = [101e-6, 1e-6, 21e-6]
        let expectedNegative = [1e-6, 51e-6, 1e-6]
        for r in 0..<3 {
            #expect(abs(mapped.positiveSiemens[r] - expectedPositive[r]) < 1e-12)   // float32 weights
            #expect(abs(mapped.negativeSiemens[r] - expectedNegative[r]) < 1e-12)
        }
        #expect(mapped.deviceCount == 6)
        let (w, b) = mapped.representedWeights()
        #expect(abs(w[0] - 0.5) < 1e-6 && abs(w[1] + 0.25) < 1e-6 && abs(b[0] - 0.1) < 1e-6)
    }

    @Test func paperSchemeRoundsSubGMinConductancesToTheNearestAchievableValue() {
        // Per-layer: s = G_max / 1 = 100 µS per unit; G_min = 1 µS = weight 0.01.
        let m = CrossbarMatrix(inputs: 4, outputs: 1, weights: [1, 0.006, 0.004, -0.5], bias: nil)
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let mapped = MappedCrossbar.map(m, scheme: .paper, scaling: .perLayer, window: window)
        #expect(abs(mapped.positiveSiemens[1] - 1e-6) < 1e-18)   // 0.6 µS ≥ G_min/2: rounds up to G_min
        #expect(mapped.positiveSiemens[2] == 0)                    // 0.4 µS < G_min/2: no device
        #expect(mapped.weightsRoundedToZero == 1)
        #expect(abs(mapped.negativeSiemens[3] - 50e-6) < 1e-18)
    }

    @Test func perColumnScalingUsesEachColumnsLargestWeight() {
        let m = CrossbarMatrix(inputs: 2, outputs: 2, weights: [1, -0.5, 0.1, 0.05], bias: nil)
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let mapped = MappedCrossbar.map(m, scheme: .paper, scaling: .perColumn, window: window)
        #expect(abs(mapped.siemensPerUnit[0] - 100e-6) < 1e-15)
        #expect(abs(mapped.siemensPerUnit[1] / 1e-3 - 1) < 1e-7)   // 0.1 as float32
        #expect(abs(mapped.positiveSiemens[2] - 100e-6) < 1e-15)   // 0.1 is the column maximum: G_max
    }

    @Test func largeBiasesAreSplitOverSeveralBiasRows() {
        // s = 100 µS/unit from the weight 1; a bias of 2.5 needs 250 µS = 3 devices of ≤ 100 µS.
        let m = CrossbarMatrix(inputs: 1, outputs: 2, weights: [1, 0.5], bias: [2.5, -1])
        let window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        let mapped = MappedCrossbar.map(m, scheme: .paper, scaling: .perLayer, window: window)
        #expect(mapped.biasRows == 3)
        let (_, b) = mapped.representedWeights()
        #expect(abs(b[0] - 2.5) < 1e-5 && abs(b[1] + 1) < 1e-5)
    }
}

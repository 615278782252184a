import Foundation
import Testing
@testable import XbarSim

/// Non-idealities of one crossbar layer against their closed forms.
struct CrossbarLayerTests {
    /// A 4-input, 2-output fully connected crossbar as a 1x1 convolution.
    func layer(_ config: AnalogConfig, weights: [Float] = [0.5, -0.25, 1, 0, -1, 0.75, 0.2, 0.1],
               bias: [Float]? = [0.3, -0.2]) throws -> CrossbarLayer {
        let g = Conv2DGeometry(inChannels: 4, outChannels: 2, kernel: (1, 1), input: (1, 1))
        return try CrossbarLayer(geometry: g, matrix: CrossbarMatrix(inputs: 4, outputs: 2, weights: weights, bias: bias),
                             config: config, seed: 7, key: [0, 0])
    }

    func batch(_ x: [Float], copies n: Int) -> Tensor {
        // [4, 1, 1, n], every image the same input vector.
        Tensor(shape: [4, 1, 1, n], scalars: x.flatMap { v in [Float](repeating: v, count: n) })
    }

    @Test func readNoiseVarianceMatchesClosedForm() throws {
        var config = Preset.ideal.config
        config.device.window = ConductanceWindow(gMinSiemens: 0, gMaxSiemens: 100e-6)
        config.device.readNoise = ReadNoise(relativeSigma: 0.1)
        let l = try layer(config)
        let x: [Float] = [1, -2, 0.5, 3]
        let n = 20_000
        let y = l.run(batch(x, copies: n), mode: .analog, periphery: config.periphery,
                      ranges: SignalRanges(railUnits: nil, inputRange: 1, outputRange: 1),
                      noise: NoiseKey(seed: 3, crossbar: [0, 0], firstImage: 0), threads: 2)
        // Closed form: Var = σ² Σ_r x_r² (G⁺² + G⁻²)/s², with the bias row at x = 1.
        let m = l.mapped
        for o in 0..<2 {
            var variance = 0.0
            let s = m.siemensPerUnit[o]
            for r in 0..<m.rows {
                let xr: Double = r < 4 ? Double(x[r]) : 1
                let gp: Double = m.positiveSiemens[o * m.rows + r]
                let gn: Double = m.negativeSiemens[o * m.rows + r]
                let g2: Double = (gp * gp + gn * gn) / (s * s)
                variance += 0.01 * xr * xr * g2
            }
            var samples: [Double] = []
            for j in 0..<n { samples.append(Double(y.scalars[o * n + j])) }
            let mean: Double = samples.reduce(0, +) / Double(n)
            var sumSquares = 0.0
            for v in samples { sumSquares += (v - mean) * (v - mean) }
            let sampleVariance = sumSquares / Double(n - 1)
            // Relative standard error of a sample variance: sqrt(2/(n-1)) = 1.0%; allow 5 of them.
            #expect(abs(sampleVariance / variance - 1) < 0.05, "output \(o): \(sampleVariance) vs \(variance)")
            let exact: Double = o == 0 ? 1.8 : -2.3   // W·x + b by hand: 0.5+0.5+0.5+0+0.3, −1−1.5+0.1+0.3−0.2
            #expect(abs(mean - exact) < 5 * (variance / Double(n)).squareRoot() + 1e-5)
        }
    }

    @Test func railsClipEveryOutput() throws {
        var config = Preset.ideal.config
        config.periphery.opAmp = OpAmp(railVolts: 1, openLoopGain: nil)
        let l = try layer(config)
        let y = l.run(batch([4, -4, 4, 4], copies: 1), mode: .analog, periphery: config.periphery,
                      ranges: SignalRanges(railUnits: 2.5, inputRange: 1, outputRange: 1),
                      noise: NoiseKey(seed: 0, crossbar: [0], firstImage: 0), threads: 1)
        // Unclipped: 0.5·4 + 0.25·4 + 4 + 0.3 = 7.3 and −4 − 3 + 0.8 + 0.4 − 0.2 = −6.0.
        #expect(y.scalars == [2.5, -2.5])
    }

    @Test func adcOutputsAreMultiplesOfItsStep() throws {
        var config = Preset.ideal.config
        config.mode = .digitized
        config.periphery.adc = ADC(bits: 4)
        let l = try layer(config)
        let y = l.run(batch([0.3, -0.7, 0.1, 0.9], copies: 1), mode: .digitized, periphery: config.periphery,
                      ranges: SignalRanges(railUnits: nil, inputRange: 1, outputRange: 2),
                      noise: NoiseKey(seed: 0, crossbar: [0], firstImage: 0), threads: 1)
        // 4 bits over ±2: step 2/7. Exact outputs 0.15+0.175+0.1+0.3 = 0.725 and
        // −0.3−0.525+0.02+0.09−0.2 = −0.915; nearest steps 3·2/7 = 0.857 and −3·2/7 = −0.857.
        let step: Float = 2 / 7
        #expect(abs(y.scalars[0] - 3 * step) < 1e-6 && abs(y.scalars[1] + 3 * step) < 1e-6)
    }

    @Test func dacQuantizesInputs() throws {
        let q = SymmetricQuantizer(bits: 3, range: 1.5)
        // 3 bits: 3 steps each side of 0, step 0.5.
        #expect([q(0.2), q(0.3), q(-0.74), q(-0.76), q(9)] == [0, 0.5, -0.5, -1, 1.5])
    }

    @Test func finiteOpAmpGainScalesEachColumnByItsClosedForm() throws {
        var config = Preset.ideal.config
        config.periphery.opAmp = OpAmp(railVolts: nil, openLoopGain: 100)
        let l = try layer(config, bias: nil)
        let y = l.run(batch([1, 1, 1, 1], copies: 1), mode: .analog, periphery: config.periphery,
                      ranges: SignalRanges(railUnits: nil, inputRange: 1, outputRange: 1),
                      noise: NoiseKey(seed: 0, crossbar: [0], firstImage: 0), threads: 1)
        // γ = 1/(1 + (1 + R_f·ΣG)/A), R_f = 1/s, so R_f·ΣG = Σ|w| of the column.
        let gamma0 = 1 / (1 + (1 + 1.75) / 100.0), gamma1 = 1 / (1 + (1 + 2.05) / 100.0)
        #expect(abs(Double(y.scalars[0]) - 1.25 * gamma0) < 1e-6)
        #expect(abs(Double(y.scalars[1]) - 0.05 * gamma1) < 1e-6)
    }

    @Test func programmingIsReproducibleAndChipsDiffer() throws {
        var config = Preset.ideal.config
        config.device.variation = ProgrammingVariation(relativeSigma: 0.1)
        let g = Conv2DGeometry(inChannels: 4, outChannels: 2, kernel: (1, 1), input: (1, 1))
        let m = CrossbarMatrix(inputs: 4, outputs: 2, weights: [0.5, -0.25, 1, 0, -1, 0.75, 0.2, 0.1], bias: nil)
        let a = try CrossbarLayer(geometry: g, matrix: m, config: config, seed: 7, key: [0, 3])
        let b = try CrossbarLayer(geometry: g, matrix: m, config: config, seed: 7, key: [0, 3])
        let c = try CrossbarLayer(geometry: g, matrix: m, config: config, seed: 7, key: [1, 3])
        #expect(a.programmed.weights == b.programmed.weights)
        #expect(a.programmed.weights != c.programmed.weights)
        #expect(a.programmed.weights[3] == 0)        // zero weight: no device, no variation
    }
}

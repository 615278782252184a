import Foundation
import Testing
@testable import XbarSim

/// Write-verify programming (`WriteVerify`) against its closed forms.
struct WriteVerifyTests {
    static let target = 50e-6

    static func device(rounds: Int, tolerance: Double = 0.05, readNoise: Double = 0) -> DeviceModel {
        var d = DeviceModel()
        d.window = ConductanceWindow(gMinSiemens: 1e-6, gMaxSiemens: 100e-6)
        d.variation = ProgrammingVariation(distribution: .gaussian, relativeSigma: 0.05)
        d.readNoise = ReadNoise(relativeSigma: readNoise)
        d.writeVerify = WriteVerify(iterations: rounds, tolerance: tolerance)
        return d
    }

    /// N = 0 is plain programming: `g_i = q·(1 + σ·z_i)` with `z_i` draw `i` of the programming
    /// stream, rebuilt here by hand; no verify reads, one pulse per device.
    @Test func zeroRoundsIsPlainProgramming() throws {
        let n = 4096
        let targets = [Double](repeating: Self.target, count: n)
        let (g, _, counts) = Self.device(rounds: 0).programCounting(targets, seed: 3, key: [1, 2])
        var stream = RandomStream(seed: 3, key: [1, 2, StreamPurpose.programming.rawValue])
        var z = [Float](repeating: 0, count: n)
        z.withUnsafeMutableBufferPointer { stream.fillGaussian($0, standardDeviation: 1) }
        for i in 0..<n {
            #expect(g[i] == Self.target * (1 + 0.05 * Double(z[i])))
        }
        #expect(counts.programPulses == n && counts.verifyReads == 0 && counts.devices == n)
    }

    /// Without read noise a device is outside the band after N rounds with probability
    /// `p^(N+1)`, `p = erfc(T/(σ√2))`; reads `n·Σ_{k<N} p^k`, pulses `n·Σ_{k≤N} p^k`. 200,000
    /// devices, 5 standard errors.
    @Test(arguments: [0, 1, 2, 4])
    func outsideFractionFollowsTheGeometricLaw(rounds: Int) throws {
        let n = 200_000
        let targets = [Double](repeating: Self.target, count: n)
        let (g, _, counts) = Self.device(rounds: rounds).programCounting(targets, seed: 11, key: [4])
        let p = erfc(0.05 / (0.05 * 2.0.squareRoot()))  // T = σ: 0.3173
        let expected = pow(p, Double(rounds + 1))
        let outside = g.filter { abs($0 - Self.target) > 0.05 * Self.target }.count
        #expect(outside == counts.devicesOutsideTolerance)
        let fraction = Double(outside) / Double(n)
        let se = (expected * (1 - expected) / Double(n)).squareRoot()
        #expect(abs(fraction - expected) < 5 * se, "N=\(rounds): \(fraction) vs \(expected)")
        let reads = Double(n) * (0..<rounds).reduce(0.0) { $0 + pow(p, Double($1)) }
        let pulses = Double(n) * (0...rounds).reduce(0.0) { $0 + pow(p, Double($1)) }
        #expect(abs(Double(counts.verifyReads) - reads) <= max(1, 0.01 * reads))
        #expect(abs(Double(counts.programPulses) - pulses) <= 0.01 * pulses)
    }

    /// Accepted devices keep their first in-band value: the conductance of a device is inside the
    /// band or is the last redraw; with many rounds, the distribution is the variation truncated to
    /// the band (uniform-ish in ±T), whose std is far below σ.
    @Test func manyRoundsShrinkTheSpreadToTheBand() throws {
        let n = 50_000
        let targets = [Double](repeating: Self.target, count: n)
        let (g0, _, _) = Self.device(rounds: 0, tolerance: 0.02).programCounting(targets, seed: 2, key: [9])
        let (g8, _, _) = Self.device(rounds: 8, tolerance: 0.02).programCounting(targets, seed: 2, key: [9])
        let s0 = meanAndStandardDeviation(g0.map { $0 / Self.target - 1 }).std
        let s8 = meanAndStandardDeviation(g8.map { $0 / Self.target - 1 }).std
        #expect(abs(s0 - 0.05) < 5 * 0.05 / (2.0 * Double(n)).squareRoot())
        // Truncated normal on ±T (T = 0.4σ): std ≈ T/√3·(1 − small) ≈ 0.0114, plus the few
        // devices still outside after 8 rounds (p^9 = 0.69^9 ≈ 3.5 %).
        #expect(s8 < 0.02)
        #expect(s8 > 0.01)
    }

    /// With read noise the verify decides on noisy reads, so the error saturates at a floor: each
    /// accepted device is a fresh draw `e ~ N(0, σ_p)` accepted with probability
    /// `A(e) = Φ((T − e)/(σ_r(1+e))) − Φ((−T − e)/(σ_r(1+e)))`, so as N grows the fraction outside
    /// the band tends to `∫ φ·A·1{|e|>T} / ∫ φ·A` (quadrature here). After 16 rounds
    /// (0.71^16 ≈ 0.4 % still pending) the simulated fraction is within 1.5 points of it.
    @Test func readNoiseSetsAFloor() throws {
        let n = 50_000
        let (sp, sr, t) = (0.05, 0.02, 0.02)
        let targets = [Double](repeating: Self.target, count: n)
        func outside(_ rounds: Int) -> Double {
            Double(Self.device(rounds: rounds, tolerance: t, readNoise: sr)
                .programCounting(targets, seed: 2, key: [9]).counts.devicesOutsideTolerance) / Double(n)
        }
        var accepted = 0.0, acceptedOutside = 0.0
        let step = sp / 400
        for k in -3200...3200 {
            let e = Double(k) * step
            let density = exp(-0.5 * (e / sp) * (e / sp))
            let a = standardNormalCDF((t - e) / (sr * (1 + e))) - standardNormalCDF((-t - e) / (sr * (1 + e)))
            accepted += density * a
            if abs(e) > t { acceptedOutside += density * a }
        }
        let floor = acceptedOutside / accepted
        let (o0, o8, o16) = (outside(0), outside(8), outside(16))
        #expect(abs(o0 - erfc(t / (sp * 2.0.squareRoot()))) < 0.01)
        #expect(o8 < o0 * 0.7)
        #expect(floor > 0.2, "the floor is far above 0: \(floor)")
        #expect(abs(o16 - floor) < 0.015, "16 rounds: \(o16), floor \(floor)")
    }

    /// Stuck devices do not move; they are read and pulsed every round.
    @Test func stuckDevicesCostPulsesButStay() throws {
        var d = Self.device(rounds: 3)
        d.stuck = StuckFaults(stuckOnFraction: 1, stuckOffFraction: 0)
        let (g, _, counts) = d.programCounting([Double](repeating: Self.target, count: 10), seed: 1, key: [1])
        #expect(g.allSatisfy { $0 == 100e-6 })
        #expect(counts.verifyReads == 30 && counts.programPulses == 40 && counts.devicesOutsideTolerance == 10)
    }

    /// The same seed and key give the same devices; no device (target 0) costs nothing.
    @Test func deterministicAndNoDeviceIsFree() throws {
        let targets = (0..<1000).map { $0 % 3 == 0 ? 0 : 40e-6 }
        let a = Self.device(rounds: 4, readNoise: 0.02).programCounting(targets, seed: 8, key: [2, 5])
        let b = Self.device(rounds: 4, readNoise: 0.02).programCounting(targets, seed: 8, key: [2, 5])
        #expect(a.atReadTime == b.atReadTime && a.counts == b.counts)
        #expect(a.counts.devices == targets.filter { $0 > 0 }.count)
        #expect(zip(targets, a.atReadTime).allSatisfy { $0 != 0 || $1 == 0 })
    }

    /// A programmed crossbar counts the pulses and reads of both its halves (the chip and the
    /// report sum these).
    @Test func crossbarCountsBothHalves() throws {
        var rng = RandomStream(seed: 4, 4)
        let matrix = CrossbarMatrix(inputs: 20, outputs: 10, weights: (0..<200).map { _ in Float(rng.nextGaussian()) },
                                    bias: nil)
        let device = Self.device(rounds: 2, readNoise: 0.02)
        let mapped = MappedCrossbar.map(matrix, scheme: .differential, scaling: .perLayer, window: device.window)
        let programmed = ProgrammedCrossbar(mapped, device: device, opAmp: .ideal, seed: 9, key: [3, 1])
        let positive = device.programCounting(mapped.positiveSiemens, seed: 9, key: [3, 1, 1]).counts
        let negative = device.programCounting(mapped.negativeSiemens, seed: 9, key: [3, 1, 2]).counts
        #expect(programmed.programmingCounts == positive + negative)
        #expect(programmed.programmingCounts.devices == 400)
        #expect(programmed.programmingCounts.programPulses > 400 && programmed.programmingCounts.verifyReads >= 400)
    }

    /// Energy: pulses·10 pJ + reads·1 pJ, time pulses·100 ns + reads·100 ns.
    @Test func costModel() {
        let cost = ProgrammingCostModel().cost(ProgrammingCounts(programPulses: 1500, verifyReads: 700, devices: 1000))
        #expect(abs(cost.energyJoules - (1500 * 10e-12 + 700 * 1e-12)) < 1e-20)
        #expect(abs(cost.serialSeconds - 2200 * 100e-9) < 1e-15)
    }
}

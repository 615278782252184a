import Foundation
import Testing
import XbarSimDevice

struct DeviceModelTests {
    /// Every effect switched on.
    static let noisy: DeviceModel = {
        var m = DeviceModel()
        m.levels = .uniform(count: 16)
        m.variation = ProgrammingVariation(distribution: .lognormal, relativeSigma: 0.1)
        m.readNoise.relativeSigma = 0.05
        m.stuck = StuckFaults(stuckOnFraction: 0.02, stuckOffFraction: 0.03)
        m.drift = Drift(timeSeconds: 3600, nuMean: 0.05, nuSigma: 0.02, compensation: .global)
        return m
    }()

    /// Targets spread over the window, with every fifth one 0 (no device).
    static let targets: [Double] = (0..<20_000).map { (i: Int) -> Double in
        i % 5 == 0 ? 0 : 1e-6 + Double(i % 89) * 1.1e-6
    }

    @Test func idealProgramsTargetsExactly() throws {
        try DeviceModel.ideal.validate()
        try Self.noisy.validate()
        let targets = [0, 1e-6, 2.5e-5, 1e-4, 5e-7, 3e-4]
        let (g, fresh) = DeviceModel.ideal.program(targets, seed: 1, key: [2])
        #expect(g == [0, 1e-6, 2.5e-5, 1e-4, 1e-6, 1e-4])  // out-of-window targets clipped
        #expect(fresh == g)
    }

    @Test func zeroTargetsAreNoDevice() {
        let (g, fresh) = Self.noisy.program(Self.targets, seed: 3, key: [0])
        for i in Self.targets.indices {
            #expect((g[i] == 0) == (Self.targets[i] == 0))
            #expect((fresh[i] == 0) == (Self.targets[i] == 0))
        }
    }

    @Test func sameSeedAndKeyReproduceDifferentChipsDiffer() {
        let a = Self.noisy.program(Self.targets, seed: 3, key: [0, 4, 1])
        let b = Self.noisy.program(Self.targets, seed: 3, key: [0, 4, 1])
        #expect(a.atReadTime == b.atReadTime && a.beforeDrift == b.beforeDrift)
        for other in [Self.noisy.program(Self.targets, seed: 3, key: [1, 4, 1]),
                      Self.noisy.program(Self.targets, seed: 4, key: [0, 4, 1])] {
            let differing = zip(a.atReadTime, other.atReadTime).filter { $0 != $1 }.count
            #expect(differing > Self.targets.count * 3 / 4)  // all devices (80 %), minus a few at equal stuck/clip values
        }
    }

    /// Each effect draws from its own stream: adding stuck faults changes only the stuck devices,
    /// adding drift leaves the pre-drift values alone, and device i's value does not depend on
    /// how many devices follow it.
    @Test func effectsUseIndependentStreams() {
        var withoutStuck = Self.noisy
        withoutStuck.stuck = StuckFaults()
        let a = withoutStuck.program(Self.targets, seed: 5, key: [7])
        let b = Self.noisy.program(Self.targets, seed: 5, key: [7])
        var stuckCount = 0
        for i in Self.targets.indices {
            let stuck = b.beforeDrift[i] == 1e-4 && b.atReadTime[i] == 1e-4
                || b.beforeDrift[i] == 1e-6 && b.atReadTime[i] == 1e-6
            if stuck { stuckCount += 1 } else { #expect(a.atReadTime[i] == b.atReadTime[i]) }
        }
        // 5 % of 16 000 devices: 800 ± 5·√(16000·0.05·0.95) ≈ 800 ± 138 (a few unstuck ones at gMin/gMax too).
        #expect(abs(stuckCount - 800) <= 160)

        var withoutDrift = Self.noisy
        withoutDrift.drift = Drift()
        #expect(withoutDrift.program(Self.targets, seed: 5, key: [7]).atReadTime == b.beforeDrift)

        let prefix = Self.noisy.program(Array(Self.targets[0..<777]), seed: 5, key: [7])
        #expect(prefix.atReadTime == Array(b.atReadTime[0..<777]))
    }

    /// Levels come before variation: a 40 µS target is first rounded to the middle of 3 levels
    /// (50.5 µS), then varied around it (mean within 5σ·G/√n).
    @Test func quantizationPrecedesVariation() {
        var model = DeviceModel()
        model.levels = .uniform(count: 3)
        model.variation.relativeSigma = 0.05
        let n = 20_000
        let level = 1e-6 + (1e-4 - 1e-6) / 2
        let mean = meanAndStandardDeviation(model.program([Double](repeating: 4e-5, count: n), seed: 0, key: []).atReadTime).mean
        #expect(abs(mean - level) <= 5 * 0.05 * level / Double(n).squareRoot())
    }

    @Test func bufferAndArrayFormsAgree() {
        let (g, fresh) = Self.noisy.program(Self.targets, seed: 8, key: [1, 2])
        var out = [Double](repeating: .nan, count: Self.targets.count)
        var before = out
        Self.targets.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                before.withUnsafeMutableBufferPointer { b in
                    Self.noisy.program(t, into: o, beforeDrift: b, seed: 8, key: [1, 2])
                }
            }
        }
        #expect(out == g && before == fresh)
    }

    @Test func codableRoundTrip() throws {
        let data = try JSONEncoder().encode(Self.noisy)
        #expect(try JSONDecoder().decode(DeviceModel.self, from: data) == Self.noisy)
    }
}

import Testing
import XbarSimDevice

struct StuckFaultsTests {
    let pOn = 0.1, pOff = 0.05, n = 100_000

    /// Binomial counts: each fraction within 5·√(p(1 − p)/n) of p.
    @Test func drawFrequenciesMatchFractions() {
        let faults = StuckFaults(stuckOnFraction: pOn, stuckOffFraction: pOff)
        var rng = RandomStream(seed: 6, StreamPurpose.stuck.rawValue)
        var counts: [DeviceState: Int] = [:]
        for _ in 0..<n { counts[faults.draw(using: &rng), default: 0] += 1 }
        let N = Double(n)
        for (state, p) in [(DeviceState.stuckOn, pOn), (.stuckOff, pOff), (.programmable, 1 - pOn - pOff)] {
            #expect(abs(Double(counts[state, default: 0]) / N - p) <= 5 * (p * (1 - p) / N).squareRoot())
        }
    }

    /// In `program`, stuck devices sit at exactly gMax / gMin, before and after drift, whatever
    /// their target and variation; the rest are strictly inside the window (targets mid-window).
    @Test func programmedStuckDevicesSitAtTheWindowEdges() {
        var model = DeviceModel()
        model.stuck = StuckFaults(stuckOnFraction: pOn, stuckOffFraction: pOff)
        model.variation.relativeSigma = 0.05
        model.drift = Drift(timeSeconds: 3600, nuMean: 0.05, nuSigma: 0.01)
        let targets = (0..<n).map { 3e-5 + Double($0 % 100) * 4e-7 }
        let (g, fresh) = model.program(targets, seed: 7, key: [0, 1])
        let N = Double(n)
        let on = fresh.filter { $0 == 1e-4 }.count, off = fresh.filter { $0 == 1e-6 }.count
        #expect(abs(Double(on) / N - pOn) <= 5 * (pOn * (1 - pOn) / N).squareRoot())
        #expect(abs(Double(off) / N - pOff) <= 5 * (pOff * (1 - pOff) / N).squareRoot())
        for i in 0..<n where fresh[i] == 1e-4 || fresh[i] == 1e-6 {
            #expect(g[i] == fresh[i])  // stuck devices do not drift
        }
        #expect(zip(g, fresh).filter { $0 != $1 }.count == n - on - off)  // every other device drifts
    }
}

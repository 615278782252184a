import Testing
import XbarSimDevice

struct ConductanceLevelsTests {
    let window = ConductanceWindow()  // 1 µS ... 100 µS

    @Test func windowClips() {
        #expect(window.clip(0) == 1e-6)
        #expect(window.clip(5e-5) == 5e-5)
        #expect(window.clip(1) == 1e-4)
        #expect(window.spanSiemens == 1e-4 - 1e-6)
    }

    @Test func cliValueMapping() {
        #expect(ConductanceLevels(cliValue: 0) == .continuous)
        #expect(ConductanceLevels(cliValue: 16) == .uniform(count: 16))
        #expect(ConductanceLevels.uniform(count: 16).cliValue == 16)
        #expect(ConductanceLevels.continuous.cliValue == 0)
        #expect(ConductanceLevels.continuous.step(in: window) == nil)
    }

    /// Every g (inside and beyond the window) maps to a level nearest to clip(g), found by
    /// brute force over the level list G_k = gMin + k·Δ, Δ = (gMax − gMin)/(count − 1) (the sweep
    /// passes exact midpoints, where either neighbour is nearest); the error is at most Δ/2 (up to
    /// rounding, 10⁻¹² relative). Quantising is idempotent: levels map to themselves exactly.
    @Test(arguments: [2, 3, 16, 33])
    func quantizesToNearestLevel(count: Int) throws {
        let levels = ConductanceLevels.uniform(count: count)
        let (gMin, gMax) = (window.gMinSiemens, window.gMaxSiemens)
        let step = try #require(levels.step(in: window))
        #expect(abs(step - (gMax - gMin) / Double(count - 1)) <= 1e-20)
        let list = (0..<count).map { k in k == count - 1 ? gMax : gMin + Double(k) * ((gMax - gMin) / Double(count - 1)) }
        for j in 0...5000 {
            let g = gMin - 0.1 * window.spanSiemens + Double(j) / 5000 * 1.2 * window.spanSiemens
            let q = levels.quantize(g, in: window)
            let clipped = min(max(g, gMin), gMax)
            let nearest = list.min { abs($0 - clipped) < abs($1 - clipped) }!
            #expect(list.contains(q))
            #expect(abs(q - clipped) <= abs(nearest - clipped) + 1e-12 * gMax)
            #expect(levels.quantize(q, in: window) == q)
            #expect(abs(q - clipped) <= step / 2 * (1 + 1e-12))
        }
        // gMin and gMax are representable.
        for level in list { #expect(levels.quantize(level, in: window) == level) }
        #expect(levels.quantize(gMin, in: window) == gMin)
        #expect(levels.quantize(gMax, in: window) == gMax)
    }

    /// In a window with exact binary arithmetic (0 ... 4 S, 5 levels: Δ = 1 S), midpoints are
    /// exact ties and go to the higher level.
    @Test func tiesGoToTheHigherLevel() {
        let w = ConductanceWindow(gMinSiemens: 0, gMaxSiemens: 4)
        let levels = ConductanceLevels.uniform(count: 5)
        #expect(levels.step(in: w) == 1)
        #expect([0.5, 1.5, 2.5, 3.5].map { levels.quantize($0, in: w) } == [1, 2, 3, 4])
        #expect([0.49, 1.51, 3.9, -1, 9].map { levels.quantize($0, in: w) } == [0, 2, 4, 0, 4])
    }

    @Test func continuousOnlyClips() {
        for g in [-1e-5, 0, 1e-6, 3.3e-5, 1e-4, 2e-4] {
            #expect(ConductanceLevels.continuous.quantize(g, in: window) == window.clip(g))
        }
    }
}

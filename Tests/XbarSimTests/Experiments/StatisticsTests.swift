import Testing
@testable import XbarSim

struct StatisticsTests {
    @Test func studentIntervalOverChips() {
        // Accuracies 0.90, 0.92, 0.94: mean 0.92, s = 0.02, t(0.975, 2) = 4.303,
        // half width 4.303·0.02/√3 = 0.049687.
        let s = AccuracySummary(accuracies: [0.90, 0.92, 0.94], images: 1000)
        #expect(abs(s.mean - 0.92) < 1e-12)
        #expect(abs(s.standardDeviation - 0.02) < 1e-12)
        #expect(abs(s.ci95[0] - (0.92 - 0.049687)) < 1e-5 && abs(s.ci95[1] - (0.92 + 0.049687)) < 1e-5)
    }

    @Test func wilsonIntervalForOneChip() {
        // p = 0.9, n = 100: Wilson 95% interval [0.8256, 0.9448] (standard tables).
        let s = AccuracySummary(accuracies: [0.9], images: 100)
        #expect(abs(s.ci95[0] - 0.8256) < 1e-4 && abs(s.ci95[1] - 0.9448) < 1e-4)
        #expect(s.standardDeviation == 0)
    }

    @Test func tQuantilesBeyondTheTable() {
        // Exact t(0.975): 40 df 2.0211, 100 df 1.9840.
        #expect(abs(AccuracySummary.studentT975(degreesOfFreedom: 40) - 2.0211) < 2e-3)
        #expect(abs(AccuracySummary.studentT975(degreesOfFreedom: 100) - 1.9840) < 5e-4)
    }
}

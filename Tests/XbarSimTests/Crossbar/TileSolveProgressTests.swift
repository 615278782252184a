import Foundation
import Testing
@testable import XbarSim

/// Long IR-drop solves report progress to the installed handler (the tool prints it on stderr).
@Suite(.serialized)
struct TileSolveProgressTests {
    @Test func solvingTilesReportsProgress() throws {
        let reports = UncheckedBox<[TileSolveProgress.Report]>([])
        let lock = NSLock()
        TileSolveProgress.shared.install(interval: 0) { r in
            lock.lock()
            reports.value.append(r)
            lock.unlock()
        }
        defer { TileSolveProgress.shared.install(nil) }
        let config = IRDropLayerTests.config(.paper, .analog, ohms: 1, irDrop: .fast)
        _ = try IRDropLayerTests.layer(config)
        lock.lock()
        let seen = reports.value
        lock.unlock()
        #expect(!seen.isEmpty)
        #expect(seen.allSatisfy { $0.tilesDone >= 1 && $0.tilesDone <= $0.tilesTotal })
        #expect(seen.contains { $0.iterations > 0 })
    }
}

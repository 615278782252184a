import Foundation
import Testing
@testable import XbarSim

/// Issue 5's cross-check: the IR-drop solvers against ngspice on the same netlists.
/// Tiles up to 32x32 run here (ngspice's sparse reordering makes 128x128 take minutes;
/// that size is in Benchmarks/RESULTS.md, `xbarsim spice --tile 128x128 --wire-resistance 1 --check`).
struct SolverVsNgspiceTests {
    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"),
          arguments: [(16, 16, 0.1, nil), (24, 12, 1.0, 1e4), (32, 32, 10.0, 1e5)] as [(Int, Int, Double, Double?)])
    func exactAndFastSolversMatchNgspice(rows: Int, columns: Int, ohms: Double, gain: Double?) throws {
        let ngspice = try #require(testNgspice)
        let wires = WireParameters(rowWireResistanceOhms: ohms, columnWireResistanceOhms: ohms, sourceResistanceOhms: ohms / 2)
        let batch = 3
        let (circuit, v) = randomTile(rows: rows, columns: columns, wires: wires, gain: gain, seed: UInt64(rows + 7 * columns),
                                      batch: batch)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let netlist = TileNetlist(circuit, inputVolts: v, batch: batch)
        let (spiceCurrents, spiceOutputs) = try netlist.results(try ngspice.run(netlist.netlist, path: dir + "/t.cir"), file: "t.cir")
        let exact = try ExactTileSolver(circuit).solve(inputVolts: v, batch: batch)
        #expect(maxRelative(exact.columnCurrentsAmps, spiceCurrents) <= 1e-6)
        #expect(maxRelative(exact.outputVolts, spiceOutputs) <= 1e-6)
        // Within 0.5 % of full scale for the fast solver.
        let fast = FastTileSolver(circuit, relativeTolerance: 1e-6, maxIterations: 500).solve(inputVolts: v, batch: batch)
        let fullScale = spiceCurrents.map(abs).max() ?? 1
        let worst = zip(fast.columnCurrentsAmps, spiceCurrents).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 0.005 * fullScale)
        // The wires matter at these sizes, so the comparison can fail.
        let ideal = circuit.idealColumnCurrents(inputVolts: v, batch: batch)
        #expect(maxRelative(ideal, spiceCurrents) > 1e-4)
    }
}

import Testing
@testable import XbarSim

struct PhysicalLayoutTests {
    /// The 3x2 example of `MappingTests`, laid out on 4x1 physical tiles (2 logical rows
    /// per tile for the paper scheme): driving each tile's physical rows with
    /// `sign·x` and reading `V = −R_f·I` gives back `W·x = (0, −0.5)` summed over tiles.
    @Test(arguments: [MappingScheme.paper, .differential, .invertedOutput])
    func tilesReproduceWeights(scheme: MappingScheme) {
        let m = CrossbarMatrix(inputs: 3, outputs: 2, weights: [0.2, -0.1, 0, 0, 0.05, -0.2], bias: [0.1, -0.3])
        let window = ConductanceWindow(gMinSiemens: scheme == .paper ? 0 : 0.01, gMaxSiemens: 10)
        let mapped = MappedCrossbar.map(m, scheme: scheme, scaling: .fixed(siemensPerUnit: 1), window: window)
        let tile = TileSize(rows: scheme == .paper ? 4 : 2, columns: scheme == .paper ? 1 : 2)
        let tiles = PhysicalLayout.tiles(
            mapped, positiveSiemens: mapped.positiveSiemens, negativeSiemens: mapped.negativeSiemens, tile: tile,
            wires: .ideal, openLoopGain: nil)
        // (weights are Float32, so 1e-6.) 3 inputs + 1 bias row = 4 logical rows in row tiles of 2; 2 outputs in column tiles of 1.
        #expect(tiles.count == 4)
        for t in tiles {
            #expect(t.circuit.rows <= tile.rows! && t.circuit.columns <= tile.columns!)
        }
        let x: [Double] = [1, 2, 3, 1]   // bias row driven at 1 unit
        var y = [0.0, 0.0]
        for t in tiles {
            let v = t.rowDrives.map { $0.sign * x[$0.logicalRow] }
            let currents = t.circuit.idealColumnCurrents(inputVolts: v, batch: 1)
            for (c, read) in t.columnReads.enumerated() {
                y[read.output] += read.sign * t.circuit.transimpedanceOhms(column: c) * currents[c]
            }
        }
        let expected = [0.2 * 1 - 0.1 * 2 + 0.1, 0.05 * 2 - 0.2 * 3 - 0.3]
        for o in 0..<2 { #expect(abs(y[o] - expected[o]) < 1e-6, "output \(o): \(y[o]) vs \(expected[o])") }
    }
}

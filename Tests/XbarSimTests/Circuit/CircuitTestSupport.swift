@testable import XbarSim

/// Independent reference for tile circuits: every node of `TileCircuit`'s documented
/// topology (word-line nodes, bit-line nodes and the TIA inputs `t_c`) stamped into a dense
/// nodal matrix and solved by Gaussian elimination with partial pivoting. Every resistance
/// must be positive (zero ones are tested against closed forms instead).
enum DenseNodalReference {
    /// Column currents `[columns, batch]` and the node voltages `(w, b)` as `[rows, columns, batch]`.
    static func solve(_ t: TileCircuit, inputVolts v: [Double], batch n: Int) -> (currents: [Double], w: [Double], b: [Double]) {
        let (rows, columns) = (t.rows, t.columns)
        let wires = t.wires
        let hasT = t.openLoopGain != nil
        let size = 2 * rows * columns + (hasT ? columns : 0)
        func wi(_ r: Int, _ c: Int) -> Int { r * columns + c }
        func bi(_ r: Int, _ c: Int) -> Int { rows * columns + r * columns + c }
        func ti(_ c: Int) -> Int? { hasT ? 2 * rows * columns + c : nil }   // nil: ground
        var a = [Double](repeating: 0, count: size * size)
        var rhs = [Double](repeating: 0, count: size * n)
        func stamp(_ i: Int?, _ j: Int?, _ g: Double) {
            if let i { a[i * size + i] += g }
            if let j { a[j * size + j] += g }
            if let i, let j { a[i * size + j] -= g; a[j * size + i] -= g }
        }
        for r in 0..<rows {
            let gin = 1 / (wires.sourceResistanceOhms + wires.rowWireResistanceOhms)
            stamp(wi(r, 0), nil, gin)
            for k in 0..<n { rhs[wi(r, 0) * n + k] += gin * v[r * n + k] }
            for c in 0..<(columns - 1) { stamp(wi(r, c), wi(r, c + 1), 1 / wires.rowWireResistanceOhms) }
            for c in 0..<columns {
                let g = t.conductance(row: r, column: c)
                if g > 0 { stamp(wi(r, c), bi(r, c), g) }
            }
        }
        for c in 0..<columns {
            for r in 0..<(rows - 1) { stamp(bi(r, c), bi(r + 1, c), 1 / wires.columnWireResistanceOhms) }
            stamp(bi(rows - 1, c), ti(c), 1 / wires.columnWireResistanceOhms)
            if let tc = ti(c) { stamp(tc, nil, 1 / t.terminationOhms(column: c)) }
        }
        let x = gauss(a, rhs, size: size, batch: n)
        var currents = [Double](repeating: 0, count: columns * n)
        for c in 0..<columns {
            for k in 0..<n {
                let vt = ti(c).map { x[$0 * n + k] } ?? 0
                currents[c * n + k] = (x[bi(rows - 1, c) * n + k] - vt) / wires.columnWireResistanceOhms
            }
        }
        let w = Array(x[0..<(rows * columns * n)])
        let b = Array(x[(rows * columns * n)..<(2 * rows * columns * n)])
        return (currents, w, b)
    }

    static func gauss(_ matrix: [Double], _ rhs: [Double], size: Int, batch n: Int) -> [Double] {
        var a = matrix, b = rhs
        for col in 0..<size {
            var pivot = col
            for r in col..<size where abs(a[r * size + col]) > abs(a[pivot * size + col]) { pivot = r }
            if pivot != col {
                for j in 0..<size { a.swapAt(col * size + j, pivot * size + j) }
                for k in 0..<n { b.swapAt(col * n + k, pivot * n + k) }
            }
            let d = a[col * size + col]
            for r in (col + 1)..<size {
                let f = a[r * size + col] / d
                guard f != 0 else { continue }
                for j in col..<size { a[r * size + j] -= f * a[col * size + j] }
                for k in 0..<n { b[r * n + k] -= f * b[col * n + k] }
            }
        }
        var x = [Double](repeating: 0, count: size * n)
        for r in stride(from: size - 1, through: 0, by: -1) {
            for k in 0..<n {
                var s = b[r * n + k]
                for j in (r + 1)..<size { s -= a[r * size + j] * x[j * n + k] }
                x[r * n + k] = s / a[r * size + r]
            }
        }
        return x
    }

    /// A random tile: conductances in `[0, gMax]` with a fraction of empty cells, `R_f` per column.
    static func randomTile(
        rows: Int, columns: Int, wires: WireParameters, gain: Double?, seed: UInt64, gMax: Double = 100e-6
    ) -> TileCircuit {
        var stream = RandomStream(seed: seed, key: [UInt64(rows), UInt64(columns)])
        let g = (0..<(rows * columns)).map { _ -> Double in
            let u = stream.nextUniform()
            return u < 0.2 ? 0 : gMax * stream.nextUniform()
        }
        let feedback = (0..<columns).map { _ in 5e3 + 1e4 * stream.nextUniform() }
        return TileCircuit(rows: rows, columns: columns, conductanceSiemens: g, wires: wires, feedbackOhms: feedback,
                           openLoopGain: gain)
    }

    static func randomInputs(rows: Int, batch: Int, seed: UInt64) -> [Double] {
        var stream = RandomStream(seed: seed, key: [99])
        return (0..<(rows * batch)).map { _ in 0.2 * stream.nextUniform() - 0.1 }
    }

    /// `max |a − b| / max |b|`.
    static func fullScaleError(_ a: [Double], _ b: [Double]) -> Double {
        let scale = b.map(abs).max() ?? 0
        var worst = 0.0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
        return scale > 0 ? worst / scale : worst
    }

    /// `max |a − b| / |b|` elementwise (for results that are all well away from zero).
    static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        var worst = 0.0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(abs(y), 1e-300)) }
        return worst
    }
}

import XbarSimTensor

/// Direct nodal analysis of a tile in double precision (`--ir-drop exact`).
///
/// The `2·R·C` node equations are symmetric positive definite. The word lines are
/// eliminated exactly (each is tridiagonal), which leaves the bit-line voltages:
///
/// - bit lines with resistance: a block-tridiagonal system, one dense `C x C` block per
///   row, `D_r = Λ_r + diag(G_r) − diag(G_r)·A_r⁻¹·diag(G_r)`, coupled to the rows above and
///   below by `−I/R_col`. Block Cholesky from the grounded bottom row upwards
///   (`D̃_r = D_r − D̃_{r+1}⁻¹/R_col²`, each block inverted with LAPACK `dpotrf`/`dpotri`),
///   `R·C³` flops once per tile; each batch then costs `2·R` GEMMs of `C x C` by `C x batch`.
/// - bit lines without resistance and a finite-gain TIA: one dense `C x C` system.
/// - bit lines without resistance and an ideal TIA: no unknowns (`B = 0`).
///
/// The factorisation happens once, in `init`; `solve` takes any number of input vectors.
/// See docs/ir-drop.md for the equations and the measured cost.
public struct ExactTileSolver: TileSolver {
    public let circuit: TileCircuit
    let lines: TileLines
    /// Chain bit lines: `E_r = D̃_r⁻¹` for every row (`rows x C x C`). Merged bit lines:
    /// the Cholesky factor of the `free x free` system (columns with a finite termination).
    let blocks: [Double]
    let freeColumns: [Int]

    public init(_ circuit: TileCircuit) throws {
        self.circuit = circuit
        let lines = TileLines(circuit)
        self.lines = lines
        let (rows, columns) = (circuit.rows, circuit.columns)
        let g = circuit.conductanceSiemens
        // M_r = A_r⁻¹ for every word line, as `[rows, columns, columns]` (word solves of the identity).
        var coupling = [Double]()
        if lines.wordKind != .pinned && lines.bitKind != .pinned {
            coupling = [Double](repeating: 0, count: rows * columns * columns)
            coupling.withUnsafeMutableBufferPointer { m in
                for r in 0..<rows {
                    for c in 0..<columns { m[(r * columns + c) * columns + c] = 1 }
                }
                lines.solveWordLines(m.baseAddress!, batch: columns)
            }
        }
        switch lines.bitKind {
        case .pinned:
            blocks = []
            freeColumns = []
        case .merged:
            let free = (0..<columns).filter { lines.columnEnd[$0].isFinite }
            let f = free.count
            var d = [Double](repeating: 0, count: f * f)
            for (i, c) in free.enumerated() { d[i * f + i] = lines.bitDiagonal[c] }
            if !coupling.isEmpty {
                for r in 0..<rows {
                    for (i, c) in free.enumerated() {
                        let gc = g[r * columns + c]
                        guard gc != 0 else { continue }
                        for (j, c2) in free.enumerated() {
                            d[i * f + j] -= gc * coupling[(r * columns + c) * columns + c2] * g[r * columns + c2]
                        }
                    }
                }
            }
            try d.withUnsafeMutableBufferPointer { try LAPACK.choleskyFactor($0.baseAddress!, n: f) }
            blocks = d
            freeColumns = free
        case .chain:
            let cc = columns * columns
            let gs = lines.columnSegment
            var e = [Double](repeating: 0, count: rows * cc)
            try e.withUnsafeMutableBufferPointer { e in
                for r in stride(from: rows - 1, through: 0, by: -1) {
                    let block = e.baseAddress! + r * cc
                    for c in 0..<columns {
                        let i = r * columns + c
                        // Λ_r + G_r: the node's own wire terms and device (bitDiagonal).
                        block[c * columns + c] = lines.bitDiagonal[i]
                        if !coupling.isEmpty, g[i] != 0 {
                            let m = (r * columns + c) * columns
                            for c2 in 0..<columns {
                                block[c * columns + c2] -= g[i] * coupling[m + c2] * g[r * columns + c2]
                            }
                        }
                    }
                    if r < rows - 1 {
                        let below = block + cc
                        let f = gs * gs
                        for k in 0..<cc { block[k] -= f * below[k] }
                    }
                    try LAPACK.invertSymmetricPositiveDefinite(block, n: columns)
                }
            }
            blocks = e
            freeColumns = []
        }
    }

    public func solve(inputVolts: [Double], batch n: Int, nodeVoltages: Bool = false) -> TileSolution {
        precondition(inputVolts.count == circuit.rows * n)
        let (rows, columns) = (circuit.rows, circuit.columns)
        var x = inputVolts.withUnsafeBufferPointer { lines.bitRightHandSide(inputVolts: $0.baseAddress!, batch: n) }
        switch lines.bitKind {
        case .pinned:
            break
        case .merged:
            let f = freeColumns.count
            var packed = [Double](repeating: 0, count: f * n)
            // dpotrs wants each right-hand side contiguous: pack as [n, f].
            for (i, c) in freeColumns.enumerated() {
                for k in 0..<n { packed[k * f + i] = x[c * n + k] }
            }
            packed.withUnsafeMutableBufferPointer { p in
                blocks.withUnsafeBufferPointer { a in
                    // The factor is of a matrix built here from finite, positive conductances.
                    do {
                        try LAPACK.choleskySolve(factor: a.baseAddress!, n: f, p.baseAddress!, rightHandSides: n)
                    } catch {
                        preconditionFailure("dpotrs on a factor dpotrf accepted: \(error)")
                    }
                }
            }
            x = [Double](repeating: 0, count: columns * n)
            for (i, c) in freeColumns.enumerated() {
                for k in 0..<n { x[c * n + k] = packed[k * f + i] }
            }
        case .chain:
            let cc = columns * columns
            let width = columns * n
            let gs = lines.columnSegment
            var y = [Double](repeating: 0, count: rows * width)
            x.withUnsafeMutableBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in
                    blocks.withUnsafeBufferPointer { e in
                        let (x, y, e) = (x.baseAddress!, y.baseAddress!, e.baseAddress!)
                        // Forward, bottom to top: Y_r = E_r·(F_r + g·Y_{r+1}) (F_r in x).
                        for r in stride(from: rows - 1, through: 0, by: -1) {
                            let f = x + r * width
                            if r < rows - 1 {
                                let below = y + (r + 1) * width
                                for k in 0..<width { f[k] += gs * below[k] }
                            }
                            BLAS.dgemm(m: columns, n: n, k: columns, a: e + r * cc, lda: columns, b: f, ldb: n,
                                       c: y + r * width, ldc: n)
                        }
                        // Back, top to bottom: B_r = Y_r + g·E_r·B_{r−1}.
                        (x).update(from: y, count: width)
                        for r in 1..<max(1, rows) {
                            (x + r * width).update(from: y + r * width, count: width)
                            BLAS.dgemm(m: columns, n: n, k: columns, alpha: gs, a: e + r * cc, lda: columns,
                                       b: x + (r - 1) * width, ldb: n, beta: 1, c: x + r * width, ldc: n)
                        }
                    }
                }
            }
        }
        return lines.solution(circuit, inputVolts: inputVolts, bitUnknowns: x, batch: n, nodeVoltages: nodeVoltages,
                              iterations: 0, relativeResidual: 0)
    }
}

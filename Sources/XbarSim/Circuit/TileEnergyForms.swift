import XbarSimTensor

/// Where a tile's power goes, as quadratic forms of its row input voltages.
///
/// The tile is a linear circuit, so every node voltage and branch current is a linear map
/// of the input voltages `V` (one per row). A branch of conductance `g` whose voltage is
/// `aᵀ·V` dissipates `g·(aᵀV)²`; summed over the branches of one kind,
///
///     P = Vᵀ·Q·V,     Q = Aᵀ·diag(g)·A     (siemens: watts per volt²)
///
/// where row `k` of `A` is branch `k`'s response to the `rows` unit inputs: one solve with
/// the identity as input batch and `nodeVoltages: true`, then one `dsyrk` per kind. The kinds
/// are those of ``TileDissipation``:
///
/// - device: `Σ G_rc·(w_rc − b_rc)²`;
/// - wire: `Σ (Δw)²/R_row` along the word lines and `Σ (Δb)²/R_col` along the bit lines,
///   with `i_r²·R_row` for each row's first segment (driver to `w(r,0)`) and `I_c²·R_col`
///   for each column's last segment (`b(R−1,c)` to the TIA);
/// - source: `i_r²·R_s` in the drivers' source resistances;
/// - TIA input: `I_c²·R_f/(1+A)`, the finite-gain TIA's input seen as a resistance (0 when ideal);
/// - supplied: `Σ_r V_r·i_r`, the symmetric part of the input admittance matrix. It equals
///   the sum of the four others (energy conservation; tested).
///
/// Over many reads `Σ_n V_nᵀ·Q·V_n = trace(Q·S)` with `S = Σ_n V_n·V_nᵀ`, the second-moment
/// matrix of the inputs: energy accounting needs `S`, not a solve per read. The forms are as
/// exact as the solve: `ExactTileSolver` to rounding, `FastTileSolver` to its tolerance.
///
/// Cost for an `R x C` tile: the solver's `R` right-hand sides, then three `dsyrk` of
/// `R·C x R` (`≈ 3·R³·C` flops; 128x128: `8e8`).
public struct TileEnergyForms: Sendable {
    public let rows: Int
    /// `rows x rows`, row-major, symmetric, siemens.
    public var deviceSiemens: [Double]
    public var wireSiemens: [Double]
    public var sourceSiemens: [Double]
    public var tiaInputSiemens: [Double]
    public var suppliedSiemens: [Double]
    /// Of the solve the forms come from (fast solver: CG iterations and the largest relative residual).
    public var solverIterations: Int
    public var relativeResidual: Double

    public init(solver: some TileSolver) {
        let t = solver.circuit
        let (rows, columns) = (t.rows, t.columns)
        let nodes = rows * columns
        var identity = [Double](repeating: 0, count: rows * rows)
        for i in 0..<rows { identity[i * rows + i] = 1 }
        let s = solver.solve(inputVolts: identity, batch: rows, nodeVoltages: true)
        guard let w = s.wordLineVolts, let b = s.bitLineVolts else {
            preconditionFailure("a solve with nodeVoltages returns the node voltages")
        }
        let g = t.conductanceSiemens
        let wires = t.wires
        let currents = s.columnCurrentsAmps   // [columns, rows]
        self.rows = rows
        solverIterations = s.iterations
        relativeResidual = s.relativeResidual

        // Scratch for the scaled branch responses √g·a_k, one branch per row (`k x rows`).
        var branches = [Double](repeating: 0, count: max(nodes, rows) * rows)
        /// `Q (+)= Σ_k (√g·a_k)(√g·a_k)ᵀ` over the first `count` rows of `branches`.
        func gram(_ count: Int, into q: inout [Double], accumulate: Bool = false) {
            guard count > 0 else { return }   // q is zero or keeps its sum
            branches.withUnsafeBufferPointer { a in
                q.withUnsafeMutableBufferPointer { c in
                    BLAS.dsyrk(transposeA: true, n: rows, k: count, a: a.baseAddress!, lda: rows,
                               beta: accumulate ? 1 : 0, c: c.baseAddress!, ldc: rows)
                    BLAS.mirrorUpperTriangle(c.baseAddress!, n: rows, ldc: rows)
                }
            }
        }
        func zeros() -> [Double] { [Double](repeating: 0, count: rows * rows) }

        // Devices.
        var count = 0
        for i in 0..<nodes where g[i] > 0 {
            let f = g[i].squareRoot()
            for j in 0..<rows { branches[count * rows + j] = f * (w[i * rows + j] - b[i * rows + j]) }
            count += 1
        }
        var device = zeros()
        gram(count, into: &device)
        deviceSiemens = device

        // Input currents i_r per unit input j: through R_s + R_row into w(r,0), or, with a
        // pinned word line, straight into the row's devices.
        let seriesIn = wires.sourceResistanceOhms + wires.rowWireResistanceOhms
        var admittance = zeros()
        for r in 0..<rows {
            for j in 0..<rows {
                let v = r == j ? 1.0 : 0.0
                if seriesIn > 0 {
                    admittance[r * rows + j] = (v - w[(r * columns) * rows + j]) / seriesIn
                } else {
                    var i = 0.0
                    for c in 0..<columns { i += g[r * columns + c] * (v - b[(r * columns + c) * rows + j]) }
                    admittance[r * rows + j] = i
                }
            }
        }
        var supplied = zeros()
        for r in 0..<rows {
            for j in 0..<rows { supplied[r * rows + j] = (admittance[r * rows + j] + admittance[j * rows + r]) / 2 }
        }
        suppliedSiemens = supplied

        var source = zeros()
        if wires.sourceResistanceOhms > 0 {
            branches.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: admittance, count: rows * rows) }
            let rs = wires.sourceResistanceOhms.squareRoot()
            for k in 0..<(rows * rows) { branches[k] *= rs }
            gram(rows, into: &source)
        }
        sourceSiemens = source

        var wire = zeros()
        let rowOhms = wires.rowWireResistanceOhms
        if rowOhms > 0 {
            // Each row's first segment carries i_r; then a segment between adjacent cells.
            let root = rowOhms.squareRoot()
            count = 0
            for r in 0..<rows {
                for j in 0..<rows { branches[count * rows + j] = root * admittance[r * rows + j] }
                count += 1
                for c in 0..<(columns - 1) {
                    let (p, q) = ((r * columns + c) * rows, (r * columns + c + 1) * rows)
                    for j in 0..<rows { branches[count * rows + j] = (w[p + j] - w[q + j]) / root }
                    count += 1
                }
            }
            gram(count, into: &wire)
        }
        let columnOhms = wires.columnWireResistanceOhms
        if columnOhms > 0 {
            // Segments between adjacent cells, then the last one into the TIA carrying I_c.
            let root = columnOhms.squareRoot()
            count = 0
            for c in 0..<columns {
                for r in 0..<(rows - 1) {
                    let (p, q) = ((r * columns + c) * rows, ((r + 1) * columns + c) * rows)
                    for j in 0..<rows { branches[count * rows + j] = (b[p + j] - b[q + j]) / root }
                    count += 1
                }
                for j in 0..<rows { branches[count * rows + j] = root * currents[c * rows + j] }
                count += 1
            }
            gram(count, into: &wire, accumulate: rowOhms > 0)
        }
        wireSiemens = wire

        var tia = zeros()
        count = 0
        for c in 0..<columns {
            let r = t.terminationOhms(column: c)
            guard r > 0 else { continue }
            let root = r.squareRoot()
            for j in 0..<rows { branches[count * rows + j] = root * currents[c * rows + j] }
            count += 1
        }
        if count > 0 { gram(count, into: &tia) }
        tiaInputSiemens = tia
    }

    /// `Vᵀ·Q·V` per image for `[rows, batch]` inputs (images innermost), watts: direct loops,
    /// for checks and small batches.
    public static func power(_ form: [Double], inputVolts v: [Double], batch n: Int) -> [Double] {
        let rows = Int(Double(form.count).squareRoot().rounded())
        precondition(rows * rows == form.count && v.count == rows * n)
        var p = [Double](repeating: 0, count: n)
        for i in 0..<rows {
            for j in 0..<rows {
                let q = form[i * rows + j]
                guard q != 0 else { continue }
                for k in 0..<n { p[k] += q * v[i * n + k] * v[j * n + k] }
            }
        }
        return p
    }
}

/// The word and bit lines of a tile as batched line solvers: what both IR-drop solvers
/// are built from (see docs/ir-drop.md).
///
/// Eliminating the word lines leaves the bit-line voltages `B` as the only unknowns:
///
///     W_r = h_r·V_r + A_r⁻¹·(G_r ∘ B_r)                       (word line r)
///     (A_b − G·A_w⁻¹·G)·B = G ∘ (h·V)                          (bit lines)
///
/// `A_r` is word line r's nodal matrix with the devices' far ends grounded (tridiagonal:
/// segments `1/R_row`, `1/(R_s+R_row)` to the driver at node 0, `G_rc` on the diagonal),
/// `h_r = A_r⁻¹·e₀/(R_s+R_row)`, and `A_b` the bit lines' (tridiagonal along each column:
/// segments `1/R_col`, `1/(R_col + R_f/(1+A))` from the bottom node to ground, `G_rc`).
///
/// Zero resistances collapse lines instead of making them stiff:
/// - word line `merged` (`R_row = 0`, `R_s > 0`): one node per row; `pinned` (both 0): `W_r = V_r`.
/// - bit line `merged` (`R_col = 0`, finite-gain TIA): one node per column at
///   `R_f/(1+A)` to ground; `pinned` (`R_col = 0`, ideal TIA): `B = 0`.
///
/// Buffers are `[rows, columns, batch]` (images innermost) unless said otherwise.
struct TileLines: Sendable {
    enum Kind: Sendable { case chain, merged, pinned }

    let rows: Int
    let columns: Int
    /// Row-major `r·columns + c`.
    let g: [Double]
    let wordKind: Kind
    let bitKind: Kind
    /// Word lines: segment conductance `1/R_row` and the driver's `1/(R_s + R_row)` (merged: `1/R_s`).
    let rowSegment: Double
    let rowInput: Double
    /// Word-line Thomas coefficients (`chain`: per node `multiplier = g/l_{c−1}` and
    /// `1/l_c`; `merged`: `inversePivot[r] = 1/(1/R_s + Σ_c G_rc)`).
    let wordMultiplier: [Double]
    let wordInversePivot: [Double]
    /// `h_r` (`rows x columns`): word-line voltages per volt of input with `B = 0`.
    let wordResponse: [Double]
    /// Bit lines: segment conductance `1/R_col`, and per column the conductance from the
    /// bottom node to ground, `1/(R_col + R_f/(1+A))` (`merged`: `(1+A)/R_f`).
    let columnSegment: Double
    let columnEnd: [Double]
    /// Bit-line Thomas coefficients, swept from the grounded bottom end upwards (`chain`),
    /// or `1/(g_end + Σ_r G_rc)` per column (`merged`; 0 for a pinned column).
    let bitMultiplier: [Double]
    let bitInversePivot: [Double]
    /// Diagonal of `A_b` (`chain`: per node; `merged`: per column).
    let bitDiagonal: [Double]

    init(_ t: TileCircuit) {
        rows = t.rows
        columns = t.columns
        g = t.conductanceSiemens
        let (rows, columns, g) = (t.rows, t.columns, t.conductanceSiemens)
        let w = t.wires
        // Word lines.
        if w.rowWireResistanceOhms > 0 {
            wordKind = .chain
            rowSegment = 1 / w.rowWireResistanceOhms
            rowInput = 1 / (w.sourceResistanceOhms + w.rowWireResistanceOhms)
            var m = [Double](repeating: 0, count: rows * columns)
            var il = m
            for r in 0..<rows {
                var previous = 0.0
                for c in 0..<columns {
                    var d = g[r * columns + c] + (c == 0 ? rowInput : rowSegment) + (c < columns - 1 ? rowSegment : 0)
                    if c > 0 {
                        m[r * columns + c] = rowSegment / previous
                        d -= rowSegment * rowSegment / previous
                    }
                    previous = d
                    il[r * columns + c] = 1 / d
                }
            }
            wordMultiplier = m
            wordInversePivot = il
        } else if w.sourceResistanceOhms > 0 {
            wordKind = .merged
            rowSegment = 0
            rowInput = 1 / w.sourceResistanceOhms
            wordMultiplier = []
            wordInversePivot = (0..<rows).map { r in
                var s = 1 / w.sourceResistanceOhms
                for c in 0..<columns { s += g[r * columns + c] }
                return 1 / s
            }
        } else {
            wordKind = .pinned
            rowSegment = 0
            rowInput = 0
            wordMultiplier = []
            wordInversePivot = []
        }
        // Bit lines.
        let terminations = (0..<columns).map { t.terminationOhms(column: $0) }
        if w.columnWireResistanceOhms > 0 {
            bitKind = .chain
            let gs = 1 / w.columnWireResistanceOhms
            columnSegment = gs
            columnEnd = terminations.map { 1 / (w.columnWireResistanceOhms + $0) }
            var m = [Double](repeating: 0, count: rows * columns)
            var il = m
            var diagonal = m
            for c in 0..<columns {
                var below = 0.0
                for r in stride(from: rows - 1, through: 0, by: -1) {
                    let i = r * columns + c
                    diagonal[i] = g[i] + (r > 0 ? gs : 0) + (r < rows - 1 ? gs : columnEnd[c])
                    var d = diagonal[i]
                    if r < rows - 1 {
                        m[i] = gs / below
                        d -= gs * gs / below
                    }
                    below = d
                    il[i] = 1 / d
                }
            }
            bitMultiplier = m
            bitInversePivot = il
            bitDiagonal = diagonal
        } else if t.openLoopGain != nil {
            bitKind = .merged
            columnSegment = 0
            columnEnd = terminations.map { $0 > 0 ? 1 / $0 : .infinity }
            var diagonal = columnEnd
            for c in 0..<columns {
                for r in 0..<rows { diagonal[c] += g[r * columns + c] }
            }
            bitDiagonal = diagonal
            bitMultiplier = []
            bitInversePivot = diagonal.map { $0.isFinite ? 1 / $0 : 0 }
        } else {
            bitKind = .pinned
            columnSegment = 0
            columnEnd = [Double](repeating: .infinity, count: columns)
            bitMultiplier = []
            bitInversePivot = []
            bitDiagonal = []
        }
        // h: the word lines driven at 1 V with the bit lines at 0 V.
        if wordKind == .pinned {
            wordResponse = [Double](repeating: 1, count: rows * columns)
        } else {
            var h = [Double](repeating: 0, count: rows * columns)
            for r in 0..<rows { h[r * columns] = rowInput }
            let lines = (wordKind, rowSegment, wordMultiplier, wordInversePivot, rows, columns)
            h.withUnsafeMutableBufferPointer { TileLines.solveWords(lines, $0.baseAddress!, batch: 1) }
            wordResponse = h
        }
    }

    /// Number of bit-line unknowns per image: `rows·columns` (chain), `columns` (merged), 0 (pinned).
    var bitUnknowns: Int {
        switch bitKind {
        case .chain: rows * columns
        case .merged: columns
        case .pinned: 0
        }
    }

    /// `u ← A_w⁻¹·u` for every word line (`u` is `[rows, columns, batch]`); pinned lines give 0.
    func solveWordLines(_ u: UnsafeMutablePointer<Double>, batch n: Int) {
        TileLines.solveWords((wordKind, rowSegment, wordMultiplier, wordInversePivot, rows, columns), u, batch: n)
    }

    private static func solveWords(
        _ lines: (Kind, Double, [Double], [Double], Int, Int), _ u: UnsafeMutablePointer<Double>, batch n: Int
    ) {
        let (kind, segment, multiplier, inversePivot, rows, columns) = lines
        switch kind {
        case .pinned:
            u.update(repeating: 0, count: rows * columns * n)
        case .merged:
            for r in 0..<rows {
                let line = u + r * columns * n
                for c in 1..<max(1, columns) {
                    let p = line + c * n
                    for k in 0..<n { line[k] += p[k] }
                }
                let f = inversePivot[r]
                for k in 0..<n { line[k] *= f }
                for c in 1..<max(1, columns) { (line + c * n).update(from: line, count: n) }
            }
        case .chain:
            multiplier.withUnsafeBufferPointer { m in
                inversePivot.withUnsafeBufferPointer { il in
                    for r in 0..<rows {
                        let line = u + r * columns * n
                        let base = r * columns
                        for c in 1..<max(1, columns) {
                            let (p, q, f) = (line + c * n, line + (c - 1) * n, m[base + c])
                            for k in 0..<n { p[k] += f * q[k] }
                        }
                        let last = line + (columns - 1) * n
                        let fl = il[base + columns - 1]
                        for k in 0..<n { last[k] *= fl }
                        for c in stride(from: columns - 2, through: 0, by: -1) {
                            let (p, q, f) = (line + c * n, line + (c + 1) * n, il[base + c])
                            for k in 0..<n { p[k] = (p[k] + segment * q[k]) * f }
                        }
                    }
                }
            }
        }
    }

    /// `u ← A_b⁻¹·u` on the bit-line unknowns (`[rows, columns, batch]` chain, `[columns, batch]` merged).
    func solveBitLines(_ u: UnsafeMutablePointer<Double>, batch n: Int) {
        switch bitKind {
        case .pinned: return
        case .merged:
            for c in 0..<columns {
                let f = bitInversePivot[c]
                let p = u + c * n
                for k in 0..<n { p[k] *= f }
            }
        case .chain:
            let width = columns * n
            let gs = columnSegment
            bitMultiplier.withUnsafeBufferPointer { m in
                bitInversePivot.withUnsafeBufferPointer { il in
                    // Forward sweep from the grounded bottom (r = rows−1) up to the open top.
                    for r in stride(from: rows - 2, through: 0, by: -1) {
                        let (row, below) = (u + r * width, u + (r + 1) * width)
                        for c in 0..<columns {
                            let f = m[r * columns + c]
                            let (p, q) = (row + c * n, below + c * n)
                            for k in 0..<n { p[k] += f * q[k] }
                        }
                    }
                    for c in 0..<columns {
                        let f = il[c]
                        let p = u + c * n
                        for k in 0..<n { p[k] *= f }
                    }
                    for r in 1..<max(1, rows) {
                        let (row, above) = (u + r * width, u + (r - 1) * width)
                        for c in 0..<columns {
                            let f = il[r * columns + c]
                            let (p, q) = (row + c * n, above + c * n)
                            for k in 0..<n { p[k] = (p[k] + gs * q[k]) * f }
                        }
                    }
                }
            }
        }
    }

    /// `q = A_b·p` on the bit-line unknowns.
    func multiplyBitLines(_ p: UnsafePointer<Double>, into q: UnsafeMutablePointer<Double>, batch n: Int) {
        switch bitKind {
        case .pinned: return
        case .merged:
            for c in 0..<columns {
                let d = bitDiagonal[c].isFinite ? bitDiagonal[c] : 0
                for k in 0..<n { q[c * n + k] = d * p[c * n + k] }
            }
        case .chain:
            let width = columns * n
            let gs = columnSegment
            for r in 0..<rows {
                for c in 0..<columns {
                    let d = bitDiagonal[r * columns + c]
                    let (x, y) = (p + r * width + c * n, q + r * width + c * n)
                    for k in 0..<n { y[k] = d * x[k] }
                    if r > 0 {
                        let above = x - width
                        for k in 0..<n { y[k] -= gs * above[k] }
                    }
                    if r < rows - 1 {
                        let below = x + width
                        for k in 0..<n { y[k] -= gs * below[k] }
                    }
                }
            }
        }
    }

    /// `q = A_b·p` and, with `scatter`, `u = G ∘ expand(p)` (`scatterToDevices`), in one pass
    /// over `p` where the bit lines are chains (the fast solver's iteration).
    func multiplyBitLines(_ p: UnsafePointer<Double>, into q: UnsafeMutablePointer<Double>,
                          scatter u: UnsafeMutablePointer<Double>?, batch n: Int) {
        guard bitKind == .chain else {
            multiplyBitLines(p, into: q, batch: n)
            if let u { scatterToDevices(p, into: u, batch: n) }
            return
        }
        let width = columns * n
        let gs = columnSegment
        bitDiagonal.withUnsafeBufferPointer { d in
            g.withUnsafeBufferPointer { g in
                for r in 0..<rows {
                    let (up, down) = (r > 0, r < rows - 1)
                    for c in 0..<columns {
                        let i = r * columns + c
                        let (x, y) = (p + i * n, q + i * n)
                        Self.bitLineStencil(x, into: y, diagonal: d[i], segment: gs, width: width, up: up, down: down, batch: n)
                        if let u {
                            let (dst, gi) = (u + i * n, g[i])
                            for k in 0..<n { dst[k] = gi * x[k] }
                        }
                    }
                }
            }
        }
    }

    /// One node of `A_b·p` on chained bit lines: `y = d·x − g_s·(x above) − g_s·(x below)`, the
    /// neighbours one row (`width` doubles) away where they exist, for `n` batch entries.
    @inline(__always)
    static func bitLineStencil(_ x: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>, diagonal di: Double,
                               segment gs: Double, width: Int, up: Bool, down: Bool, batch n: Int) {
        if up && down {
            let (above, below) = (x - width, x + width)   // pointers: no index arithmetic to trap in the loop
            for k in 0..<n { y[k] = di * x[k] - gs * above[k] - gs * below[k] }
        } else if up {
            let above = x - width
            for k in 0..<n { y[k] = di * x[k] - gs * above[k] }
        } else if down {
            let below = x + width
            for k in 0..<n { y[k] = di * x[k] - gs * below[k] }
        } else {
            for k in 0..<n { y[k] = di * x[k] }
        }
    }

    /// `q = S·p = A_b·p − expandᵀ(G∘A_w⁻¹(G∘expand(p)))` and `pq[k] = Σ p·q` where word and bit
    /// lines are both chains: word line by word line, so that the line's scatter, Thomas sweeps
    /// and gather stay in `s` (`columns·batch` doubles) and in cache. The same operations as
    /// `multiplyBitLines`, `scatterToDevices`, `solveWordLines` and `gatherFromDevices` in turn.
    func applySchurChains(_ p: UnsafePointer<Double>, into q: UnsafeMutablePointer<Double>,
                          scratch s: UnsafeMutablePointer<Double>, dot pq: UnsafeMutablePointer<Double>, batch n: Int) {
        precondition(wordKind == .chain && bitKind == .chain)
        for k in 0..<n { pq[k] = 0 }
        let width = columns * n
        let (gs, segment) = (columnSegment, rowSegment)
        g.withUnsafeBufferPointer { g in
        bitDiagonal.withUnsafeBufferPointer { d in
        wordMultiplier.withUnsafeBufferPointer { m in
        wordInversePivot.withUnsafeBufferPointer { il in
            for r in 0..<rows {
                let (pr, qr) = (p + r * width, q + r * width)
                let (up, down) = (r > 0, r < rows - 1)
                // A_b·p on the row, and the word line's forward sweep of G∘p.
                for c in 0..<columns {
                    let i = r * columns + c
                    let (x, y, sc, gi) = (pr + c * n, qr + c * n, s + c * n, g[i])
                    Self.bitLineStencil(x, into: y, diagonal: d[i], segment: gs, width: width, up: up, down: down, batch: n)
                    if c == 0 {
                        for k in 0..<n { sc[k] = gi * x[k] }
                    } else {
                        let (f, previous) = (m[i], sc - n)
                        for k in 0..<n { sc[k] = gi * x[k] + f * previous[k] }
                    }
                }
                // Back substitution, the gather into q and p·q.
                for c in stride(from: columns - 1, through: 0, by: -1) {
                    let i = r * columns + c
                    let (x, y, sc, f, gi) = (pr + c * n, qr + c * n, s + c * n, il[i], g[i])
                    if c == columns - 1 {
                        for k in 0..<n {
                            sc[k] *= f
                            y[k] -= gi * sc[k]
                            pq[k] += x[k] * y[k]
                        }
                    } else {
                        let next = sc + n
                        for k in 0..<n {
                            sc[k] = (sc[k] + segment * next[k]) * f
                            y[k] -= gi * sc[k]
                            pq[k] += x[k] * y[k]
                        }
                    }
                }
            }
        }
        }
        }
        }
    }

    /// `gatherFromDevices`, then `pq[k] = Σ p·y` over the bit-line unknowns (fused where the
    /// bit lines are chains: each unknown is updated once).
    func gatherFromDevices(_ u: UnsafePointer<Double>, subtractingFrom y: UnsafeMutablePointer<Double>,
                           dotWith p: UnsafePointer<Double>, into pq: UnsafeMutablePointer<Double>, batch n: Int) {
        for k in 0..<n { pq[k] = 0 }
        guard bitKind == .chain else {
            gatherFromDevices(u, subtractingFrom: y, batch: n)
            for i in 0..<bitUnknowns {
                for k in 0..<n { pq[k] += p[i * n + k] * y[i * n + k] }
            }
            return
        }
        g.withUnsafeBufferPointer { g in
            for i in 0..<(rows * columns) {
                let (f, src, dst, pi) = (g[i], u + i * n, y + i * n, p + i * n)
                for k in 0..<n {
                    dst[k] -= f * src[k]
                    pq[k] += pi[k] * dst[k]
                }
            }
        }
    }

    /// `z = A_b⁻¹·r` (`r` unchanged) and `rz[k] = Σ r·z` over the bit-line unknowns: the fast
    /// solver's preconditioner, the same sweeps as `solveBitLines` without the copy.
    func solveBitLines(from r: UnsafePointer<Double>, into z: UnsafeMutablePointer<Double>,
                       dot rz: UnsafeMutablePointer<Double>, batch n: Int) {
        for k in 0..<n { rz[k] = 0 }
        switch bitKind {
        case .pinned: return
        case .merged:
            for c in 0..<columns {
                let f = bitInversePivot[c]
                let (src, dst) = (r + c * n, z + c * n)
                for k in 0..<n {
                    dst[k] = src[k] * f
                    rz[k] += src[k] * dst[k]
                }
            }
        case .chain:
            let width = columns * n
            let gs = columnSegment
            bitMultiplier.withUnsafeBufferPointer { m in
                bitInversePivot.withUnsafeBufferPointer { il in
                    // Forward sweep from the grounded bottom (row rows−1) up to the open top.
                    (z + (rows - 1) * width).update(from: r + (rows - 1) * width, count: width)
                    for row in stride(from: rows - 2, through: 0, by: -1) {
                        let (src, dst, below) = (r + row * width, z + row * width, z + (row + 1) * width)
                        for c in 0..<columns {
                            let f = m[row * columns + c]
                            let (a, p, q) = (src + c * n, dst + c * n, below + c * n)
                            for k in 0..<n { p[k] = a[k] + f * q[k] }
                        }
                    }
                    for c in 0..<columns {
                        let f = il[c]
                        let (a, p) = (r + c * n, z + c * n)
                        for k in 0..<n {
                            p[k] *= f
                            rz[k] += a[k] * p[k]
                        }
                    }
                    for row in 1..<max(1, rows) {
                        let (src, dst, above) = (r + row * width, z + row * width, z + (row - 1) * width)
                        for c in 0..<columns {
                            let f = il[row * columns + c]
                            let (a, p, q) = (src + c * n, dst + c * n, above + c * n)
                            for k in 0..<n {
                                p[k] = (p[k] + gs * q[k]) * f
                                rz[k] += a[k] * p[k]
                            }
                        }
                    }
                }
            }
        }
    }

    /// `u = G ∘ expand(x)`: bit-line unknowns to per-device currents' driving voltages times G
    /// (`[rows, columns, batch]`).
    func scatterToDevices(_ x: UnsafePointer<Double>, into u: UnsafeMutablePointer<Double>, batch n: Int) {
        for r in 0..<rows {
            for c in 0..<columns {
                let f = g[r * columns + c]
                let src = bitKind == .chain ? x + (r * columns + c) * n : x + c * n
                let dst = u + (r * columns + c) * n
                for k in 0..<n { dst[k] = f * src[k] }
            }
        }
    }

    /// `y −= expandᵀ(G ∘ u)`: per-device values back onto the bit-line unknowns.
    func gatherFromDevices(_ u: UnsafePointer<Double>, subtractingFrom y: UnsafeMutablePointer<Double>, batch n: Int) {
        for r in 0..<rows {
            for c in 0..<columns {
                let f = g[r * columns + c]
                let src = u + (r * columns + c) * n
                let dst = bitKind == .chain ? y + (r * columns + c) * n : y + c * n
                for k in 0..<n { dst[k] -= f * src[k] }
            }
        }
    }

    /// Right-hand side of the bit-line system, `expandᵀ(G ∘ h·V)`.
    func bitRightHandSide(inputVolts v: UnsafePointer<Double>, batch n: Int) -> [Double] {
        var b = [Double](repeating: 0, count: bitUnknowns * n)
        guard bitUnknowns > 0 else { return b }
        b.withUnsafeMutableBufferPointer { b in
            for r in 0..<rows {
                for c in 0..<columns {
                    let f = g[r * columns + c] * wordResponse[r * columns + c]
                    guard f != 0 else { continue }
                    let dst = b.baseAddress! + (bitKind == .chain ? (r * columns + c) * n : c * n)
                    let src = v + r * n
                    for k in 0..<n { dst[k] += f * src[k] }
                }
            }
        }
        return b
    }

    /// Column currents, TIA outputs and (optionally) node voltages from the bit-line unknowns `x`.
    func solution(
        _ circuit: TileCircuit, inputVolts v: [Double], bitUnknowns x: [Double], batch n: Int, nodeVoltages: Bool,
        iterations: Int, relativeResidual: Double
    ) -> TileSolution {
        var currents = [Double](repeating: 0, count: columns * n)
        var wordVolts: [Double]?
        var bitVolts: [Double]?
        // Full bit-line voltages.
        var b = [Double](repeating: 0, count: rows * columns * n)
        switch bitKind {
        case .chain: b = x
        case .merged:
            for r in 0..<rows {
                for c in 0..<columns {
                    for k in 0..<n { b[(r * columns + c) * n + k] = x[c * n + k] }
                }
            }
        case .pinned: break
        }
        // Word-line voltages are needed for the currents unless every bit line has a
        // finite conductance to ground (then I_c = g_end·b_bottom).
        let needWords = nodeVoltages || bitKind == .pinned || columnEnd.contains { !$0.isFinite }
        if needWords {
            var w = [Double](repeating: 0, count: rows * columns * n)
            w.withUnsafeMutableBufferPointer { w in
                b.withUnsafeBufferPointer { b in
                    let w = w.baseAddress!
                    if wordKind != .pinned {
                        for i in 0..<(rows * columns) {
                            let f = g[i]
                            for k in 0..<n { w[i * n + k] = f * b[i * n + k] }
                        }
                        solveWordLines(w, batch: n)
                    }
                    for r in 0..<rows {
                        for c in 0..<columns {
                            let h = wordResponse[r * columns + c]
                            let dst = w + (r * columns + c) * n
                            for k in 0..<n { dst[k] += h * v[r * n + k] }
                        }
                    }
                }
            }
            wordVolts = w
        }
        for c in 0..<columns {
            let end = columnEnd[c]
            for k in 0..<n {
                if end.isFinite {
                    let bottom = bitKind == .chain ? x[((rows - 1) * columns + c) * n + k] : x[c * n + k]
                    currents[c * n + k] = end * bottom
                } else if let w = wordVolts {
                    var s = 0.0
                    for r in 0..<rows {
                        let i = (r * columns + c) * n + k
                        s += g[r * columns + c] * (w[i] - b[i])
                    }
                    currents[c * n + k] = s
                }
            }
        }
        if nodeVoltages { bitVolts = b }
        var out = currents
        for c in 0..<columns {
            let z = circuit.transimpedanceOhms(column: c)
            for k in 0..<n { out[c * n + k] *= z }
        }
        return TileSolution(
            batch: n, columnCurrentsAmps: currents, outputVolts: out, wordLineVolts: nodeVoltages ? wordVolts : nil,
            bitLineVolts: bitVolts, iterations: iterations, relativeResidual: relativeResidual)
    }
}

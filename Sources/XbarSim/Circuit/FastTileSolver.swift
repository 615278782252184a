/// Iterative solution of a tile for a whole batch (`--ir-drop fast`).
///
/// Conjugate gradients on the bit-line Schur complement `S = A_b − G·A_w⁻¹·G` (word lines
/// eliminated exactly, see `TileLines`), preconditioned by the bit lines alone (`A_b⁻¹`).
/// One iteration is a word-line solve and a bit-line solve (Thomas algorithm along every
/// line, vectorised over lines x images) plus a few vector updates: `O(R·C·batch)`
/// operations on contiguous buffers, no factorisation. Each image has its own CG scalars;
/// the batch stops when every image's residual satisfies `‖r‖₂ ≤ relativeTolerance·‖b‖₂`
/// (or after `maxIterations`). The preconditioned operator `A_b⁻¹·S = I − A_b⁻¹G·A_w⁻¹G` has
/// its spectrum in `(0, 1]`; weak coupling (small wire resistance relative to the devices)
/// puts it near 1 and CG needs few iterations.
public struct FastTileSolver: TileSolver {
    public let circuit: TileCircuit
    public let relativeTolerance: Double
    public let maxIterations: Int
    let lines: TileLines

    public init(_ circuit: TileCircuit, relativeTolerance: Double = 1e-6, maxIterations: Int = 500) {
        precondition(relativeTolerance > 0 && maxIterations > 0)
        self.circuit = circuit
        self.relativeTolerance = relativeTolerance
        self.maxIterations = maxIterations
        lines = TileLines(circuit)
    }

    /// Unit inputs per solve in `transfer`: the CG buffers of a 128x128 tile (`rows·columns·chunk`
    /// doubles each) then stay in cache instead of streaming 16 MB per buffer and pass.
    public static let transferChunk = 16

    /// The transfer matrix `T` (`columns x rows`, as `transferMatrix()`), solved for the unit
    /// inputs `chunk` at a time, with the most iterations a chunk took and the worst relative
    /// residual. Each unit input's own convergence test is as in `solve`; a chunk stops when
    /// all of its inputs have converged.
    public func transfer(chunk: Int = FastTileSolver.transferChunk) -> (matrix: [Double], iterations: Int, relativeResidual: Double) {
        precondition(chunk > 0)
        let (rows, columns) = (circuit.rows, circuit.columns)
        var t = [Double](repeating: 0, count: columns * rows)
        var (iterations, worst) = (0, 0.0)
        for r0 in stride(from: 0, to: rows, by: chunk) {
            let n = min(chunk, rows - r0)
            var v = [Double](repeating: 0, count: rows * n)
            for k in 0..<n { v[(r0 + k) * n + k] = 1 }
            let s = solve(inputVolts: v, batch: n)
            for c in 0..<columns {
                for k in 0..<n { t[c * rows + r0 + k] = s.columnCurrentsAmps[c * n + k] }
            }
            iterations = max(iterations, s.iterations)
            worst = max(worst, s.relativeResidual)
        }
        return (t, iterations, worst)
    }

    public func solve(inputVolts: [Double], batch n: Int, nodeVoltages: Bool = false) -> TileSolution {
        precondition(inputVolts.count == circuit.rows * n)
        let b = inputVolts.withUnsafeBufferPointer { lines.bitRightHandSide(inputVolts: $0.baseAddress!, batch: n) }
        let size = lines.bitUnknowns
        var x = [Double](repeating: 0, count: size * n)
        var iterations = 0
        var worst = 0.0
        if size > 0 {
            let count = size * n
            let buffers = UnsafeMutablePointer<Double>.allocate(capacity: 4 * count + 6 * n)
            defer { buffers.deallocate() }
            let scratch = UnsafeMutablePointer<Double>.allocate(capacity: circuit.rows * circuit.columns * n)
            defer { scratch.deallocate() }
            let (r, z, p, q) = (buffers, buffers + count, buffers + 2 * count, buffers + 3 * count)
            let (rz, pq, rr, bb, alpha, beta) = (buffers + 4 * count, buffers + 4 * count + n, buffers + 4 * count + 2 * n,
                                                 buffers + 4 * count + 3 * n, buffers + 4 * count + 4 * n,
                                                 buffers + 4 * count + 5 * n)
            b.withUnsafeBufferPointer { r.update(from: $0.baseAddress!, count: count) }
            x.withUnsafeMutableBufferPointer { x in
                let x = x.baseAddress!
                dot(r, r, into: bb, size: size, batch: n)
                rr.update(from: bb, count: n)
                lines.solveBitLines(from: r, into: z, dot: rz, batch: n)
                p.update(from: z, count: count)
                func converged() -> Bool {
                    worst = 0
                    for k in 0..<n where bb[k] > 0 { worst = max(worst, (rr[k] / bb[k]).squareRoot()) }
                    return worst <= relativeTolerance
                }
                guard !converged() else { return }
                while iterations < maxIterations {
                    iterations += 1
                    // q = S·p = A_b·p − expandᵀ(G ∘ A_w⁻¹(G ∘ expand(p))), and pq = p·q.
                    if lines.wordKind == .chain && lines.bitKind == .chain {
                        lines.applySchurChains(p, into: q, scratch: scratch, dot: pq, batch: n)
                    } else if lines.wordKind == .pinned {
                        lines.multiplyBitLines(p, into: q, scatter: nil, batch: n)
                        dot(p, q, into: pq, size: size, batch: n)
                    } else {
                        lines.multiplyBitLines(p, into: q, scatter: scratch, batch: n)
                        lines.solveWordLines(scratch, batch: n)
                        lines.gatherFromDevices(scratch, subtractingFrom: q, dotWith: p, into: pq, batch: n)
                    }
                    for k in 0..<n { alpha[k] = pq[k] > 0 ? rz[k] / pq[k] : 0 }
                    // x += α·p, r −= α·q, rr = r·r.
                    for k in 0..<n { rr[k] = 0 }
                    for i in 0..<size {
                        let (xi, ri, pi, qi) = (x + i * n, r + i * n, p + i * n, q + i * n)
                        for k in 0..<n {
                            xi[k] += alpha[k] * pi[k]
                            ri[k] -= alpha[k] * qi[k]
                            rr[k] += ri[k] * ri[k]
                        }
                    }
                    if converged() { break }
                    // z = A_b⁻¹·r with the new r·z; p = z + β·p.
                    beta.update(from: rz, count: n)
                    lines.solveBitLines(from: r, into: z, dot: rz, batch: n)
                    for k in 0..<n { beta[k] = beta[k] > 0 ? rz[k] / beta[k] : 0 }
                    for i in 0..<size {
                        let (pi, zi) = (p + i * n, z + i * n)
                        for k in 0..<n { pi[k] = zi[k] + beta[k] * pi[k] }
                    }
                }
            }
        }
        return lines.solution(circuit, inputVolts: inputVolts, bitUnknowns: x, batch: n, nodeVoltages: nodeVoltages,
                              iterations: iterations, relativeResidual: worst)
    }

    /// Per-image dot products of two `[size, n]` buffers.
    private func dot(_ a: UnsafePointer<Double>, _ c: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>,
                     size: Int, batch n: Int) {
        for k in 0..<n { out[k] = 0 }
        for i in 0..<size {
            let (u, v) = (a + i * n, c + i * n)
            for k in 0..<n { out[k] += u[k] * v[k] }
        }
    }
}

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

    /// `q = S·p`; `scratch` is `[rows, columns, batch]`.
    func applySchur(_ p: UnsafePointer<Double>, _ q: UnsafeMutablePointer<Double>, _ scratch: UnsafeMutablePointer<Double>,
                    batch n: Int) {
        lines.multiplyBitLines(p, into: q, batch: n)
        guard lines.wordKind != .pinned else { return }
        lines.scatterToDevices(p, into: scratch, batch: n)
        lines.solveWordLines(scratch, batch: n)
        lines.gatherFromDevices(scratch, subtractingFrom: q, batch: n)
    }

    public func solve(inputVolts: [Double], batch n: Int, nodeVoltages: Bool = false) -> TileSolution {
        precondition(inputVolts.count == circuit.rows * n)
        let b = inputVolts.withUnsafeBufferPointer { lines.bitRightHandSide(inputVolts: $0.baseAddress!, batch: n) }
        let size = lines.bitUnknowns
        var x = [Double](repeating: 0, count: size * n)
        var iterations = 0
        var worst = 0.0
        if size > 0 {
            var r = b
            var z = r
            var q = x
            var scratch = [Double](repeating: 0, count: circuit.rows * circuit.columns * n)
            var rz = [Double](repeating: 0, count: n)
            var pq = rz, rr = rz, bb = rz, alpha = rz, beta = rz
            x.withUnsafeMutableBufferPointer { x in
            r.withUnsafeMutableBufferPointer { r in
            z.withUnsafeMutableBufferPointer { z in
            q.withUnsafeMutableBufferPointer { q in
            scratch.withUnsafeMutableBufferPointer { scratch in
                let (x, r, z, q, s) = (x.baseAddress!, r.baseAddress!, z.baseAddress!, q.baseAddress!, scratch.baseAddress!)
                /// Per-image dot products of two `[size, n]` buffers.
                func dot(_ a: UnsafePointer<Double>, _ c: UnsafePointer<Double>, into out: inout [Double]) {
                    for k in 0..<n { out[k] = 0 }
                    out.withUnsafeMutableBufferPointer { o in
                        for i in 0..<size {
                            let (u, v) = (a + i * n, c + i * n)
                            for k in 0..<n { o[k] += u[k] * v[k] }
                        }
                    }
                }
                dot(r, r, into: &bb)
                lines.solveBitLines(z, batch: n)
                var p = [Double](UnsafeBufferPointer(start: z, count: size * n))
                dot(r, z, into: &rz)
                p.withUnsafeMutableBufferPointer { p in
                    let p = p.baseAddress!
                    func converged() -> Bool {
                        dot(r, r, into: &rr)
                        worst = 0
                        for k in 0..<n where bb[k] > 0 { worst = max(worst, (rr[k] / bb[k]).squareRoot()) }
                        return worst <= relativeTolerance
                    }
                    if converged() { return }
                    while iterations < maxIterations {
                        iterations += 1
                        applySchur(p, q, s, batch: n)
                        dot(p, q, into: &pq)
                        for k in 0..<n { alpha[k] = pq[k] > 0 ? rz[k] / pq[k] : 0 }
                        for i in 0..<size {
                            let (xi, ri, pi, qi) = (x + i * n, r + i * n, p + i * n, q + i * n)
                            for k in 0..<n {
                                xi[k] += alpha[k] * pi[k]
                                ri[k] -= alpha[k] * qi[k]
                            }
                        }
                        if converged() { break }
                        z.update(from: r, count: size * n)
                        lines.solveBitLines(z, batch: n)
                        for k in 0..<n { beta[k] = rz[k] }
                        dot(r, z, into: &rz)
                        for k in 0..<n { beta[k] = beta[k] > 0 ? rz[k] / beta[k] : 0 }
                        for i in 0..<size {
                            let (pi, zi) = (p + i * n, z + i * n)
                            for k in 0..<n { pi[k] = zi[k] + beta[k] * pi[k] }
                        }
                    }
                }
            }
            }
            }
            }
            }
        }
        return lines.solution(circuit, inputVolts: inputVolts, bitUnknowns: x, batch: n, nodeVoltages: nodeVoltages,
                              iterations: iterations, relativeResidual: worst)
    }
}

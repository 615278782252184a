import XbarSimAnalog
import XbarSimCircuit
import XbarSimCrossbar
import XbarSimTensor

/// The read power of one crossbar op on one chip as quadratic forms of its logical rows:
/// what ``ReadEnergy/solvedCrossbarJoules(forms:layer:input:voltsPerUnit:readSeconds:dac:threads:)``
/// needs to turn a batch's receptive fields into device and wire energy with IR drop.
///
/// Every physical tile of the op (`CrossbarLayer.physicalTiles()`: the circuits its weights
/// were read from, programmed conductances, row order and signs, wires, TIAs) is solved once
/// (``TileEnergyForms``). Physical row `p` is driven at `V_p = sign_p · x_l · voltsPerUnit`
/// from logical row `l` (`RowDrive`; bias rows at `x = 1`), so over the logical rows a tile's
/// form is
///
///     Q_log[l, l'] = Σ_{p→l} Σ_{p'→l'} sign_p · sign_p' · Q[p, p']
///
/// and tiles that read the same logical rows of the same group (column tiles side by side,
/// the per-output circuits of a grouped op's group) add their forms into one ``Block``.
public struct CrossbarEnergyForms: Sendable {
    /// The summed forms of the tiles reading `logicalRows` of group `group`.
    public struct Block: Sendable {
        /// Convolution group (0 for ungrouped ops) whose receptive field drives the rows.
        public var group: Int
        /// Logical rows (of `MappedCrossbar.rows`: inputs, then bias rows).
        public var logicalRows: Range<Int>
        /// `logicalRows.count²`, row-major, siemens (watts per volt²).
        public var deviceSiemens: [Double]
        /// Word and bit lines plus the drivers' source resistances (`R_s`).
        public var wireSiemens: [Double]
    }

    public var blocks: [Block]
    /// Physical tiles solved.
    public var tiles: Int
    /// Fast-solver iterations summed over the tiles (0 for the exact solver).
    public var solverIterations: Int

    /// Forms of each of `layers`, every physical tile solved with its layer's IR-drop solver
    /// (`circuitOptions.circuit`, which must solve tiles), tiles in parallel.
    ///
    /// - Throws: `TileSolveError` when a tile cannot be solved (exact: not positive definite;
    ///   fast: the residual stays above the tolerance), as building the chip would have.
    public static func build(_ layers: [CrossbarLayer], threads: Int) throws -> [CrossbarEnergyForms] {
        var jobs: [(layer: Int, tile: PhysicalTile)] = []
        for (i, layer) in layers.enumerated() {
            precondition(layer.circuitOptions.circuit.solvesTiles, "energy forms need an IR-drop solver")
            jobs += layer.physicalTiles().map { (i, $0) }
        }
        var solved = [(Block, Int)?](repeating: nil, count: jobs.count)
        var failures = [String?](repeating: nil, count: jobs.count)
        // Single-threaded BLAS inside parallel tiles (as EffectiveWeights.solveTiles).
        let blasThreads = BLAS.threads
        if threads > 1 { BLAS.setThreads(1) }
        defer { if threads > 1 { BLAS.setThreads(blasThreads) } }
        let workers = max(1, min(threads, jobs.count))
        solved.withUnsafeMutableBufferPointer { out in
            failures.withUnsafeMutableBufferPointer { failed in
                let box = UncheckedSendable((out, failed))
                // Interleaved, so large and small tiles spread over the workers.
                Parallel.forEach(workers, threads: workers) { w in
                    for j in stride(from: w, to: jobs.count, by: workers) {
                        let (l, tile) = jobs[j]
                        do {
                            box.value.0[j] = try block(tile, layer: layers[l])
                        } catch let error as TileSolveError {
                            box.value.1[j] = error.message
                        } catch {
                            box.value.1[j] = "\(error)"
                        }
                    }
                }
            }
        }
        if let j = failures.firstIndex(where: { $0 != nil }), let message = failures[j] {
            let c = jobs[j].tile.circuit
            throw TileSolveError(tile: j, rows: c.rows, columns: c.columns, message: message)
        }
        var result = layers.map { _ in CrossbarEnergyForms(blocks: [], tiles: 0, solverIterations: 0) }
        var index = layers.map { _ in [[Int]: Int]() }   // [group, first row, end row] -> block
        for (j, job) in jobs.enumerated() {
            guard let (b, iterations) = solved[j] else { continue }
            let key = [b.group, b.logicalRows.lowerBound, b.logicalRows.upperBound]
            if let i = index[job.layer][key] {
                result[job.layer].blocks[i].add(b)
            } else {
                index[job.layer][key] = result[job.layer].blocks.count
                result[job.layer].blocks.append(b)
            }
            result[job.layer].tiles += 1
            result[job.layer].solverIterations += iterations
        }
        return result
    }

    /// One tile's forms over its logical rows, and the solver's iterations.
    static func block(_ tile: PhysicalTile, layer: CrossbarLayer) throws -> (Block, Int) {
        let model = layer.circuitOptions.circuit
        guard let solver = try model.solver(for: tile.circuit) else {
            preconditionFailure("energy forms need an IR-drop solver")
        }
        let forms = TileEnergyForms(solver: solver)
        if model.irDrop == .fast, !(forms.relativeResidual <= model.fastTolerance) {
            throw TileSolveError(
                tile: 0, rows: tile.circuit.rows, columns: tile.circuit.columns,
                message: "the fast solver reached a relative residual of \(forms.relativeResidual) after "
                    + "\(forms.solverIterations) iterations, above --ir-drop-tolerance \(model.fastTolerance)")
        }
        let rows = tile.logicalRows
        let n = rows.count
        var device = [Double](repeating: 0, count: n * n)
        var wire = device
        let p = tile.circuit.rows
        for (i, a) in tile.rowDrives.enumerated() {
            for (j, b) in tile.rowDrives.enumerated() {
                let k = (a.logicalRow - rows.lowerBound) * n + (b.logicalRow - rows.lowerBound)
                let s = a.sign * b.sign
                device[k] += s * forms.deviceSiemens[i * p + j]
                wire[k] += s * (forms.wireSiemens[i * p + j] + forms.sourceSiemens[i * p + j])
            }
        }
        let outputsPerGroup = max(1, layer.mapped.outputs / max(1, layer.geometry.groups))
        let group = layer.geometry.groups > 1 ? tile.outputs.lowerBound / outputsPerGroup : 0
        return (Block(group: group, logicalRows: rows, deviceSiemens: device, wireSiemens: wire), forms.solverIterations)
    }

}

extension CrossbarEnergyForms.Block {
    /// Adds the forms of another tile reading the same group and rows.
    mutating func add(_ other: Self) {
        precondition(other.group == group && other.logicalRows == logicalRows)
        for k in deviceSiemens.indices {
            deviceSiemens[k] += other.deviceSiemens[k]
            wireSiemens[k] += other.wireSiemens[k]
        }
    }
}

import XbarSimAnalog
import XbarSimCrossbar
import XbarSimTensor

extension ReadEnergy {
    /// Device and wire energy of all reads of one crossbar op with IR drop (whole batch, joules).
    ///
    /// Read `n` drives a block's logical rows with `x_n` (its receptive field, bias rows at 1),
    /// so with the block's forms `Q` (``CrossbarEnergyForms``, siemens) and `u = voltsPerUnit`
    ///
    ///     E = t · u² · Σ_n x_nᵀ·Q·x_n = t · u² · trace(Q·S),     S = Σ_n x_n·x_nᵀ
    ///
    /// `S` comes from the receptive-field moments (`Kernels.receptiveFieldMoments`): the gram
    /// of the input rows, their sums against the bias rows, and the number of reads between
    /// bias rows. Exact for the linear tile circuits; the cost per batch is one `dsyrk` per block,
    /// not a circuit solve per read.
    ///
    /// - Parameter dac: the input DAC the rows are driven through (digitized mode), or nil.
    public static func solvedCrossbarJoules(
        forms: CrossbarEnergyForms, layer: CrossbarLayer, input: Tensor, voltsPerUnit: Double, readSeconds: Double,
        dac: SymmetricQuantizer?, threads: Int = 1
    ) -> (deviceJoules: Double, wireJoules: Double) {
        var x = input
        if let dac { x.scalars.withUnsafeMutableBufferPointer { dac.apply($0) } }
        let inputs = layer.mapped.inputs
        let blocks = forms.blocks
        var sums = [(device: Double, wire: Double)](repeating: (0, 0), count: blocks.count)
        let blasThreads = BLAS.threads
        if threads > 1 { BLAS.setThreads(1) }
        defer { if threads > 1 { BLAS.setThreads(blasThreads) } }
        sums.withUnsafeMutableBufferPointer { out in
            let box = UncheckedSendable(out)
            let workers = max(1, min(threads, blocks.count))
            Parallel.forEach(workers, threads: workers) { w in
                for i in stride(from: w, to: blocks.count, by: workers) {
                    let b = blocks[i]
                    let rows = min(b.logicalRows.lowerBound, inputs)..<min(b.logicalRows.upperBound, inputs)
                    let m = Kernels.receptiveFieldMoments(x, geometry: layer.geometry, group: b.group, rows: rows, threads: 1)
                    box.value[i] = (trace(b.deviceSiemens, m, rows: b.logicalRows.count),
                                    trace(b.wireSiemens, m, rows: b.logicalRows.count))
                }
            }
        }
        let scale = readSeconds * voltsPerUnit * voltsPerUnit
        return (sums.reduce(0) { $0 + $1.device } * scale, sums.reduce(0) { $0 + $1.wire } * scale)
    }

    /// `trace(Q·S)` for a symmetric `Q` over `rows` logical rows whose first `m.rows.count` are
    /// input rows (moments `m`) and the rest bias rows (driven at 1 in every read).
    static func trace(_ q: [Double], _ m: ReceptiveFieldMoments, rows n: Int) -> Double {
        let k = m.rows.count
        var e = 0.0
        for i in 0..<n {
            for j in 0..<n {
                let s: Double
                switch (i < k, j < k) {
                case (true, true): s = m.gram[i * k + j]
                case (true, false): s = m.sums[i]
                case (false, true): s = m.sums[j]
                case (false, false): s = Double(m.reads)
                }
                e += q[i * n + j] * s
            }
        }
        return e
    }
}

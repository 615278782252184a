import XbarSimCircuit
import XbarSimTensor

/// What the engine multiplies with for one part of a programmed crossbar (the whole
/// crossbar, or one row tile when row tiles are converted separately), in signal units.
///
/// Every weight is read off the physical tiles' circuits: with `T` a tile's transfer
/// matrix (`I_c = Σ_p T_cp·V_p`, amps per volt, from `TileSolver.transferMatrix` or, without
/// IR drop, `T_cp = G_pc/(1 + R_t·ΣG_c)`), the tile contributes
///
///     w_ol += Σ_{c→o} Σ_{p→l} sign_c · Z_c · T_cp · sign_p · κ
///
/// (`Z_c` the TIA's transimpedance, `sign_c`/`sign_p` from `ColumnRead`/`RowDrive`, `κ` the
/// drift compensation, global or per output), which is exact for the linear tile circuit: inference stays one GEMM
/// per crossbar and IR drop costs one circuit solve per tile and chip.
///
/// Read noise keeps the output-statistics model of `ProgrammedCrossbar`, with variances
/// from the conductances and the ideal-wire gains (first order in the wire resistance).
public struct EffectiveWeights: Sendable {
    /// Logical inputs (of `MappedCrossbar.inputs`) this part reads.
    public var inputRows: Range<Int>
    /// `outputs x inputRows.count`, row-major.
    public var weights: [Float]
    /// Bias rows of this part, summed; nil when it has none.
    public var bias: [Float]?
    /// `G⁺`- and `G⁻`-TIA halves (differential scheme with rails), else nil.
    public var positiveWeights: [Float]?
    public var negativeWeights: [Float]?
    public var positiveBias: [Float]?
    public var negativeBias: [Float]?
    /// Inverted-output scheme with rails: per output, the gain `γ_b` of TIA_b applied to
    /// TIA_a's (clipped) output, so `y = clip(p − γ_b·clip(n))` with `p`/`n` the
    /// `positiveWeights`/`negativeWeights` parts (`weights` = `p − γ_b·n`); nil otherwise
    /// (and `γ_b = 1` with ideal op-amps).
    public var negativeChainGain: [Float]?
    /// Read-noise variance weights and bias variance; nil without read noise.
    public var variance: [Float]?
    public var biasVariance: [Float]?
    /// Iterations of the fast solver, summed over this part's tiles (0 otherwise).
    public var solverIterations: Int
}

/// Options of `EffectiveWeights.build`.
public struct EffectiveWeightOptions: Sendable {
    public var tile: TileSize
    public var circuit: CircuitModel
    public var opAmp: OpAmp
    /// One part per row tile (digitized mode: each row tile has its own TIAs and ADC);
    /// otherwise one part whose row tiles add their currents on the wire into shared TIAs.
    public var partPerRowTile: Bool
    /// Each output's columns form their own circuit (grouped and depthwise ops, where
    /// outputs do not share inputs: a block-diagonal layout with word lines cut between outputs).
    public var separateOutputs: Bool
    public var keepTIAsSeparate: Bool
    public var readNoiseSigma: Double
    public var driftCompensation: Double
    /// Per-output drift compensation (`ProgrammedCrossbar.columnDriftCompensation`), applied
    /// with `driftCompensation`; nil: none.
    public var columnDriftCompensation: [Double]?
    public var threads: Int

    public init(
        tile: TileSize, circuit: CircuitModel, opAmp: OpAmp, partPerRowTile: Bool, separateOutputs: Bool,
        keepTIAsSeparate: Bool, readNoiseSigma: Double, driftCompensation: Double,
        columnDriftCompensation: [Double]? = nil, threads: Int
    ) {
        self.columnDriftCompensation = columnDriftCompensation
        self.tile = tile
        self.circuit = circuit
        self.opAmp = opAmp
        self.partPerRowTile = partPerRowTile
        self.separateOutputs = separateOutputs
        self.keepTIAsSeparate = keepTIAsSeparate
        self.readNoiseSigma = readNoiseSigma
        self.driftCompensation = driftCompensation
        self.threads = threads
    }
}

extension EffectiveWeights {
    /// Builds the parts of a programmed crossbar (conductances `positiveSiemens`/`negativeSiemens`,
    /// `outputs x rows`), solving every tile with `options.circuit.irDrop`.
    ///
    /// TIAs: a part's tiles are solved with their own TIAs' finite gain when each row tile
    /// has its own TIAs (one row tile, or `partPerRowTile`). When several row tiles share
    /// one TIA per output (analog mode), each tile is solved into an ideal virtual ground and
    /// the shared TIA's gain factor `γ = 1/(1 + (1 + R_f·ΣG)/A)` (`ΣG` over the whole
    /// column) is applied afterwards: this neglects the change of the column's input
    /// conductance by the wires inside `γ`, a second-order term (`R_f/A` times the IR drop).
    public static func build(
        mapped: MappedCrossbar, positiveSiemens: [Double], negativeSiemens: [Double], options: EffectiveWeightOptions
    ) throws -> [EffectiveWeights] {
        let rowTiles = PhysicalLayout.rowTiles(mapped, tile: options.tile)
        let sharedTIA = Self.sharesTIAs(mapped, options: options)
        let tiles = physicalTiles(mapped: mapped, positiveSiemens: positiveSiemens, negativeSiemens: negativeSiemens,
                                  options: options)

        // Shared-TIA gain factors per output (and per half in the differential scheme).
        var sharedGain = [[Double]](repeating: [1, 1], count: mapped.outputs)
        if sharedTIA {
            for o in 0..<mapped.outputs {
                var sumPos = 0.0, sumNeg = 0.0
                for r in 0..<mapped.rows {
                    sumPos += positiveSiemens[o * mapped.rows + r]
                    sumNeg += negativeSiemens[o * mapped.rows + r]
                }
                let s = mapped.siemensPerUnit[o]
                switch mapped.scheme {
                case .paper:
                    let g = options.opAmp.gainFactor(feedbackTimesInputConductance: (sumPos + sumNeg) / s)
                    sharedGain[o] = [g, g]
                case .differential:
                    // Columns 2o (G⁺) and 2o+1 (G⁻): index by column parity.
                    sharedGain[o] = [options.opAmp.gainFactor(feedbackTimesInputConductance: sumPos / s),
                                     options.opAmp.gainFactor(feedbackTimesInputConductance: sumNeg / s)]
                case .invertedOutput:
                    // TIA_b (G⁺ column) also sees TIA_a's output resistor R_f: R_f·G_in = ΣG⁺/s + 1.
                    sharedGain[o] = [options.opAmp.gainFactor(feedbackTimesInputConductance: sumPos / s + 1),
                                     options.opAmp.gainFactor(feedbackTimesInputConductance: sumNeg / s)]
                }
            }
        }

        // Transfer matrices (amps per volt, columns x rows), solved in parallel over tiles.
        let transfers = try solveTiles(tiles, circuit: options.circuit, threads: options.threads)

        let parts = options.partPerRowTile ? rowTiles : [0..<mapped.rows]
        let sigma = options.readNoiseSigma
        let kappa = options.driftCompensation
        var result: [EffectiveWeights] = []
        for part in parts {
            let inputs = min(part.lowerBound, mapped.inputs)..<min(part.upperBound, mapped.inputs)
            let width = max(0, inputs.count)
            let hasBias = part.upperBound > mapped.inputs
            var w = [Double](repeating: 0, count: mapped.outputs * width)
            var b = [Double](repeating: 0, count: mapped.outputs)
            var wp = options.keepTIAsSeparate ? w : [], wn = options.keepTIAsSeparate ? w : []
            var bp = options.keepTIAsSeparate ? b : [], bn = options.keepTIAsSeparate ? b : []
            var v = sigma > 0 ? w : [], bv = sigma > 0 ? b : []
            let inverted = mapped.scheme == .invertedOutput
            var chainGain = [Double](repeating: 1, count: inverted && options.keepTIAsSeparate ? mapped.outputs : 0)
            var iterations = 0
            for (t, (transfer, its)) in zip(tiles, transfers) where part.contains(t.logicalRows.lowerBound) {
                iterations += its
                let circuit = t.circuit
                let rows = circuit.rows
                for (c, read) in t.columnReads.enumerated() {
                    let o = read.output
                    let parity = mapped.scheme == .paper ? 0 : c % 2
                    let gamma = sharedGain[o][parity]
                    let z = circuit.transimpedanceOhms(column: c) * gamma * kappa
                        * (options.columnDriftCompensation?[o] ?? 1)
                    // Ideal-wire gain of this column for the read-noise variance.
                    var sumG = 0.0
                    for p in 0..<rows { sumG += circuit.conductance(row: p, column: c) }
                    // Inverted-output: the G⁻ column's TIA_a output passes TIA_b (gain γ_b).
                    var chain = 1.0
                    if inverted && parity == 1 {
                        if sharedTIA {
                            chain = sharedGain[o][0]
                        } else {
                            var sumPos = 0.0
                            for p in 0..<rows { sumPos += circuit.conductance(row: p, column: c - 1) }
                            chain = options.opAmp.gainFactor(
                                feedbackTimesInputConductance: sumPos / mapped.siemensPerUnit[o] + 1)
                        }
                        if !chainGain.isEmpty { chainGain[o] = chain }
                    }
                    let noiseGain = chain * z / (1 + circuit.terminationOhms(column: c) * sumG)
                    for (p, drive) in t.rowDrives.enumerated() {
                        let l = drive.logicalRow
                        let u = read.sign * z * transfer[c * rows + p] * drive.sign
                        let device = noiseGain * circuit.conductance(row: p, column: c)
                        let noise = sigma * sigma * device * device
                        if l < mapped.inputs {
                            let i = o * width + (l - inputs.lowerBound)
                            w[i] += u * chain
                            if options.keepTIAsSeparate { if read.sign < 0 { wp[i] += u } else { wn[i] -= u } }
                            if sigma > 0 { v[i] += noise }
                        } else {
                            b[o] += u * chain
                            if options.keepTIAsSeparate { if read.sign < 0 { bp[o] += u } else { bn[o] -= u } }
                            if sigma > 0 { bv[o] += noise }
                        }
                    }
                }
            }
            func float(_ x: [Double]) -> [Float] { x.map { Float($0) } }
            result.append(EffectiveWeights(
                inputRows: inputs, weights: float(w),
                bias: hasBias ? float(b) : nil,
                positiveWeights: options.keepTIAsSeparate ? float(wp) : nil,
                negativeWeights: options.keepTIAsSeparate ? float(wn) : nil,
                positiveBias: options.keepTIAsSeparate && hasBias ? float(bp) : nil,
                negativeBias: options.keepTIAsSeparate && hasBias ? float(bn) : nil,
                negativeChainGain: chainGain.isEmpty ? nil : float(chainGain),
                variance: sigma > 0 ? float(v) : nil, biasVariance: sigma > 0 && hasBias ? float(bv) : nil,
                solverIterations: iterations))
        }
        return result
    }

    /// Whether several row tiles add their currents into one TIA per output (analog mode):
    /// their tiles are then solved into an ideal virtual ground (see `build`).
    static func sharesTIAs(_ mapped: MappedCrossbar, options: EffectiveWeightOptions) -> Bool {
        !options.partPerRowTile && PhysicalLayout.rowTiles(mapped, tile: options.tile).count > 1
    }

    /// The circuits `build` solves: the layout's physical tiles (`PhysicalLayout.tiles`) with
    /// the options' wires and TIA gain (ideal when TIAs are shared), one circuit per output
    /// for grouped ops (`separateOutputs`). Energy accounting solves exactly these.
    public static func physicalTiles(
        mapped: MappedCrossbar, positiveSiemens: [Double], negativeSiemens: [Double], options: EffectiveWeightOptions
    ) -> [PhysicalTile] {
        let tiles = PhysicalLayout.tiles(
            mapped, positiveSiemens: positiveSiemens, negativeSiemens: negativeSiemens, tile: options.tile,
            wires: options.circuit.wires,
            openLoopGain: sharesTIAs(mapped, options: options) ? nil : options.opAmp.openLoopGain)
        return options.separateOutputs ? tiles.flatMap(splitByOutput) : tiles
    }

    /// One circuit per output: the tile's columns of each output with their own word lines.
    static func splitByOutput(_ t: PhysicalTile) -> [PhysicalTile] {
        t.outputs.map { o in
            let columns = t.columnReads.indices.filter { t.columnReads[$0].output == o }
            let c = t.circuit
            var g = [Double](repeating: 0, count: c.rows * columns.count)
            for r in 0..<c.rows {
                for (j, col) in columns.enumerated() { g[r * columns.count + j] = c.conductance(row: r, column: col) }
            }
            let circuit = TileCircuit(rows: c.rows, columns: columns.count, conductanceSiemens: g, wires: c.wires,
                                      feedbackOhms: columns.map { c.feedbackOhms[$0] }, openLoopGain: c.openLoopGain)
            return PhysicalTile(circuit: circuit, rowDrives: t.rowDrives, columnReads: columns.map { t.columnReads[$0] },
                                logicalRows: t.logicalRows, outputs: o..<(o + 1))
        }
    }

    /// `(T, iterations)` of every tile with the chosen solver; `off` uses the ideal-wire closed form.
    static func solveTiles(_ tiles: [PhysicalTile], circuit model: CircuitModel, threads: Int) throws -> [([Double], Int)] {
        var out = [([Double], Int)](repeating: ([], 0), count: tiles.count)
        // Each tile writes only its own slots.
        var failures = [String?](repeating: nil, count: tiles.count)
        // Tiles are solved in parallel, each with single-threaded BLAS: OpenBLAS's own threads
        // called from several threads at once contend badly (measured: 18x slower on 2 cores).
        let blasThreads = BLAS.threads
        if threads > 1 && model.irDrop == .exact { BLAS.setThreads(1) }
        defer { if threads > 1 && model.irDrop == .exact { BLAS.setThreads(blasThreads) } }
        let progress = TileSolveProgress.shared.tracker(total: tiles.count)
        out.withUnsafeMutableBufferPointer { buffer in
            failures.withUnsafeMutableBufferPointer { failed in
            let box = UncheckedSendable((buffer, failed))
            Parallel.forEach(tiles.count, threads: threads) { i in
                let c = tiles[i].circuit
                do {
                    switch model.irDrop {
                    case .off:
                        box.value.0[i] = (idealTransfer(c), 0)
                    case .exact:
                        box.value.0[i] = (try ExactTileSolver(c).transferMatrix(), 0)
                    case .fast:
                        let solver = FastTileSolver(c, relativeTolerance: model.fastTolerance,
                                                    maxIterations: model.fastMaxIterations)
                        let s = solver.transfer()
                        box.value.0[i] = (s.matrix, s.iterations)
                        if !(s.relativeResidual <= model.fastTolerance) {
                            box.value.1[i] = "the fast solver reached a relative residual of \(s.relativeResidual) after "
                                + "\(s.iterations) iterations, above --ir-drop-tolerance \(model.fastTolerance); "
                                + "raise the tolerance or use --ir-drop exact"
                        }
                    }
                } catch {
                    box.value.1[i] = "\(error)"
                }
                progress.tileDone(iterations: box.value.0[i].1)
            }
            }
        }
        if let i = failures.firstIndex(where: { $0 != nil }), let message = failures[i] {
            throw TileSolveError(tile: i, rows: tiles[i].circuit.rows, columns: tiles[i].circuit.columns, message: message)
        }
        return out
    }

    /// `T_cp = G_pc / (1 + R_t,c·ΣG_c)`: the tile with ideal wires.
    static func idealTransfer(_ c: TileCircuit) -> [Double] {
        var t = [Double](repeating: 0, count: c.columns * c.rows)
        for col in 0..<c.columns {
            var sumG = 0.0
            for r in 0..<c.rows { sumG += c.conductance(row: r, column: col) }
            let k = 1 / (1 + c.terminationOhms(column: col) * sumG)
            for r in 0..<c.rows { t[col * c.rows + r] = c.conductance(row: r, column: col) * k }
        }
        return t
    }
}

/// A tile's circuit could not be solved (its nodal matrix was not positive definite,
/// which only extreme or non-finite parameters can cause).
public struct TileSolveError: Error, CustomStringConvertible {
    public var tile: Int
    public var rows: Int
    public var columns: Int
    public var message: String

    public init(tile: Int, rows: Int, columns: Int, message: String) {
        self.tile = tile
        self.rows = rows
        self.columns = columns
        self.message = message
    }

    public var description: String { "IR-drop solve of tile \(tile) (\(rows)x\(columns)) failed: \(message)" }
}

import Dispatch
import XbarSimAnalog
import XbarSimCircuit
import XbarSimCrossbar
import XbarSimTensor

/// Energy the devices of a crossbar dissipate while it is read.
///
/// With ideal wires every device `(r, c)` sees its row voltage across it (the bit line
/// sits at the TIA's virtual ground, 0 V), so one read of `t` seconds costs
///
///     E = t · Σ_r V_r² · Σ_c G_rc
///
/// over the physical rows. In the paper scheme the rows `+x_i` and `−x_i` carry the
/// same `V²`, so logical input `i` contributes `V_i²·Σ_o (G⁺_oi + G⁻_oi)`; in the
/// differential scheme both devices of a weight share the row: the same expression.
/// Bias rows are driven at 1 unit. Summed over the reads of a convolution (one per output
/// position) this is a convolution of the squared input with the conductance sums:
/// for one group, one output channel holding `Σ_o G_or`; for grouped ops (depthwise,
/// batch-norm stages, GAP), `G⁺ + G⁻` per output. Volts are units · `voltsPerUnit`.
///
/// With IR drop the bit lines are not at 0 V and the wires dissipate too:
/// ``solvedCrossbarJoules(forms:layer:input:voltsPerUnit:readSeconds:dac:threads:)`` takes both
/// from the solved tiles' quadratic forms (``CrossbarEnergyForms``).
public enum ReadEnergy {
    /// Energy of all reads of one crossbar op on a `[C, H, W, N]` batch (whole batch, joules),
    /// and a bound on the largest power of one device during them (watts): per input channel,
    /// its largest `V²` in the batch times the largest conductance it drives (bias rows: `V_unit²·G`).
    ///
    /// - Parameter dac: the input DAC the rows are driven through (digitized mode), or nil.
    public static func crossbarJoules(
        layer: CrossbarLayer, input: Tensor, voltsPerUnit: Double, readSeconds: Double, dac: SymmetricQuantizer?,
        threads: Int = 1
    ) -> (joules: Double, maxDevicePowerWatts: Double) {
        let m = layer.mapped
        let p = layer.programmed
        var g = layer.geometry
        let x = drivenInput(input, dac: dac)
        let rows = m.rows
        let (conductance, biasConductance) = columnConductances(layer)
        // Largest device conductance fed by each input channel (for the power bound).
        let taps = g.kernelHeight * g.kernelWidth
        var maxGByChannel = [Double](repeating: 0, count: g.inChannels)
        var maxBiasG = 0.0
        let outputsPerGroup = max(1, m.outputs / g.groups)
        for o in 0..<m.outputs {
            for r in 0..<rows {
                let gp = p.positiveSiemens[o * rows + r], gn = p.negativeSiemens[o * rows + r]
                if r < m.inputs {
                    let channel = (o / outputsPerGroup) * g.channelsPerGroup + r / taps
                    if channel < maxGByChannel.count { maxGByChannel[channel] = max(maxGByChannel[channel], gp, gn) }
                } else {
                    maxBiasG = max(maxBiasG, gp, gn)
                }
            }
        }
        let squared = Kernels.squared(x)
        let reads: Tensor
        if g.groups == 1 {
            // Every output column shares the rows: one channel of row sums.
            var rowSums = [Float](repeating: 0, count: m.inputs)
            for o in 0..<m.outputs { for r in 0..<m.inputs { rowSums[r] += conductance[o * m.inputs + r] } }
            g.outChannels = 1
            reads = Kernels.conv2d(squared, weight: rowSums, bias: [biasConductance.reduce(0, +)], geometry: g, threads: threads)
        } else {
            reads = Kernels.conv2d(squared, weight: conductance, bias: biasConductance, geometry: g, threads: threads)
        }
        var sum = 0.0
        reads.scalars.withUnsafeBufferPointer { for v in $0 { sum += Double(v) } }
        let v2 = voltsPerUnit * voltsPerUnit
        // Per input channel: largest |x|² of the batch times the largest conductance it drives.
        var maxPower = v2 * maxBiasG
        let plane = x.shape.count == 4 ? x.shape[1] * x.shape[2] * x.shape[3] : 0
        x.scalars.withUnsafeBufferPointer { p in
            for c in 0..<min(g.inChannels, x.shape[0]) where maxGByChannel[c] > 0 {
                var largest: Float = 0
                for k in (c * plane)..<((c + 1) * plane) { largest = max(largest, abs(p[k])) }
                maxPower = max(maxPower, Double(largest) * Double(largest) * v2 * maxGByChannel[c])
            }
        }
        return (sum * v2 * readSeconds, maxPower)
    }

    /// The rows' input as driven: through the input DAC when there is one.
    static func drivenInput(_ input: Tensor, dac: SymmetricQuantizer?) -> Tensor {
        guard let dac else { return input }
        var x = input
        x.scalars.withUnsafeMutableBufferPointer { dac.apply($0) }
        return x
    }

    /// `G⁺ + G⁻` of every (output, input) device pair, `outputs x inputs`, and of each output's
    /// bias rows summed (siemens, as `Float` for the convolution kernels).
    static func columnConductances(_ layer: CrossbarLayer) -> (weights: [Float], bias: [Float]) {
        let m = layer.mapped
        let p = layer.programmed
        let rows = m.rows
        var conductance = [Float](repeating: 0, count: m.outputs * m.inputs)
        var biasConductance = [Float](repeating: 0, count: m.outputs)
        for o in 0..<m.outputs {
            for r in 0..<rows {
                let g = Float(p.positiveSiemens[o * rows + r] + p.negativeSiemens[o * rows + r])
                if r < m.inputs { conductance[o * m.inputs + r] = g } else { biasConductance[o] += g }
            }
        }
        return (conductance, biasConductance)
    }

    /// Largest power of one memristive neuron during the reads of one crossbar op on a
    /// `[C, H, W, N]` batch (watts): over every output column, output position and image,
    /// `Σ_i V_i²·(G⁺_i + G⁻_i)` of the column's devices (bias rows at 1 unit), ideal wires:
    /// the figure the memristive ShuffleNetV2 reference reports (at most 2.8 µW per neuron).
    public static func maxNeuronPowerWatts(
        layer: CrossbarLayer, input: Tensor, voltsPerUnit: Double, dac: SymmetricQuantizer?, threads: Int = 1
    ) -> Double {
        let (conductance, biasConductance) = columnConductances(layer)
        let perNeuron = Kernels.conv2d(Kernels.squared(drivenInput(input, dac: dac)), weight: conductance, bias: biasConductance,
                                       geometry: layer.geometry, threads: threads)
        let largest = perNeuron.scalars.reduce(Float(0)) { max($0, $1) }
        return Double(largest) * voltsPerUnit * voltsPerUnit
    }

    /// Charge (ampere-seconds) the row drivers and the TIAs pass to read one crossbar op on a
    /// `[C, H, W, N]` batch (whole batch), ideal wires and virtual grounds at 0 V:
    ///
    ///     rows:  t · Σ_reads Σ_r |I_r|,   I_r = V_r · Σ_c G_rc
    ///     TIAs:  t · Σ_reads Σ_TIAs |I_out|
    ///
    /// with `I_out` the current through each TIA's output: paper `|I⁻ − I⁺|` (one column,
    /// `I± = u·Σ_i x_i·G±_i`: `G⁺` devices on the `−x` rows); differential `|I⁺| + |I⁻|` (two
    /// TIAs); inverted-output `2·|I⁻| + |I⁺ − I⁻|` (TIA_a sinks `I⁻` through its feedback and
    /// `V_a/R_f = −I⁻` from TIA_b's input; TIA_b's feedback carries `I⁺ − I⁻`). Bias rows are
    /// at 1 unit. A driver (TIA) draws `V_supply·|I|` from its rails (`docs/energy.md`).
    /// Digitized mode: the whole column's current (its row tiles' TIAs each sink their part;
    /// parts of one sign add up to the same, opposite signs give more than this).
    public static func supplyCharge(
        layer: CrossbarLayer, input: Tensor, voltsPerUnit: Double, readSeconds: Double, dac: SymmetricQuantizer?,
        threads: Int = 1
    ) -> (rowAmpSeconds: Double, tiaAmpSeconds: Double) {
        let m = layer.mapped
        let p = layer.programmed
        var g = layer.geometry
        let x = drivenInput(input, dac: dac)
        let rows = m.rows
        var gPlus = [Float](repeating: 0, count: m.outputs * m.inputs)
        var gMinus = gPlus
        var biasPlus = [Float](repeating: 0, count: m.outputs)
        var biasMinus = biasPlus
        for o in 0..<m.outputs {
            for r in 0..<rows {
                let gp = Float(p.positiveSiemens[o * rows + r]), gn = Float(p.negativeSiemens[o * rows + r])
                if r < m.inputs {
                    gPlus[o * m.inputs + r] = gp
                    gMinus[o * m.inputs + r] = gn
                } else {
                    biasPlus[o] += gp
                    biasMinus[o] += gn
                }
            }
        }
        // Rows: |x| against the row conductance sums (both physical rows of a paper input carry |x|).
        var magnitude = x
        magnitude.scalars.withUnsafeMutableBufferPointer { b in for k in b.indices { b[k] = abs(b[k]) } }
        let rowReads: Tensor
        var both = [Float](repeating: 0, count: gPlus.count)
        for k in both.indices { both[k] = gPlus[k] + gMinus[k] }
        let biasBoth = zip(biasPlus, biasMinus).map { $0 + $1 }
        if g.groups == 1 {
            var rowSums = [Float](repeating: 0, count: m.inputs)
            for o in 0..<m.outputs { for r in 0..<m.inputs { rowSums[r] += both[o * m.inputs + r] } }
            var single = g
            single.outChannels = 1
            rowReads = Kernels.conv2d(magnitude, weight: rowSums, bias: [biasBoth.reduce(0, +)], geometry: single, threads: threads)
        } else {
            rowReads = Kernels.conv2d(magnitude, weight: both, bias: biasBoth, geometry: g, threads: threads)
        }
        var rowSum = 0.0
        rowReads.scalars.withUnsafeBufferPointer { for v in $0 { rowSum += Double(v) } }
        // Columns: I⁺ and I⁻ of every output and read.
        g = layer.geometry
        let plus = Kernels.conv2d(x, weight: gPlus, bias: biasPlus, geometry: g, threads: threads)
        let minus = Kernels.conv2d(x, weight: gMinus, bias: biasMinus, geometry: g, threads: threads)
        var tiaSum = 0.0
        plus.scalars.withUnsafeBufferPointer { a in
            minus.scalars.withUnsafeBufferPointer { b in
                for k in a.indices {
                    let ip = Double(a[k]), im = Double(b[k])
                    switch m.scheme {
                    case .paper: tiaSum += abs(im - ip)
                    case .differential: tiaSum += abs(ip) + abs(im)
                    case .invertedOutput: tiaSum += 2 * abs(im) + abs(ip - im)
                    }
                }
            }
        }
        return (rowSum * voltsPerUnit * readSeconds, tiaSum * voltsPerUnit * readSeconds)
    }

    /// The same energy for one physical tile and explicit row voltages, by direct loops over
    /// devices (`[rows, batch]` volts, images innermost): `t · Σ_n Σ_r Σ_c G_rc · V_rn²`.
    /// The reference the fast path is tested against, and the ideal-wire ``TileDissipationModel``.
    public static func tileJoules(_ tile: TileCircuit, inputVolts: [Double], batch: Int, readSeconds: Double) -> Double {
        precondition(inputVolts.count == tile.rows * batch)
        var e = 0.0
        for r in 0..<tile.rows {
            for c in 0..<tile.columns {
                let g = tile.conductance(row: r, column: c)
                for n in 0..<batch { e += g * inputVolts[r * batch + n] * inputVolts[r * batch + n] }
            }
        }
        return e * readSeconds
    }
}

/// Where read energy goes in a tile with resistive wires: what an IR-drop solver must
/// provide for energy accounting (from its node voltages: device `Σ G·(v_word − v_bit)²`,
/// wires `Σ (Δv)²/R` over every segment and source resistance, all times `seconds`).
public protocol TileDissipationModel: Sendable {
    func dissipation(tile: TileCircuit, inputVolts: [Double], batch: Int, seconds: Double) throws
        -> (deviceJoules: Double, wireJoules: Double)
}

/// Ideal wires: all energy in the devices, none in the wires.
public struct IdealWireDissipation: TileDissipationModel {
    public init() {}
    public func dissipation(tile: TileCircuit, inputVolts: [Double], batch: Int, seconds: Double)
        -> (deviceJoules: Double, wireJoules: Double) {
        (ReadEnergy.tileJoules(tile, inputVolts: inputVolts, batch: batch, readSeconds: seconds), 0)
    }
}

/// Resistive wires: the tile solved for the given inputs (`TileSolver.dissipation`); the wire
/// energy includes the drivers' source resistances. One solve per call: the per-read reference
/// that the quadratic forms (``CrossbarEnergyForms``) are tested against.
public struct SolvedWireDissipation: TileDissipationModel {
    public var model: CircuitModel

    public init(model: CircuitModel) {
        self.model = model
    }

    /// - Throws: the solver's error when the tile's nodal matrix cannot be factorised.
    public func dissipation(tile: TileCircuit, inputVolts: [Double], batch: Int, seconds: Double) throws
        -> (deviceJoules: Double, wireJoules: Double) {
        let solver = try model.solver(for: tile) ?? ExactTileSolver(tile)
        let d = solver.dissipation(inputVolts: inputVolts, batch: batch)
        let wire = zip(d.wirePowerWatts, d.sourcePowerWatts).reduce(0) { $0 + $1.0 + $1.1 }
        return (d.devicePowerWatts.reduce(0, +) * seconds, wire * seconds)
    }
}

/// Collects the read energy of every crossbar of a run (`AnalogChip.run(..., observe:)`).
///
/// With ideal wires (`--ir-drop off`) the device energy comes from the closed form
/// (``ReadEnergy/crossbarJoules(layer:input:voltsPerUnit:readSeconds:dac:threads:)``). With IR drop
/// every physical tile of the chip is solved once, when the accumulator is made, into
/// quadratic forms (``CrossbarEnergyForms``), and each batch's device and wire energy follows
/// from its receptive-field moments
/// (``ReadEnergy/solvedCrossbarJoules(forms:layer:input:voltsPerUnit:readSeconds:dac:threads:)``).
public struct ReadEnergyAccumulator: Sendable {
    public let voltsPerUnit: Double
    public let readSeconds: Double
    public let digitizedDACBits: Int?
    public var threads: Int
    /// The solver the energy comes from: `off` is the ideal-wire closed form (no wire energy).
    public let solver: IRDropMode
    /// Forms per `[op index, part]` (part as `CrossbarObservation.part`); empty with ideal wires.
    public let forms: [[Int]: CrossbarEnergyForms]
    /// Wall-clock seconds spent building `forms`.
    public let formSeconds: Double
    /// Device joules per op index, summed over every image observed.
    public private(set) var joulesByOp: [Int: Double] = [:]
    /// Wire (and driver source-resistance) joules per op index; none with ideal wires.
    public private(set) var wireJoulesByOp: [Int: Double] = [:]
    /// The ideal-wire closed form on the same voltages, summed over ops and images (equals the
    /// device energy with ideal wires): with IR drop, what the wires changed.
    public private(set) var idealWireJoules = 0.0
    /// Supply rails of the row drivers and of the TIAs (``Technology``), volts.
    public let driverSupplyVolts: Double
    public let tiaSupplyVolts: Double
    /// Row drivers' supply energy beyond what they deliver to the devices,
    /// `V_drv·Σ|I_r|·t − Σ G·V²·t` (ideal-wire currents), per op index, summed over images.
    public private(set) var driverJoulesByOp: [Int: Double] = [:]
    /// TIAs' supply energy for the column currents, `V_tia·Σ|I_out|·t`, per op index.
    public private(set) var tiaJoulesByOp: [Int: Double] = [:]
    /// Largest power of one memristive neuron (a column's devices, `Σ V²G`) per op index, and
    /// over the run with the op where (``ReadEnergy/maxNeuronPowerWatts(layer:input:voltsPerUnit:dac:threads:)``).
    public private(set) var maxNeuronPowerByOp: [Int: Double] = [:]
    public private(set) var maxNeuronPowerWatts = 0.0
    public private(set) var maxNeuronPowerOp = -1
    /// Largest single-device power bound per op index (watts).
    public private(set) var maxDevicePowerByOp: [Int: Double] = [:]
    /// Largest single-device power bound seen (watts) and the op where.
    public private(set) var maxDevicePowerWatts = 0.0
    public private(set) var maxDevicePowerOp = -1
    /// Images observed (count of the first crossbar's batches).
    public private(set) var images = 0
    private var firstKey: [Int]?

    /// - Throws: `TileSolveError` when IR drop is on and a tile cannot be solved.
    public init(chip: AnalogChip, technology: Technology, threads: Int = 1) throws {
        voltsPerUnit = chip.voltsPerUnit
        readSeconds = technology.crossbarReadSeconds
        driverSupplyVolts = technology.driverSupplyVolts
        tiaSupplyVolts = technology.tiaSupplyVolts
        digitizedDACBits = chip.config.mode == .digitized ? chip.config.periphery.dac.bits : nil
        self.threads = threads
        solver = chip.config.circuit.irDrop
        guard chip.config.circuit.solvesTiles else {
            forms = [:]
            formSeconds = 0
            return
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var keys: [[Int]] = []
        var layers: [CrossbarLayer] = []
        for (i, stage) in chip.stages.enumerated() {
            switch stage {
            case .crossbar(let layer):
                keys.append([i, 0])
                layers.append(layer)
            case .batchNorm(let subtract, let scale):
                keys += [[i, 1], [i, 2]]
                layers += [subtract, scale]
            default: break
            }
        }
        let built = try CrossbarEnergyForms.build(layers, threads: threads)
        forms = Dictionary(uniqueKeysWithValues: zip(keys, built))
        formSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    public mutating func observe(_ o: CrossbarObservation) {
        let dac = digitizedDACBits.map { SymmetricQuantizer(bits: $0, range: max(o.ranges.inputRange, .leastNormalMagnitude)) }
        // The ideal-wire pass also gives the device-power bound (largest V² x largest G per input channel).
        var (e, pMax) = ReadEnergy.crossbarJoules(layer: o.layer, input: o.input, voltsPerUnit: voltsPerUnit,
                                                  readSeconds: readSeconds, dac: dac, threads: threads)
        idealWireJoules += e
        if driverSupplyVolts > 0 || tiaSupplyVolts > 0 {
            let q = ReadEnergy.supplyCharge(layer: o.layer, input: o.input, voltsPerUnit: voltsPerUnit, readSeconds: readSeconds,
                                            dac: dac, threads: threads)
            driverJoulesByOp[o.stage, default: 0] += driverSupplyVolts > 0 ? driverSupplyVolts * q.rowAmpSeconds - e : 0
            tiaJoulesByOp[o.stage, default: 0] += tiaSupplyVolts * q.tiaAmpSeconds
        }
        if let f = forms[[o.stage, o.part]] {
            let solved = ReadEnergy.solvedCrossbarJoules(forms: f, layer: o.layer, input: o.input, voltsPerUnit: voltsPerUnit,
                                                         readSeconds: readSeconds, dac: dac, threads: threads)
            e = solved.deviceJoules
            wireJoulesByOp[o.stage, default: 0] += solved.wireJoules
        }
        joulesByOp[o.stage, default: 0] += e
        let neuron = ReadEnergy.maxNeuronPowerWatts(layer: o.layer, input: o.input, voltsPerUnit: voltsPerUnit, dac: dac,
                                                    threads: threads)
        maxNeuronPowerByOp[o.stage] = max(maxNeuronPowerByOp[o.stage] ?? 0, neuron)
        if neuron > maxNeuronPowerWatts {
            maxNeuronPowerWatts = neuron
            maxNeuronPowerOp = o.stage
        }
        maxDevicePowerByOp[o.stage] = max(maxDevicePowerByOp[o.stage] ?? 0, pMax)
        if pMax > maxDevicePowerWatts {
            maxDevicePowerWatts = pMax
            maxDevicePowerOp = o.stage
        }
        // Each batch passes the first crossbar once: count images there.
        if firstKey == nil { firstKey = [o.stage, o.part] }
        if firstKey == [o.stage, o.part] { images += o.input.shape[3] }
    }

    /// Device read energy per image of each op (0 where it has no crossbar).
    public func joulesPerImage(ops: Int) -> [Double] {
        (0..<ops).map { (joulesByOp[$0] ?? 0) / Double(max(images, 1)) }
    }

    /// Row drivers' supply energy (beyond the devices') per image of each op.
    public func driverJoulesPerImage(ops: Int) -> [Double] {
        (0..<ops).map { (driverJoulesByOp[$0] ?? 0) / Double(max(images, 1)) }
    }

    /// TIAs' supply energy for the column currents per image of each op.
    public func tiaJoulesPerImage(ops: Int) -> [Double] {
        (0..<ops).map { (tiaJoulesByOp[$0] ?? 0) / Double(max(images, 1)) }
    }

    /// Wire energy per image of each op (all 0 with ideal wires).
    public func wireJoulesPerImage(ops: Int) -> [Double] {
        (0..<ops).map { (wireJoulesByOp[$0] ?? 0) / Double(max(images, 1)) }
    }
}

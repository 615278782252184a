import XbarSimAnalog
import XbarSimCrossbar
import XbarSimGraph
import XbarSimTensor

/// Hardware of one op of the network under one layout, and how long it computes.
public struct LayerResources: Sendable, Hashable, Codable {
    /// Index of the op in the graph.
    public var index: Int
    public var op: String
    /// `conv2d/depthwise`, `batchnorm`, `hardswish`, ...
    public var type: String
    /// Devices placed (zero weights need none); unrolled layouts count every copy.
    public var memristors = 0
    /// Physical crossbars (tiles; with unlimited tiles one crossbar per copy of a layer).
    public var tiles = 0
    /// Cells (rows · columns) of those crossbars.
    public var cells = 0
    public var opAmps = OpAmpCounts()
    /// Converters (only where the run quantizes: `--dac-bits` / `--adc-bits`, digitized mode).
    public var dacs = 0
    public var adcs = 0
    public var dacConversionsPerImage = 0
    public var adcConversionsPerImage = 0
    /// Sequential evaluations of the op per image (weight-stationary: output positions; unrolled: 1).
    public var steps = 1
    /// Time of one evaluation, seconds.
    public var stageSeconds = 0.0

    public init(index: Int, op: String, type: String) {
        self.index = index
        self.op = op
        self.type = type
    }

    /// Devices per cell of the op's crossbars (0 when it has none).
    public var tileUtilisation: Double { cells > 0 ? Double(memristors) / Double(cells) : 0 }
    /// Time the op is busy with one image.
    public var busySeconds: Double { Double(steps) * stageSeconds }
}

/// Counts devices, crossbars, op-amps and converters of a programmed chip.
///
/// A crossbar op with `P` output positions, `O` logical outputs and `g` groups (scheme with
/// `ρ` physical rows per input and `κ` columns per output):
///
/// - weight-stationary: devices = placed devices; one crossbar of
///   `ρ·(g·fanIn + biasRows)` rows (bias rows shared by the groups) by `κ·O` columns, or
///   the tiles covering it (`PhysicalLayout.tileExtent`; groups packed block-diagonally);
///   TIAs = `κ·O` (digitized: per row tile), subtractors `O` (differential), inverters `O`
///   (inverted-output: TIA_b's output inverter); `P` steps.
/// - spatially unrolled: everything times `P`, in one step; with unlimited tiles one crossbar
///   per layer of `ρ·(C_in·H_pad·W_pad + biasRows)` rows by `κ·O·P` columns (the reference
///   design's placement), else `P` copies of the weight-stationary tiles.
/// - paper scheme: one input inverter per distinct input signal that drives a device on an
///   inverted (`−x`) row: weight-stationary, per logical input row (and group); unrolled, per
///   element of the input map (shared by every kernel copy reading it). Global drift
///   compensation (`c ≠ 1`, analog mode): a gain stage behind each TIA.
/// - element circuits (activations, residual summers, SE multipliers): one per channel
///   (weight-stationary) or per element of the map (unrolled). Hard-sigmoid: an inverting
///   summer, its inverter and two precision clamps (op-amp + diode); hard-swish: that and a
///   multiplier; ReLU: a clamp at the floor (and one at the rail with rails); clamp (ReLU6,
///   hardtanh): one per bound (a missing bound is the rail, when set); residual add: an
///   inverting summer and its inverter; max pooling: one super diode per window input inside
///   the map. These are the op-amps of the circuits `xbarsim spice` writes
///   (`SpiceCircuitBuilder`), role by role.
///
/// Stage times: a crossbar read lasts `Technology.crossbarReadSeconds(opAmpStages:)`, the
/// op-amps in series on its path (input inverter, TIA(s), subtractor or output inverter, drift
/// gain stage) settling within the read; element circuits settle once per op-amp in series.
public enum ChipResources {
    /// Resources of every op of `chip`, in graph order.
    public static func layers(chip: AnalogChip, layout: ConvolutionLayout, technology: Technology) -> [LayerResources] {
        let graph = chip.graph
        let config = chip.config
        let digitized = config.mode == .digitized
        let converterSeconds = digitized
            ? (config.periphery.dac.bits == nil ? 0 : technology.dacConversionSeconds)
                + (config.periphery.adc.bits == nil ? 0 : technology.adcConversionSeconds)
            : 0
        let settling = technology.opAmpSettlingSeconds
        let rails = config.periphery.opAmp.railVolts != nil
        return graph.ops.enumerated().map { i, op in
            var r = LayerResources(index: i, op: op.name, type: op.kind.profileName)
            let shape = op.outputShape
            let positions = shape.count == 3 ? shape[1] * shape[2] : 1
            let channels = shape[0]
            let copies = layout == .spatiallyUnrolled ? positions : 1
            r.steps = layout == .spatiallyUnrolled ? 1 : positions
            let elements = channels * copies
            let unrolled = layout == .spatiallyUnrolled
            switch chip.stages[i] {
            case .crossbar(let layer):
                let stages = addCrossbar(layer, to: &r, config: config, copies: copies, positions: positions, unrolled: unrolled,
                                         batchNorm: false, realInput: nil)
                r.stageSeconds = technology.crossbarReadSeconds(opAmpStages: stages) + converterSeconds
            case .averagePool(let layer, let p, _):
                // The layer's input is the padded map; padding rows are driven at 0 V (no inverter).
                let real = (top: p.paddingHeight, left: p.paddingWidth, height: p.inHeight, width: p.inWidth)
                let stages = addCrossbar(layer, to: &r, config: config, copies: copies, positions: positions, unrolled: unrolled,
                                         batchNorm: false, realInput: real)
                r.stageSeconds = technology.crossbarReadSeconds(opAmpStages: stages) + converterSeconds
            case .batchNorm(let subtract, let scale):
                var seconds = 0.0
                for layer in [subtract, scale] {
                    let stages = addCrossbar(layer, to: &r, config: config, copies: copies, positions: positions,
                                             unrolled: unrolled, batchNorm: true, realInput: nil)
                    seconds += technology.crossbarReadSeconds(opAmpStages: stages) + converterSeconds
                }
                r.stageSeconds = seconds
            case .activation(let f):
                switch f {
                case .relu:
                    // Precision clamp at the floor, and a ceiling clamp at the rail or at the
                    // output limiter `V_p` (`--relu-limit`) when either is set.
                    r.opAmps.clamps = elements * (rails || config.periphery.reluLimitVolts != nil ? 2 : 1)
                    r.stageSeconds = settling
                case .hardSigmoid:
                    // Inverting summer, inverter, then the clamps at 0 and 1 (in series: three settlings).
                    r.opAmps.activation = elements
                    r.opAmps.summerInverters = elements
                    r.opAmps.clamps = 2 * elements
                    r.stageSeconds = 3 * settling
                case .hardSwish:
                    r.opAmps.activation = elements
                    r.opAmps.summerInverters = elements
                    r.opAmps.clamps = 2 * elements
                    r.opAmps.multipliers = elements
                    r.stageSeconds = 3 * settling + technology.multiplierDelaySeconds
                }
            case .add:
                r.opAmps.summers = elements
                r.opAmps.summerInverters = elements
                r.stageSeconds = 2 * settling
            case .multiply:
                r.opAmps.multipliers = elements
                r.stageSeconds = technology.multiplierDelaySeconds
            case .flatten, .wiring:
                r.steps = 1
            case .limiter(let lower, let upper):
                // One precision clamp per bound; a missing bound is the rail (when rails are set).
                let bounds = (lower != nil || rails ? 1 : 0) + (upper != nil || rails ? 1 : 0)
                r.opAmps.clamps = elements * bounds
                r.stageSeconds = bounds > 0 ? settling : 0
            case .maxPool(let p):
                // One super diode per window input inside the map (padding taps have no circuit).
                r.opAmps.maxPool = channels * inMapTaps(p, unrolled: unrolled)
                r.stageSeconds = settling
            case .digital:
                // One ADC and one DAC per element of the map (per channel when weight-stationary).
                r.adcs = elements
                r.dacs = elements
                r.adcConversionsPerImage = channels * positions
                r.dacConversionsPerImage = channels * positions
                r.stageSeconds = technology.adcConversionSeconds + technology.dacConversionSeconds
            }
            return r
        }
    }

    /// Network-input DACs (analog mode with `--dac-bits`; in digitized mode the first
    /// crossbar's DACs convert the input): one per input value, converted once per image.
    public static func inputDACs(chip: AnalogChip) -> Int {
        guard chip.config.mode == .analog, chip.config.periphery.dac.bits != nil else { return 0 }
        return chip.graph.inputShape.reduce(1, *)
    }

    /// Window inputs inside the map of a max-pooling op, summed over its output positions
    /// (unrolled), or the window size (weight-stationary: one circuit reused per position).
    static func inMapTaps(_ p: PoolGeometry, unrolled: Bool) -> Int {
        guard unrolled else { return p.windowSize }
        var taps = 0
        for oy in 0..<p.outHeight {
            for ox in 0..<p.outWidth {
                for ky in 0..<p.kernelHeight {
                    let iy = oy * p.strideHeight - p.paddingHeight + ky * p.dilationHeight
                    guard iy >= 0, iy < p.inHeight else { continue }
                    for kx in 0..<p.kernelWidth {
                        let ix = ox * p.strideWidth - p.paddingWidth + kx * p.dilationWidth
                        if ix >= 0, ix < p.inWidth { taps += 1 }
                    }
                }
            }
        }
        return taps
    }

    /// Paper scheme: input signals that need an inverter, i.e. drive at least one device on an
    /// inverted (`−x`) row. Weight-stationary: logical input rows (per group) with a device on
    /// their inverted row. Unrolled: elements of the input map read through such a row by some
    /// output position (padding is ground; `realInput` marks the real part of a pre-padded input).
    /// Other schemes: 0 (every row is `+x`).
    public static func invertedInputSignals(
        _ layer: CrossbarLayer, unrolled: Bool, realInput: (top: Int, left: Int, height: Int, width: Int)? = nil
    ) -> Int {
        let m = layer.mapped
        guard m.scheme == .paper else { return 0 }
        let g = layer.geometry
        let gp = layer.programmed.positiveSiemens
        let perGroup = max(1, g.outChannelsPerGroup)
        var needed = [Bool](repeating: false, count: g.groups * m.inputs)
        for o in 0..<m.outputs {
            let group = min(o / perGroup, g.groups - 1)
            for l in 0..<m.inputs where gp[o * m.rows + l] > 0 { needed[group * m.inputs + l] = true }
        }
        guard unrolled else { return needed.reduce(0) { $0 + ($1 ? 1 : 0) } }
        let real = realInput ?? (top: 0, left: 0, height: g.inHeight, width: g.inWidth)
        let k = g.kernelHeight * g.kernelWidth
        var marked = [Bool](repeating: false, count: g.inChannels * g.inHeight * g.inWidth)
        for group in 0..<g.groups {
            for l in 0..<m.inputs where needed[group * m.inputs + l] {
                let ci = group * g.channelsPerGroup + l / k
                let ky = (l % k) / g.kernelWidth, kx = l % g.kernelWidth
                for oy in 0..<g.outHeight {
                    let iy = oy * g.strideHeight - g.paddingHeight + ky * g.dilationHeight
                    guard iy >= real.top, iy < real.top + real.height else { continue }
                    for ox in 0..<g.outWidth {
                        let ix = ox * g.strideWidth - g.paddingWidth + kx * g.dilationWidth
                        guard ix >= real.left, ix < real.left + real.width else { continue }
                        marked[(ci * g.inHeight + iy) * g.inWidth + ix] = true
                    }
                }
            }
        }
        return marked.reduce(0) { $0 + ($1 ? 1 : 0) }
    }

    /// Adds one crossbar's devices, tiles, op-amps and converters; returns the op-amps in
    /// series on its signal path (for the read time).
    @discardableResult
    static func addCrossbar(
        _ layer: CrossbarLayer, to r: inout LayerResources, config: AnalogConfig, copies: Int, positions: Int, unrolled: Bool,
        batchNorm: Bool, realInput: (top: Int, left: Int, height: Int, width: Int)?
    ) -> Int {
        let m = layer.mapped
        let g = layer.geometry
        let scheme = m.scheme
        let rowTiles = config.mode == .digitized ? layer.rowTiles.count : 1
        r.memristors += m.deviceCount * copies
        let (tiles, cells) = crossbarTiles(m, geometry: g, tile: config.tile)
        if unrolled && config.tile.rows == nil {
            let rows = scheme.rowsPerInput
                * (g.inChannels * (g.inHeight + 2 * g.paddingHeight) * (g.inWidth + 2 * g.paddingWidth) + m.biasRows)
            r.tiles += 1
            r.cells += rows * scheme.columnsPerOutput * m.outputs * copies
        } else {
            r.tiles += tiles * copies
            r.cells += cells * copies
        }
        let tias = scheme.columnsPerOutput * m.outputs * rowTiles * copies
        let subtractors = scheme.subtractorsPerOutput * m.outputs * rowTiles * copies
        let inverters = scheme.invertersPerOutput * m.outputs * rowTiles * copies
        let inputInverters = invertedInputSignals(layer, unrolled: unrolled, realInput: realInput)
        // Global drift compensation: a gain stage behind the paper scheme's TIA (analog mode;
        // digitized mode scales after the ADC).
        let gainStage = scheme == .paper && config.mode == .analog && layer.programmed.driftCompensation != 1
        let gains = gainStage ? m.outputs * copies : 0
        if batchNorm {
            r.opAmps.batchNorm += tias + subtractors + inverters + gains
            r.opAmps.batchNormInputInverters += inputInverters
        } else {
            r.opAmps.tias += tias
            r.opAmps.subtractors += subtractors
            r.opAmps.inverters += inverters
            r.opAmps.inputInverters += inputInverters
            r.opAmps.driftGainStages += gains
        }
        // In series: input inverter, TIA (inverted-output: TIA_a then TIA_b), subtractor or
        // output inverter, gain stage.
        let stages = (inputInverters > 0 ? 1 : 0) + (scheme == .invertedOutput ? 2 : 1)
            + scheme.subtractorsPerOutput + scheme.invertersPerOutput + (gainStage ? 1 : 0)
        guard config.mode == .digitized else { return stages }
        if config.periphery.dac.bits != nil {
            let logicalInputs = g.groups * g.fanIn
            r.dacs += unrolled ? g.inChannels * g.inHeight * g.inWidth : logicalInputs
            r.dacConversionsPerImage += unrolled ? g.inChannels * g.inHeight * g.inWidth : logicalInputs * positions
        }
        if config.periphery.adc.bits != nil {
            r.adcs += m.outputs * rowTiles * copies
            r.adcConversionsPerImage += m.outputs * rowTiles * positions
        }
        return stages
    }

    /// Crossbars and cells holding one copy of a mapped op (weight-stationary).
    ///
    /// Unlimited tiles: one crossbar of `ρ·(g·fanIn + biasRows)` by `κ·outputs`. Finite tiles,
    /// one group: `PhysicalLayout` row tiles x column tiles. Several groups (depthwise,
    /// batch-norm stages, GAP): whole groups packed block-diagonally, the bias rows shared.
    public static func crossbarTiles(_ m: MappedCrossbar, geometry g: Conv2DGeometry, tile: TileSize) -> (tiles: Int, cells: Int) {
        let rho = m.scheme.rowsPerInput
        let kappa = m.scheme.columnsPerOutput
        guard let tileRows = tile.rows, let tileColumns = tile.columns else {
            return (1, rho * (g.groups * g.fanIn + m.biasRows) * kappa * m.outputs)
        }
        let extent = PhysicalLayout.tileExtent(m, tile: tile)
        let tileCells = tileRows * tileColumns
        func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
        if g.groups == 1 {
            let tiles = ceilDiv(m.rows, extent.rows) * ceilDiv(m.outputs, extent.outputs)
            return (tiles, tiles * tileCells)
        }
        let outputsPerGroup = max(1, m.outputs / g.groups)
        if g.fanIn + m.biasRows > extent.rows || outputsPerGroup > extent.outputs {
            let perGroup = ceilDiv(g.fanIn + m.biasRows, extent.rows) * ceilDiv(outputsPerGroup, extent.outputs)
            return (g.groups * perGroup, g.groups * perGroup * tileCells)
        }
        let perTile = min((extent.rows - m.biasRows) / g.fanIn, extent.outputs / outputsPerGroup)
        let tiles = ceilDiv(g.groups, max(1, perTile))
        return (tiles, tiles * tileCells)
    }
}

extension ChipResources {
    /// Physical rows of every crossbar of op `i` of `chip` under `layout` (batch-norm stages
    /// included), in graph order: unrolled with unlimited tiles the reference design's one
    /// crossbar per layer, `ρ·(C_in·H_pad·W_pad + biasRows)`; unlimited tiles otherwise
    /// `ρ·(g·fanIn + biasRows)` per copy; finite tiles, tile rows times tiles per copy.
    public static func crossbarRows(chip: AnalogChip, layout: ConvolutionLayout) -> [Int] {
        let tile = chip.config.tile
        return zip(chip.graph.ops, chip.stages).map { op, stage in
            let shape = op.outputShape
            let positions = shape.count == 3 ? shape[1] * shape[2] : 1
            let copies = layout == .spatiallyUnrolled ? positions : 1
            func rows(_ layer: CrossbarLayer) -> Int {
                let m = layer.mapped
                let g = layer.geometry
                let rho = m.scheme.rowsPerInput
                guard let tileRows = tile.rows else {
                    if layout == .spatiallyUnrolled {
                        return rho * (g.inChannels * (g.inHeight + 2 * g.paddingHeight) * (g.inWidth + 2 * g.paddingWidth) + m.biasRows)
                    }
                    return rho * (g.groups * g.fanIn + m.biasRows)
                }
                return copies * crossbarTiles(m, geometry: g, tile: tile).tiles * tileRows
            }
            switch stage {
            case .crossbar(let layer), .averagePool(let layer, _, _): return rows(layer)
            case .batchNorm(let subtract, let scale): return rows(subtract) + rows(scale)
            default: return 0
            }
        }
    }
}

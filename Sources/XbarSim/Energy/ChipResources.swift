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
/// - element circuits (activations, residual summers, SE multipliers): one per channel
///   (weight-stationary) or per element of the map (unrolled). Hard-sigmoid: an op-amp
///   adder and two diode limiters; hard-swish: that and a multiplier; ReLU: a diode limiter.
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
        let readSeconds = technology.crossbarReadSeconds + converterSeconds
        return graph.ops.enumerated().map { i, op in
            var r = LayerResources(index: i, op: op.name, type: op.kind.profileName)
            let shape = op.outputShape
            let positions = shape.count == 3 ? shape[1] * shape[2] : 1
            let channels = shape[0]
            let copies = layout == .spatiallyUnrolled ? positions : 1
            r.steps = layout == .spatiallyUnrolled ? 1 : positions
            let elements = channels * copies
            switch chip.stages[i] {
            case .crossbar(let layer), .averagePool(let layer, _, _):
                addCrossbar(layer, to: &r, config: config, copies: copies, positions: positions, unrolled: layout == .spatiallyUnrolled,
                            batchNorm: false)
                r.stageSeconds = readSeconds
            case .batchNorm(let subtract, let scale):
                for layer in [subtract, scale] {
                    addCrossbar(layer, to: &r, config: config, copies: copies, positions: positions,
                                unrolled: layout == .spatiallyUnrolled, batchNorm: true)
                }
                r.stageSeconds = 2 * readSeconds
            case .activation(let f):
                switch f {
                case .relu:
                    r.stageSeconds = 0  // a diode limiter: no op-amp, no settling modelled
                case .hardSigmoid:
                    r.opAmps.activation = elements
                    r.stageSeconds = technology.opAmpSettlingSeconds
                case .hardSwish:
                    r.opAmps.activation = elements
                    r.opAmps.multipliers = elements
                    r.stageSeconds = technology.opAmpSettlingSeconds + technology.multiplierDelaySeconds
                }
            case .add:
                r.opAmps.summers = elements
                r.stageSeconds = technology.opAmpSettlingSeconds
            case .multiply:
                r.opAmps.multipliers = elements
                r.stageSeconds = technology.multiplierDelaySeconds
            case .flatten, .wiring:
                r.steps = 1
            case .limiter:
                r.stageSeconds = 0  // diode limiters, as ReLU
            case .maxPool(let p):
                r.opAmps.maxPool = elements * p.windowSize
                r.stageSeconds = technology.opAmpSettlingSeconds
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

    static func addCrossbar(
        _ layer: CrossbarLayer, to r: inout LayerResources, config: AnalogConfig, copies: Int, positions: Int, unrolled: Bool,
        batchNorm: Bool
    ) {
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
        if batchNorm {
            r.opAmps.batchNorm += tias + subtractors + inverters
        } else {
            r.opAmps.tias += tias
            r.opAmps.subtractors += subtractors
            r.opAmps.inverters += inverters
        }
        guard config.mode == .digitized else { return }
        if config.periphery.dac.bits != nil {
            let logicalInputs = g.groups * g.fanIn
            r.dacs += unrolled ? g.inChannels * g.inHeight * g.inWidth : logicalInputs
            r.dacConversionsPerImage += unrolled ? g.inChannels * g.inHeight * g.inWidth : logicalInputs * positions
        }
        if config.periphery.adc.bits != nil {
            r.adcs += m.outputs * rowTiles * copies
            r.adcConversionsPerImage += m.outputs * rowTiles * positions
        }
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

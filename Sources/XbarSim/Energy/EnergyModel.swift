import XbarSimAnalog
import XbarSimGraph

/// Energy per image by component, joules.
public struct EnergyBreakdown: Sendable, Hashable, Codable {
    /// `Σ V²·G·t` over devices and reads, from the run's actual voltages; with IR drop the
    /// device voltages `w − b` of the solved tiles.
    public var crossbarReadJoules = 0.0
    /// `I²R` in word/bit lines and the drivers' source resistances (0 with ideal wires).
    public var wireJoules = 0.0
    /// Row drivers: supply energy to source/sink the row currents beyond what reaches the
    /// devices, `V_drv·Σ|I_r|·t − Σ G·V²·t` (ideal-wire currents; docs/energy.md).
    public var driverJoules = 0.0
    /// TIAs: supply energy to sink the column currents, `V_tia·Σ|I_out|·t`.
    public var tiaJoules = 0.0
    /// Op-amp quiescent power over their active time (every role of ``OpAmpCounts``).
    public var opAmpJoules = 0.0
    /// Analog multipliers (SE scaling, hard-swish) over their active time.
    public var multiplierJoules = 0.0
    public var dacJoules = 0.0
    public var adcJoules = 0.0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case crossbarReadJoules, wireJoules, driverJoules, tiaJoules, opAmpJoules, multiplierJoules, dacJoules, adcJoules
    }

    /// Decodes the components present (reports written before a component existed have none of it).
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        crossbarReadJoules = try c.decodeIfPresent(Double.self, forKey: .crossbarReadJoules) ?? 0
        wireJoules = try c.decodeIfPresent(Double.self, forKey: .wireJoules) ?? 0
        driverJoules = try c.decodeIfPresent(Double.self, forKey: .driverJoules) ?? 0
        tiaJoules = try c.decodeIfPresent(Double.self, forKey: .tiaJoules) ?? 0
        opAmpJoules = try c.decodeIfPresent(Double.self, forKey: .opAmpJoules) ?? 0
        multiplierJoules = try c.decodeIfPresent(Double.self, forKey: .multiplierJoules) ?? 0
        dacJoules = try c.decodeIfPresent(Double.self, forKey: .dacJoules) ?? 0
        adcJoules = try c.decodeIfPresent(Double.self, forKey: .adcJoules) ?? 0
    }

    public var totalJoules: Double {
        crossbarReadJoules + wireJoules + driverJoules + tiaJoules + opAmpJoules + multiplierJoules + dacJoules + adcJoules
    }

    public static func + (a: EnergyBreakdown, b: EnergyBreakdown) -> EnergyBreakdown {
        var c = EnergyBreakdown()
        c.crossbarReadJoules = a.crossbarReadJoules + b.crossbarReadJoules
        c.wireJoules = a.wireJoules + b.wireJoules
        c.driverJoules = a.driverJoules + b.driverJoules
        c.tiaJoules = a.tiaJoules + b.tiaJoules
        c.opAmpJoules = a.opAmpJoules + b.opAmpJoules
        c.multiplierJoules = a.multiplierJoules + b.multiplierJoules
        c.dacJoules = a.dacJoules + b.dacJoules
        c.adcJoules = a.adcJoules + b.adcJoules
        return c
    }
}

/// Resources, latency and energy of a chip under one layout and schedule.
public struct LayoutSummary: Sendable, Hashable, Codable {
    public var layout: ConvolutionLayout
    public var schedule: Schedule
    public var memristors: Int
    public var opAmps: Int
    public var opAmpsByRole: OpAmpCounts
    public var tiles: Int
    /// Devices per cell over every crossbar.
    public var tileUtilisation: Double
    public var dacs: Int
    public var adcs: Int
    public var latencySeconds: Double
    /// Seconds between successive images (layer by layer: the latency).
    public var intervalSeconds: Double
    /// Images per second of the hypothetical chip, `1 / interval`.
    public var imagesPerSecond: Double
    public var energyPerImageJoules: Double
    public var energy: EnergyBreakdown
    /// Per op, in graph order.
    public var layers: [LayerResources]
    public var layerEnergy: [EnergyBreakdown]
}

/// Combines a chip's resources, the stage times of the ``Technology`` and the read energy
/// observed in a run into energy and latency per image.
///
/// - Crossbar read (and wire) energy: measured (``ReadEnergyAccumulator``); the same for
///   both layouts (every output position is read once either way). So are the row drivers'
///   and TIAs' supply energy for the crossbar currents.
/// - Op-amps and multipliers, quiescent power `P`: with power gating each is on only while
///   its op computes, `E_op = n_op · P · busy_op` (layout-independent too: `P` times
///   more circuits for `1/P` of the time); without (default) every one is on for the whole
///   time an image occupies the chip, `E_op = n_op · P · interval`.
/// - Converters: conversions per image times energy per conversion; the network input's
///   DACs are charged to the first op.
public enum EnergyModel {
    public static func summary(
        chip: AnalogChip, layout: ConvolutionLayout, schedule: Schedule, technology: Technology,
        readJoulesPerImage: [Double], wireJoulesPerImage: [Double]? = nil, driverJoulesPerImage: [Double]? = nil,
        tiaJoulesPerImage: [Double]? = nil
    ) -> LayoutSummary {
        let layers = ChipResources.layers(chip: chip, layout: layout, technology: technology)
        let inputDACs = ChipResources.inputDACs(chip: chip)
        let inputSeconds = inputDACs > 0 ? technology.dacConversionSeconds : 0
        let latency = Latency.latencySeconds(graph: chip.graph, layers: layers, inputSeconds: inputSeconds)
        let interval = Latency.intervalSeconds(layers: layers, schedule: schedule, latencySeconds: latency,
                                               inputSeconds: inputSeconds)
        var perLayer: [EnergyBreakdown] = []
        for (i, r) in layers.enumerated() {
            var e = EnergyBreakdown()
            e.crossbarReadJoules = i < readJoulesPerImage.count ? readJoulesPerImage[i] : 0
            e.wireJoules = wireJoulesPerImage.map { i < $0.count ? $0[i] : 0 } ?? 0
            e.driverJoules = driverJoulesPerImage.map { i < $0.count ? $0[i] : 0 } ?? 0
            e.tiaJoules = tiaJoulesPerImage.map { i < $0.count ? $0[i] : 0 } ?? 0
            let onSeconds = technology.opAmpPowerGating ? r.busySeconds : interval
            e.opAmpJoules = Double(r.opAmps.total) * technology.opAmpStaticPowerWatts * onSeconds
            e.multiplierJoules = Double(r.opAmps.multipliers) * technology.multiplierStaticPowerWatts * onSeconds
            e.dacJoules = Double(r.dacConversionsPerImage + (i == 0 ? inputDACs : 0)) * technology.dacEnergyPerConversionJoules
            e.adcJoules = Double(r.adcConversionsPerImage) * technology.adcEnergyPerConversionJoules
            perLayer.append(e)
        }
        let total = perLayer.reduce(EnergyBreakdown(), +)
        let roles = layers.reduce(OpAmpCounts()) { $0 + $1.opAmps }
        let memristors = layers.reduce(0) { $0 + $1.memristors }
        let cells = layers.reduce(0) { $0 + $1.cells }
        return LayoutSummary(
            layout: layout, schedule: schedule, memristors: memristors, opAmps: roles.total, opAmpsByRole: roles,
            tiles: layers.reduce(0) { $0 + $1.tiles }, tileUtilisation: cells > 0 ? Double(memristors) / Double(cells) : 0,
            dacs: layers.reduce(inputDACs) { $0 + $1.dacs }, adcs: layers.reduce(0) { $0 + $1.adcs },
            latencySeconds: latency, intervalSeconds: interval, imagesPerSecond: interval > 0 ? 1 / interval : 0,
            energyPerImageJoules: total.totalJoules, energy: total, layers: layers, layerEnergy: perLayer)
    }

    /// Energy per image (joules) of `chip` from the read energy `observed` in a run: the
    /// one-number call for sweeps. Defaults: the reference design's layout, one image at a time.
    public static func energyPerImage(
        chip: AnalogChip, observed: ReadEnergyAccumulator, technology: Technology = .default,
        layout: ConvolutionLayout = .spatiallyUnrolled, schedule: Schedule = .layerByLayer
    ) -> Double {
        let ops = chip.graph.ops.count
        return summary(chip: chip, layout: layout, schedule: schedule, technology: technology,
                       readJoulesPerImage: observed.joulesPerImage(ops: ops),
                       wireJoulesPerImage: observed.wireJoulesPerImage(ops: ops),
                       driverJoulesPerImage: observed.driverJoulesPerImage(ops: ops),
                       tiaJoulesPerImage: observed.tiaJoulesPerImage(ops: ops)).energyPerImageJoules
    }
}

/// Op-amps of a circuit by role, and the analog multipliers next to them.
///
/// Every op-amp the SPICE netlists of `xbarsim spice` contain has one of these roles (each
/// op-amp element there is preceded by a `*@opamp ROLE` tag line carrying the role's coding
/// key; `NetlistOpAmpCountTests` counts them and checks the totals against ``ChipResources``).
public struct OpAmpCounts: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case tias, subtractors, inverters, inputInverters, driftGainStages, batchNorm, batchNormInputInverters, activation,
             summerInverters, clamps, summers, maxPool, multipliers
    }

    /// Trans-impedance amplifiers reading crossbar columns (convolution, FC, GAP, average pooling).
    public var tias = 0
    /// Differential scheme: the op-amp subtracting each output's two TIAs.
    public var subtractors = 0
    /// Inverted-output scheme: the inverter behind each output (after its two TIAs) of the
    /// convolution, FC and pooling crossbars.
    public var inverters = 0
    /// Paper scheme: the inverters making the `−x` row signals of the convolution, FC and
    /// pooling crossbars, one per distinct input signal that drives at least one device on
    /// an inverted row (shared by every kernel copy and column reading that signal; bias rows
    /// at `−1` unit come from a reference voltage, not an op-amp).
    public var inputInverters = 0
    /// Paper scheme with global drift compensation `c ≠ 1`: the gain stage `c` behind each
    /// TIA of the convolution, FC and pooling crossbars (the other schemes apply `c` in the
    /// subtractor or output inverter they already have).
    public var driftGainStages = 0
    /// TIAs (and differential subtractors, inverted-output inverters, drift gain stages) of the
    /// batch-norm module's two stages.
    public var batchNorm = 0
    /// Paper scheme: the `−x` inverters of the batch-norm stages (one per element and stage
    /// whose inverted row carries a device: the scale stage always, the subtract stage where
    /// `γ ≥ 0`).
    public var batchNormInputInverters = 0
    /// Inverting summers of the hard-sigmoid / hard-swish adders, `−(x + 3)/6`.
    public var activation = 0
    /// The inverter behind every inverting summer (hard-sigmoid / hard-swish adders and
    /// residual adds), restoring the sign.
    public var summerInverters = 0
    /// Precision-clamp op-amps of the diode limiters (ReLU: the floor, and the ceiling at the
    /// rail when rails are set; hard-sigmoid / hard-swish: floor and ceiling; clamp: one per bound).
    public var clamps = 0
    /// Residual-add inverting summers.
    public var summers = 0
    /// Super-diode op-amps of the max-pooling circuits (one per window input inside the map,
    /// padding taps excluded, of each output element).
    public var maxPool = 0
    /// Analog multipliers (SE scaling, hard-swish); not op-amps, not in `total`.
    public var multipliers = 0

    public init() {}

    /// Op-amp roles by coding key (multipliers excluded), in declaration order.
    public var byRole: [(role: String, count: Int)] {
        [("tias", tias), ("subtractors", subtractors), ("inverters", inverters), ("inputInverters", inputInverters),
         ("driftGainStages", driftGainStages), ("batchNorm", batchNorm), ("batchNormInputInverters", batchNormInputInverters),
         ("activation", activation), ("summerInverters", summerInverters), ("clamps", clamps), ("summers", summers),
         ("maxPool", maxPool)]
    }

    /// All op-amps (multipliers excluded).
    public var total: Int { byRole.reduce(0) { $0 + $1.count } }

    /// Op-amps of the convolution, FC and pooling crossbars (TIAs, subtractors, output
    /// inverters, input inverters, drift gain stages).
    public var crossbarOpAmps: Int { tias + subtractors + inverters + inputInverters + driftGainStages }

    public static func + (a: OpAmpCounts, b: OpAmpCounts) -> OpAmpCounts {
        var c = OpAmpCounts()
        c.tias = a.tias + b.tias
        c.subtractors = a.subtractors + b.subtractors
        c.inverters = a.inverters + b.inverters
        c.inputInverters = a.inputInverters + b.inputInverters
        c.driftGainStages = a.driftGainStages + b.driftGainStages
        c.batchNorm = a.batchNorm + b.batchNorm
        c.batchNormInputInverters = a.batchNormInputInverters + b.batchNormInputInverters
        c.activation = a.activation + b.activation
        c.summerInverters = a.summerInverters + b.summerInverters
        c.clamps = a.clamps + b.clamps
        c.summers = a.summers + b.summers
        c.maxPool = a.maxPool + b.maxPool
        c.multipliers = a.multipliers + b.multipliers
        return c
    }
}

extension OpAmpCounts {
    /// Decodes the roles present (reports written before a role existed have none of it).
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tias = try c.decodeIfPresent(Int.self, forKey: .tias) ?? 0
        subtractors = try c.decodeIfPresent(Int.self, forKey: .subtractors) ?? 0
        inverters = try c.decodeIfPresent(Int.self, forKey: .inverters) ?? 0
        inputInverters = try c.decodeIfPresent(Int.self, forKey: .inputInverters) ?? 0
        driftGainStages = try c.decodeIfPresent(Int.self, forKey: .driftGainStages) ?? 0
        batchNorm = try c.decodeIfPresent(Int.self, forKey: .batchNorm) ?? 0
        batchNormInputInverters = try c.decodeIfPresent(Int.self, forKey: .batchNormInputInverters) ?? 0
        activation = try c.decodeIfPresent(Int.self, forKey: .activation) ?? 0
        summerInverters = try c.decodeIfPresent(Int.self, forKey: .summerInverters) ?? 0
        clamps = try c.decodeIfPresent(Int.self, forKey: .clamps) ?? 0
        summers = try c.decodeIfPresent(Int.self, forKey: .summers) ?? 0
        maxPool = try c.decodeIfPresent(Int.self, forKey: .maxPool) ?? 0
        multipliers = try c.decodeIfPresent(Int.self, forKey: .multipliers) ?? 0
    }
}

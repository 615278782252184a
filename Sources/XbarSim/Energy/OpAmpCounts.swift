/// Op-amps of a circuit by role, and the analog multipliers next to them.
public struct OpAmpCounts: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey { case tias, subtractors, inverters, batchNorm, activation, summers, maxPool, multipliers }

    /// Trans-impedance amplifiers reading crossbar columns (convolution, FC, GAP).
    public var tias = 0
    /// Differential scheme: the op-amp subtracting each output's two TIAs.
    public var subtractors = 0
    /// Inverted-output scheme: the inverter behind each output (after its two TIAs) of the
    /// convolution, FC and GAP crossbars.
    public var inverters = 0
    /// TIAs (and differential subtractors, inverted-output inverters) of the batch-norm module's two stages.
    public var batchNorm = 0
    /// Adders of the hard-sigmoid / hard-swish circuits (ReLU is a diode limiter: none).
    public var activation = 0
    /// Residual-add summers.
    public var summers = 0
    /// Super-diode op-amps of the max-pooling circuits (one per window input of each output element).
    public var maxPool = 0
    /// Analog multipliers (SE scaling, hard-swish); not op-amps, not in `total`.
    public var multipliers = 0

    public init() {}

    /// All op-amps (multipliers excluded).
    public var total: Int { tias + subtractors + inverters + batchNorm + activation + summers + maxPool }

    public static func + (a: OpAmpCounts, b: OpAmpCounts) -> OpAmpCounts {
        var c = OpAmpCounts()
        c.tias = a.tias + b.tias
        c.subtractors = a.subtractors + b.subtractors
        c.inverters = a.inverters + b.inverters
        c.batchNorm = a.batchNorm + b.batchNorm
        c.activation = a.activation + b.activation
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
        batchNorm = try c.decodeIfPresent(Int.self, forKey: .batchNorm) ?? 0
        activation = try c.decodeIfPresent(Int.self, forKey: .activation) ?? 0
        summers = try c.decodeIfPresent(Int.self, forKey: .summers) ?? 0
        maxPool = try c.decodeIfPresent(Int.self, forKey: .maxPool) ?? 0
        multipliers = try c.decodeIfPresent(Int.self, forKey: .multipliers) ?? 0
    }
}

/// Op-amps of a circuit by role, and the analog multipliers next to them.
public struct OpAmpCounts: Sendable, Hashable, Codable {
    /// Trans-impedance amplifiers reading crossbar columns (convolution, FC, GAP).
    public var tias = 0
    /// Differential scheme: the op-amp subtracting each output's two TIAs.
    public var subtractors = 0
    /// TIAs (and differential subtractors) of the batch-norm module's two stages.
    public var batchNorm = 0
    /// Adders of the hard-sigmoid / hard-swish circuits (ReLU is a diode limiter: none).
    public var activation = 0
    /// Residual-add summers.
    public var summers = 0
    /// Analog multipliers (SE scaling, hard-swish); not op-amps, not in `total`.
    public var multipliers = 0

    public init() {}

    /// All op-amps (multipliers excluded).
    public var total: Int { tias + subtractors + batchNorm + activation + summers }

    public static func + (a: OpAmpCounts, b: OpAmpCounts) -> OpAmpCounts {
        var c = OpAmpCounts()
        c.tias = a.tias + b.tias
        c.subtractors = a.subtractors + b.subtractors
        c.batchNorm = a.batchNorm + b.batchNorm
        c.activation = a.activation + b.activation
        c.summers = a.summers + b.summers
        c.multipliers = a.multipliers + b.multipliers
        return c
    }
}

/// The op-amp used for every trans-impedance amplifier (TIA), summer and activation
/// circuit: finite open-loop gain and output rails.
///
/// An inverting TIA with feedback `R_f` whose inverting input sees the column
/// conductances `G_in = Σ G` settles at
///
///     V_out = −R_f · I / (1 + (1 + R_f·G_in) / A)
///
/// (virtual ground at `V_out/A` instead of 0), so finite gain `A` is a per-column gain
/// error `γ = 1 / (1 + (1 + R_f·G_in)/A)`. The output cannot leave `±railVolts`.
public struct OpAmp: Sendable, Hashable, Codable {
    /// Output saturation, volts; nil for unlimited.
    public var railVolts: Double?
    /// Open-loop DC gain `A`; nil for ideal (infinite).
    public var openLoopGain: Double?

    public init(railVolts: Double? = nil, openLoopGain: Double? = nil) {
        self.railVolts = railVolts
        self.openLoopGain = openLoopGain
    }

    public static let ideal = OpAmp()

    /// `γ`, the closed-loop gain relative to ideal, for a TIA with `R_f·G_in = feedbackTimesInputConductance`.
    public func gainFactor(feedbackTimesInputConductance rg: Double) -> Double {
        guard let a = openLoopGain else { return 1 }
        return 1 / (1 + (1 + rg) / a)
    }

    public func validate() throws(CrossbarParameterError) {
        if let r = railVolts, !(r > 0 && r.isFinite) {
            throw CrossbarParameterError(parameter: "--rail", message: "must be a positive voltage, got \(r)")
        }
        if let a = openLoopGain, !(a >= 1 && a.isFinite) {
            throw CrossbarParameterError(parameter: "--opamp-gain", message: "must be >= 1, got \(a)")
        }
    }
}

import XbarSimDevice

/// A crossbar after programming one chip: what the engine multiplies with.
///
/// Programming turns every target conductance into the device's actual conductance
/// at read time (levels, programming variation, stuck faults, drift; see
/// `DeviceModel`). The engine then needs, per output `o` and row `r`:
///
/// - the effective weight `w_or = (γ⁺_o·G⁺_or − γ⁻_o·G⁻_or) / s_o · c_o`, where `γ` is the
///   finite-gain factor of the TIA that reads the device (`OpAmp.gainFactor`) and `c_o`
///   the drift-compensation factor (global: one per crossbar; column: one per output;
///   1 without compensation);
/// - for read noise with relative σ: the variance weight `v_or = σ²·(γ⁺²G⁺² + γ⁻²G⁻²)/s²·c²`,
///   so that an output's read-noise variance is `Σ_r v_or·x_r²`: one more GEMM on the
///   squared inputs instead of a random draw per device and read.
///
/// Bias rows (driven at 1 unit) are folded into `bias` and `biasVariance`.
public struct ProgrammedCrossbar: Sendable {
    public var inputs: Int
    public var outputs: Int
    /// `outputs x inputs`, row-major.
    public var weights: [Float]
    public var bias: [Float]
    /// Parts read by the `G⁺` and `G⁻` TIAs separately; only kept for the differential and
    /// inverted-output schemes when rails are finite (each TIA saturates on its own).
    public var positiveWeights: [Float]?
    public var negativeWeights: [Float]?
    public var positiveBias: [Float]?
    public var negativeBias: [Float]?
    /// nil when there is no read noise.
    public var variance: [Float]?
    public var biasVariance: [Float]?
    /// `Σ G(t0) / Σ G(t)` when global drift compensation is on, else 1.
    public var driftCompensation: Double
    /// Per output column, `Σ_r G_or(t0) / Σ_r G_or(t)` when per-column drift compensation is
    /// on (`Drift.columnCompensationFactors`), else nil.
    public var columnDriftCompensation: [Double]?
    /// Conductances before drift (`outputs x rows`, siemens), for recomputing drift compensation
    /// after reprogramming.
    public var positiveBeforeDrift: [Double]
    public var negativeBeforeDrift: [Double]
    /// Conductances at read time, for energy and SPICE (`outputs x rows`, siemens).
    public var positiveSiemens: [Double]
    public var negativeSiemens: [Double]
    /// Program pulses and verify reads it took (`DeviceModel.writeVerify`); zero when built
    /// from given conductances.
    public var programmingCounts = ProgrammingCounts()

    /// Programs `mapped` on one chip.
    ///
    /// - Parameters:
    ///   - key: identifies the crossbar on the chip (e.g. `[chip, layer, part]`); every random
    ///     draw comes from streams derived from `seed` and `key`, never from thread scheduling.
    ///   - keepTIAsSeparate: keep the `G⁺`/`G⁻` halves apart (differential or inverted-output scheme with rails).
    public init(
        _ mapped: MappedCrossbar, device: DeviceModel, opAmp: OpAmp, seed: UInt64, key: [UInt64],
        keepTIAsSeparate: Bool = false
    ) {
        let (gPos, gPosFresh, countPos) = device.programCounting(mapped.positiveSiemens, seed: seed, key: key + [1])
        let (gNeg, gNegFresh, countNeg) = device.programCounting(mapped.negativeSiemens, seed: seed, key: key + [2])
        self.init(mapped, positiveSiemens: gPos, negativeSiemens: gNeg, positiveBeforeDrift: gPosFresh,
                  negativeBeforeDrift: gNegFresh, device: device, opAmp: opAmp, keepTIAsSeparate: keepTIAsSeparate)
        programmingCounts = countPos + countNeg
    }

    /// A crossbar from its devices' conductances at read time (`positiveSiemens`, `negativeSiemens`,
    /// `outputs x rows`) and before drift (for drift compensation), e.g. after some devices were
    /// reprogrammed (`DeviceModel.reprogram`).
    public init(
        _ mapped: MappedCrossbar, positiveSiemens gPos: [Double], negativeSiemens gNeg: [Double],
        positiveBeforeDrift gPosFresh: [Double], negativeBeforeDrift gNegFresh: [Double], device: DeviceModel,
        opAmp: OpAmp, keepTIAsSeparate: Bool = false
    ) {
        let rows = mapped.rows
        var compensation = 1.0
        var columnCompensation: [Double]?
        if device.drift.timeSeconds != nil {
            switch device.drift.compensation {
            case .none: break
            case .global:
                compensation = Drift.globalCompensationFactor(before: gPosFresh + gNegFresh, after: gPos + gNeg)
            case .column:
                columnCompensation = Drift.columnCompensationFactors(
                    before: [gPosFresh, gNegFresh], after: [gPos, gNeg], outputs: mapped.outputs, rows: rows)
            }
        }
        columnDriftCompensation = columnCompensation
        let sigma = device.readNoise.relativeSigma
        inputs = mapped.inputs
        outputs = mapped.outputs
        driftCompensation = compensation
        positiveSiemens = gPos
        negativeSiemens = gNeg
        positiveBeforeDrift = gPosFresh
        negativeBeforeDrift = gNegFresh
        var w = [Float](repeating: 0, count: mapped.outputs * mapped.inputs)
        var b = [Float](repeating: 0, count: mapped.outputs)
        var wp = keepTIAsSeparate ? w : []
        var wn = keepTIAsSeparate ? w : []
        var bp = keepTIAsSeparate ? b : []
        var bn = keepTIAsSeparate ? b : []
        var v = sigma > 0 ? w : []
        var bv = sigma > 0 ? b : []
        for o in 0..<mapped.outputs {
            let s = mapped.siemensPerUnit[o]
            var sumPos = 0.0, sumNeg = 0.0
            for r in 0..<rows {
                sumPos += gPos[o * rows + r]
                sumNeg += gNeg[o * rows + r]
            }
            // R_f = 1/s, so R_f·G_in = G_in/s. Paper: one TIA sees both halves.
            let (gammaPos, gammaNeg): (Double, Double)
            switch mapped.scheme {
            case .paper:
                let g = opAmp.gainFactor(feedbackTimesInputConductance: (sumPos + sumNeg) / s)
                (gammaPos, gammaNeg) = (g, g)
            case .differential:
                gammaPos = opAmp.gainFactor(feedbackTimesInputConductance: sumPos / s)
                gammaNeg = opAmp.gainFactor(feedbackTimesInputConductance: sumNeg / s)
            case .invertedOutput:
                // TIA_b sees the positive column and TIA_a's output resistor R_f (R_f·G = 1);
                // the negative column passes TIA_a and then TIA_b.
                let gammaB = opAmp.gainFactor(feedbackTimesInputConductance: sumPos / s + 1)
                gammaPos = gammaB
                gammaNeg = opAmp.gainFactor(feedbackTimesInputConductance: sumNeg / s) * gammaB
            }
            let c = compensation * (columnCompensation?[o] ?? 1)
            let kp = gammaPos * c / s
            let kn = gammaNeg * c / s
            for r in 0..<rows {
                let p = gPos[o * rows + r] * kp
                let n = gNeg[o * rows + r] * kn
                let variance = sigma * sigma * (p * p + n * n)
                if r < mapped.inputs {
                    let i = o * mapped.inputs + r
                    w[i] = Float(p - n)
                    if keepTIAsSeparate {
                        wp[i] = Float(p)
                        wn[i] = Float(n)
                    }
                    if sigma > 0 { v[i] = Float(variance) }
                } else {
                    b[o] += Float(p - n)
                    if keepTIAsSeparate {
                        bp[o] += Float(p)
                        bn[o] += Float(n)
                    }
                    if sigma > 0 { bv[o] += Float(variance) }
                }
            }
        }
        weights = w
        bias = b
        positiveWeights = keepTIAsSeparate ? wp : nil
        negativeWeights = keepTIAsSeparate ? wn : nil
        positiveBias = keepTIAsSeparate ? bp : nil
        negativeBias = keepTIAsSeparate ? bn : nil
        variance = sigma > 0 ? v : nil
        biasVariance = sigma > 0 ? bv : nil
    }
}

import XbarSimDevice

/// A weight matrix to be placed on crossbars: `outputs` columns, each a dot product
/// over `inputs` rows, plus an optional bias per output (realised by bias-voltage rows).
public struct CrossbarMatrix: Sendable, Equatable {
    public var inputs: Int
    public var outputs: Int
    /// `outputs x inputs`, row-major: PyTorch's `(out, in/groups*kh*kw)` layout.
    public var weights: [Float]
    public var bias: [Float]?

    public init(inputs: Int, outputs: Int, weights: [Float], bias: [Float]?) {
        precondition(weights.count == inputs * outputs && (bias?.count ?? outputs) == outputs)
        self.inputs = inputs
        self.outputs = outputs
        self.weights = weights
        self.bias = bias
    }
}

/// Target conductances of a crossbar before programming, in the scheme-independent form
/// `w = (G⁺ − G⁻) / s`.
///
/// Rows `0..<inputs` carry the inputs; rows `inputs..<inputs+biasRows` are bias rows driven
/// by a constant 1-unit voltage (split over several rows when one device cannot reach the
/// bias conductance). A target of exactly 0 means *no device* at that position.
public struct MappedCrossbar: Sendable, Hashable {
    public var scheme: MappingScheme
    public var inputs: Int
    public var outputs: Int
    public var biasRows: Int
    /// `outputs x (inputs + biasRows)`, siemens.
    public var positiveSiemens: [Double]
    public var negativeSiemens: [Double]
    /// `s` of each output column, siemens per unit weight; the TIA feedback is `R_f = 1/s`.
    public var siemensPerUnit: [Double]
    /// Weights whose conductance fell below `G_min` and were rounded to no device (paper, inverted-output).
    public var weightsRoundedToZero: Int
    /// Weights whose conductance exceeded `G_max` and were clipped (fixed scaling only).
    public var weightsClipped: Int

    public var rows: Int { inputs + biasRows }

    /// Devices actually placed (non-zero targets).
    public var deviceCount: Int {
        positiveSiemens.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } + negativeSiemens.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
    }

    /// Maps a weight matrix to target conductances.
    ///
    /// - paper: `G = s·|w|` on one side, none on the other. A real device cannot sit
    ///   between 0 and `G_min`, so such a target becomes `G_min` if it is at least `G_min/2`,
    ///   else no device (the nearer achievable value).
    /// - differential: `G± = G_min + s·max(±w, 0)` (both devices always present).
    /// - inverted-output: the same targets as paper (`G⁺` in the positive column, `G⁻` in the
    ///   negative column, both on the `+x` row).
    ///
    /// `s` is `G_max / max|w|` (paper, inverted-output) or `(G_max − G_min) / max|w|` (differential), taken
    /// over the layer or each column (`scaling`), or fixed. Biases are treated as weights of
    /// rows driven at 1 unit, split over `⌈max|b|·s / span⌉` rows when needed.
    public static func map(
        _ m: CrossbarMatrix, scheme: MappingScheme, scaling: WeightScaling, window: ConductanceWindow,
        headroom: Double = 0
    ) -> MappedCrossbar {
        let (gMin, gMax) = (window.gMinSiemens, window.gMaxSiemens)
        // Headroom h: the largest weight maps to G_max/(1+h) (paper) so programming
        // variation above it is not clipped one-sidedly at G_max.
        let span = (scheme.placesDevicesPerNonZeroWeight ? gMax : gMax - gMin) / (1 + headroom)
        // Largest |w| per column, and over the layer.
        var columnMax = [Double](repeating: 0, count: m.outputs)
        for o in 0..<m.outputs {
            var largest = 0.0
            for i in 0..<m.inputs { largest = max(largest, Double(abs(m.weights[o * m.inputs + i]))) }
            columnMax[o] = largest
        }
        let layerMax = columnMax.max() ?? 0
        let scale: [Double] = columnMax.map { colMax in
            switch scaling {
            case .fixed(let s): return s
            case .perLayer: return layerMax > 0 ? span / layerMax : span
            case .perColumn: return colMax > 0 ? span / colMax : (layerMax > 0 ? span / layerMax : span)
            }
        }
        var biasRows = 0
        if let bias = m.bias, bias.contains(where: { $0 != 0 }) {
            var needed = 1.0
            for o in 0..<m.outputs { needed = max(needed, Double(abs(bias[o])) * scale[o] / span) }
            biasRows = Int(needed.rounded(.up))
        }
        let rows = m.inputs + biasRows
        var positive = [Double](repeating: 0, count: m.outputs * rows)
        var negative = [Double](repeating: 0, count: m.outputs * rows)
        var roundedToZero = 0
        var clipped = 0

        func place(_ w: Double, output o: Int, row: Int) {
            let magnitude = abs(w) * scale[o]
            switch scheme {
            case .paper, .invertedOutput:
                guard magnitude > 0 else { return }
                var g = magnitude
                if g > gMax {
                    // Rounding can put the column maximum an ulp above G_max: not a clipped weight.
                    if g > gMax * (1 + 1e-9) { clipped += 1 }
                    g = gMax
                } else if g < gMin {
                    if g >= gMin / 2 { g = gMin } else {
                        g = 0
                        roundedToZero += 1
                    }
                }
                if w > 0 { positive[o * rows + row] = g } else { negative[o * rows + row] = g }
            case .differential:
                var g = gMin + magnitude
                if g > gMax {
                    if g > gMax * (1 + 1e-9) { clipped += 1 }
                    g = gMax
                }
                positive[o * rows + row] = w > 0 ? g : gMin
                negative[o * rows + row] = w < 0 ? g : gMin
            }
        }
        for o in 0..<m.outputs {
            for i in 0..<m.inputs { place(Double(m.weights[o * m.inputs + i]), output: o, row: i) }
            if biasRows > 0, let bias = m.bias {
                for r in 0..<biasRows { place(Double(bias[o]) / Double(biasRows), output: o, row: m.inputs + r) }
            }
        }
        return MappedCrossbar(
            scheme: scheme, inputs: m.inputs, outputs: m.outputs, biasRows: biasRows, positiveSiemens: positive,
            negativeSiemens: negative, siemensPerUnit: scale, weightsRoundedToZero: roundedToZero, weightsClipped: clipped)
    }

    /// The weights these targets represent, `(G⁺ − G⁻)/s` (bias rows summed into a bias).
    public func representedWeights() -> (weights: [Float], bias: [Float]) {
        var w = [Float](repeating: 0, count: outputs * inputs)
        var b = [Float](repeating: 0, count: outputs)
        for o in 0..<outputs {
            for r in 0..<rows {
                let v = Float((positiveSiemens[o * rows + r] - negativeSiemens[o * rows + r]) / siemensPerUnit[o])
                if r < inputs { w[o * inputs + r] = v } else { b[o] += v }
            }
        }
        return (w, b)
    }
}

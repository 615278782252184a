import XbarSimAnalog
import XbarSimCrossbar

/// Electrical settings of the analog modules' circuits (between crossbars).
public struct ModuleCircuitSettings: Sendable, Hashable {
    /// Volts per unit of signal (the chip's `voltsPerUnit`).
    public var voltsPerUnit: Double
    /// Clamp-level error of the diode limiters, volts (`Periphery.limiterOffsetVolts`).
    public var limiterOffsetVolts: Double = 0
    /// Multiplier gain `g = 1 + multiplierGainError`.
    public var multiplierGain: Double = 1
    /// Op-amp output rails, volts; nil for none.
    public var railVolts: Double?
    /// Resistance scale of the op-amp adders and of the clamps' series resistor, ohms.
    public var resistorOhms: Double = 10e3
    /// Output limiter of the ReLUs, volts (`Periphery.reluLimitVolts`); nil for none.
    public var reluLimitVolts: Double?

    public init(voltsPerUnit: Double) { self.voltsPerUnit = voltsPerUnit }

    /// The settings of `periphery` (analog mode) at `voltsPerUnit`.
    public init(periphery: Periphery, voltsPerUnit: Double) {
        self.voltsPerUnit = voltsPerUnit
        limiterOffsetVolts = periphery.limiterOffsetVolts
        multiplierGain = 1 + periphery.multiplierGainError
        railVolts = periphery.opAmp.railVolts
        reluLimitVolts = periphery.reluLimitVolts
    }
}

extension SpiceCircuitBuilder {
    /// A DC reference source at `volts`, shared by name.
    mutating func reference(_ volts: Double) -> String {
        let name = "ref_" + spiceNumber(volts).replacingOccurrences(of: "-", with: "m").replacingOccurrences(of: ".", with: "p")
            .replacingOccurrences(of: "+", with: "")
        if !netlist.lines.contains(where: { $0.hasPrefix("V\(name) ") }) { source("V\(name)", node: name, volts: volts) }
        return name
    }

    /// `node` fed through a series resistor from `input` and held in `[lo, hi]` volts by
    /// precision clamps (either bound may be absent).
    mutating func limiter(_ name: String, input: String, output: String, lowVolts: Double?, highVolts: Double?, ohms: Double) {
        resistor("\(name)_s", input, output, ohms: ohms)
        if let lo = lowVolts { clamp("\(name)_lo", node: output, levelNode: reference(lo), floor: true) }
        if let hi = highVolts { clamp("\(name)_hi", node: output, levelNode: reference(hi), floor: false) }
    }

    /// ReLU with the engine's limiter offset, output limiter and rails:
    /// `min(max(x, δ), V_p + δ, r)` (volts; no `V_p` term without `reluLimitVolts`).
    /// A precision clamp at `min(δ, r)` (the diode ReLU) and, with rails or an output
    /// limiter, a ceiling clamp at `min(V_p + δ, r)` (the limiter): one op-amp and one diode
    /// per clamp, both fed through the series resistor `R`.
    public mutating func relu(_ name: String, input: String, output: String, settings s: ModuleCircuitSettings) {
        let d = s.limiterOffsetVolts
        let r = s.railVolts ?? .infinity
        let top = min(s.reluLimitVolts.map { $0 + d } ?? .infinity, r)
        limiter(name, input: input, output: output, lowVolts: min(d, r), highVolts: top.isFinite ? top : nil,
                ohms: s.resistorOhms)
    }

    /// `(x + 3)/6` in units: an inverting summer (`x` and a `3·u` reference through `6R`,
    /// feedback `R`) and an inverter (`R`, `R`); ideal op-amps with the chip's rails.
    mutating func hardSigmoidAdder(_ name: String, input: String, output: String, s: ModuleCircuitSettings, rails: Double?) {
        let r0 = s.resistorOhms
        let three = reference(3 * s.voltsPerUnit)
        invertingSummer("\(name)A", inputs: [(input, 6 * r0), (three, 6 * r0)], outputNode: "\(name)_n1", feedbackOhms: r0,
                        openLoopGain: nil, railVolts: rails, role: "activation")
        invertingSummer("\(name)B", inputs: [("\(name)_n1", r0)], outputNode: output, feedbackOhms: r0,
                        openLoopGain: nil, railVolts: rails, role: "summerInverters")
    }

    /// Hard-sigmoid `min(clamp((x+3)/6, δ, 1+δ), r)`: the adder, then precision clamps at
    /// `min(δ, r)` and `min(1+δ, r)` (the adder's rails cut it at `r` first, which gives the
    /// same result).
    public mutating func hardSigmoid(_ name: String, input: String, output: String, settings s: ModuleCircuitSettings) {
        let u = s.voltsPerUnit
        let d = s.limiterOffsetVolts
        let r = s.railVolts ?? .infinity
        hardSigmoidAdder(name, input: input, output: "\(name)_y", s: s, rails: s.railVolts)
        limiter(name, input: "\(name)_y", output: output, lowVolts: min(d, r), highVolts: min(u + d, r), ohms: s.resistorOhms)
    }

    /// Hard-swish `g·x·clamp((x+3)/6, δ, 1+δ)`, clipped at the rails: the hard-sigmoid
    /// circuit (no rails inside: its input is already within them) and the multiplier
    /// `V = g/u·v(x)·v(s)`.
    public mutating func hardSwish(_ name: String, input: String, output: String, settings s: ModuleCircuitSettings) {
        let u = s.voltsPerUnit
        hardSigmoidAdder(name, input: input, output: "\(name)_y", s: s, rails: nil)
        limiter(name, input: "\(name)_y", output: "\(name)_s", lowVolts: s.limiterOffsetVolts,
                highVolts: u + s.limiterOffsetVolts, ohms: s.resistorOhms)
        multiplier("\(name)M", a: input, b: "\(name)_s", outputNode: output, gain: s.multiplierGain / u, railVolts: s.railVolts)
    }

    /// SE scaling `g·a·b` (units), clipped: the multiplier `V = g/u·v(a)·v(b)`.
    public mutating func multiply(_ name: String, a: String, b: String, output: String, settings s: ModuleCircuitSettings) {
        multiplier(name, a: a, b: b, outputNode: output, gain: s.multiplierGain / s.voltsPerUnit, railVolts: s.railVolts)
    }

    /// Residual add `a + b`, clipped: an inverting summer and an inverter, ideal op-amps with rails.
    public mutating func add(_ name: String, a: String, b: String, output: String, settings s: ModuleCircuitSettings) {
        let r0 = s.resistorOhms
        invertingSummer("\(name)A", inputs: [(a, r0), (b, r0)], outputNode: "\(name)_n1", feedbackOhms: r0,
                        openLoopGain: nil, railVolts: s.railVolts, role: "summers")
        invertingSummer("\(name)B", inputs: [("\(name)_n1", r0)], outputNode: output, feedbackOhms: r0,
                        openLoopGain: nil, railVolts: s.railVolts, role: "summerInverters")
    }

    /// Clamp (ReLU6, hardtanh) `min(max(x, lo + δ), hi + δ)` in units, then the rails:
    /// precision clamps at each bound that exists.
    public mutating func clampLimiter(
        _ name: String, input: String, output: String, lower: Float?, upper: Float?, settings s: ModuleCircuitSettings
    ) {
        let u = s.voltsPerUnit, d = s.limiterOffsetVolts
        let r = s.railVolts ?? .infinity
        let lo = lower.map { min(max(Double($0) * u + d, -r), r) } ?? s.railVolts.map { -$0 }
        let hi = upper.map { min(max(Double($0) * u + d, -r), r) } ?? s.railVolts
        limiter(name, input: input, output: output, lowVolts: lo, highVolts: hi, ohms: s.resistorOhms)
    }

    /// Max of `inputs` plus the offset `δ` (`Periphery.maxPoolOffsetVolts`), clipped at the
    /// rails: one precision "super diode" per input (an op-amp whose output drives a diode
    /// onto the common node, feedback from that node) and a pull-down resistor to a level
    /// below every signal; the node follows the largest input. The output stage adds `δ`.
    public mutating func maxCircuit(
        _ name: String, inputs: [String], output: String, offsetVolts: Double, settings s: ModuleCircuitSettings
    ) {
        include("xb_opamp")
        include("xb_diode")
        let node = "\(name)_m"
        for (k, x) in inputs.enumerated() {
            let o = "\(name)_o\(k)"
            opAmpTag("maxPool")
            netlist.add("X\(name)_\(k) \(x) \(node) \(o) xb_opamp gain=\(spiceNumber(clampGain))")
            netlist.add("D\(name)_\(k) \(o) \(node) xb_diode")
        }
        let floor = reference(-10 * max(s.railVolts ?? 1, 1))
        resistor("\(name)_pd", node, floor, ohms: 100 * s.resistorOhms)
        let shifted = "\(name)_d"
        netlist.add("B\(name)_off \(shifted) 0 V = v(\(node)) + \(spiceNumber(offsetVolts))")
        rails("\(name)_r", input: shifted, output: output, railVolts: s.railVolts)
    }
}

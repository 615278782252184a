import XbarSimCircuit

/// Writes XbarSim's circuits as SPICE elements into a `SpiceNetlist`.
///
/// **Op-amp macro** (docs/spice.md). Every op-amp is a voltage-controlled voltage source
/// (VCVS) with the finite open-loop gain `A`: `E out 0 inp inm A`, i.e.
/// `V_out = A·(v₊ − v₋)`. With rails, the VCVS drives an internal node and a behavioural
/// source copies it clipped to `±rail` (`B out 0 V = max(min(v(oi), rail), −rail)`): stock
/// ngspice's B-source with `min`/`max` is the exact hard clip the engine models (a diode
/// clamp would add a soft knee of tens of mV). An **ideal** op-amp (no gain given) in an
/// inverting stage is written exactly, without a huge gain that would ruin the matrix's
/// conditioning: its inverting input is a 0 V source to ground (the virtual ground, which
/// also measures the input current `I`) and its output a current-controlled source
/// `V_out = −R_f·I` (then the rail clip).
///
/// **Limiters** are precision clamps: an op-amp (VCVS, gain `clampGain`, no rails) compares
/// the clamped node with the clamp level and drives it through a diode (`xb_diode`,
/// `IS = 1e-14 A`, `N = 1`). The diode's forward drop is divided by the loop gain, so the
/// clamp is ideal to `≈ 0.7 V / clampGain`.
///
/// **Role tags.** Every op-amp element (an `X` instance of `xb_opamp`/`xb_opamp_rails`, the
/// `H` source of an ideal inverting stage, the `E` source of an ideal inverter, subtractor or
/// gain stage) is written right after a comment line `*@opamp ROLE`, ROLE an `OpAmpCounts`
/// coding key (`tias`, `inputInverters`, `clamps`, ...), so the op-amps of a netlist can be
/// counted by role from its text. `B` sources (rail clips, multipliers, the max circuit's
/// offset) and DC sources are not op-amps.
public struct SpiceCircuitBuilder {
    public var netlist: SpiceNetlist
    var subcircuits: Set<String> = []
    var counter = 0
    /// Inverters already written, by the node they invert: one per signal, shared by every
    /// crossbar row (and kernel copy) of the netlist that needs `−x`.
    var invertedSignals: [String: String] = [:]

    /// The comment line that precedes every op-amp element (`*@opamp ROLE`).
    public static let opAmpTagPrefix = "*@opamp "

    /// Marks the next element as an op-amp of `role`.
    mutating func opAmpTag(_ role: String) { netlist.add(Self.opAmpTagPrefix + role) }

    /// Open-loop gain of the op-amps of the precision clamps.
    public var clampGain = 1e9

    public init(title: String) { netlist = SpiceNetlist(title: title) }

    /// A name unique in this netlist, starting with `prefix`.
    public mutating func unique(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)\(counter)"
    }

    mutating func include(_ name: String) {
        guard subcircuits.insert(name).inserted else { return }
        switch name {
        case "xb_opamp":
            netlist.add("* op-amp macro: VCVS with finite open-loop gain, V(out) = gain*(v(inp) - v(inm))")
            netlist.add(".subckt xb_opamp inp inm out gain=1e5")
            netlist.add("E1 out 0 inp inm {gain}")
            netlist.add(".ends xb_opamp")
        case "xb_opamp_rails":
            netlist.add("* op-amp macro with rails: the VCVS output clipped to +-rail")
            netlist.add(".subckt xb_opamp_rails inp inm out gain=1e5 rail=1")
            netlist.add("E1 oi 0 inp inm {gain}")
            netlist.add("B1 out 0 V = max(min(v(oi), {rail}), -{rail})")
            netlist.add(".ends xb_opamp_rails")
        case "xb_diode":
            netlist.add("* limiter diode (inside precision clamps)")
            netlist.add(".model xb_diode D(IS=1e-14 N=1)")
        default:
            preconditionFailure("unknown subcircuit \(name)")
        }
    }

    /// A DC voltage source from `node` to ground; returns its name (for `alter`).
    @discardableResult
    public mutating func source(_ name: String, node: String, volts: Double) -> String {
        netlist.add("\(name) \(node) 0 DC \(spiceNumber(volts))")
        return name
    }

    /// Resistor; a zero resistance is written as a 0 V source (ngspice rejects 0-ohm resistors).
    public mutating func resistor(_ name: String, _ a: String, _ b: String, ohms: Double) {
        precondition(ohms >= 0 && ohms.isFinite)
        if ohms == 0 {
            netlist.add("V\(name) \(a) \(b) DC 0")
        } else {
            netlist.add("R\(name) \(a) \(b) \(spiceNumber(ohms))")
        }
    }

    /// Rail clip of `input` into `output` (or a plain wire when `railVolts` is nil).
    mutating func rails(_ name: String, input: String, output: String, railVolts: Double?) {
        if let r = railVolts {
            netlist.add("B\(name) \(output) 0 V = max(min(v(\(input)), \(spiceNumber(r))), \(spiceNumber(-r)))")
        } else {
            netlist.add("V\(name) \(input) \(output) DC 0")
        }
    }

    /// An inverting op-amp stage whose inverting input is `inputNode` (the caller connects
    /// its input resistors or bit lines there) with feedback `feedbackOhms` to `outputNode`:
    /// `V_out = −R_f·I_in` (ideal) or the finite-gain solution. Returns the name of the
    /// 0 V source measuring the current into the virtual ground when the op-amp is ideal.
    @discardableResult
    public mutating func invertingStage(
        _ name: String, inputNode: String, outputNode: String, feedbackOhms: Double, openLoopGain: Double?,
        railVolts: Double?, role: String
    ) -> String? {
        if let a = openLoopGain {
            opAmpTag(role)
            if let r = railVolts {
                include("xb_opamp_rails")
                netlist.add("X\(name) 0 \(inputNode) \(outputNode) xb_opamp_rails gain=\(spiceNumber(a)) rail=\(spiceNumber(r))")
            } else {
                include("xb_opamp")
                netlist.add("X\(name) 0 \(inputNode) \(outputNode) xb_opamp gain=\(spiceNumber(a))")
            }
            resistor("F\(name)", inputNode, outputNode, ohms: feedbackOhms)
            return nil
        }
        // Ideal: virtual ground + V_out = -R_f * I.
        let ground = "VVG\(name)"
        netlist.add("\(ground) \(inputNode) 0 DC 0")
        let inner = railVolts == nil ? outputNode : "\(outputNode)_i"
        opAmpTag(role)
        netlist.add("H\(name) \(inner) 0 \(ground) \(spiceNumber(-feedbackOhms))")
        if railVolts != nil { rails("RL\(name)", input: inner, output: outputNode, railVolts: railVolts) }
        return ground
    }

    /// An inverting summer: `V_out = −Σ_k (R_f/R_k)·V_k`.
    public mutating func invertingSummer(
        _ name: String, inputs: [(node: String, ohms: Double)], outputNode: String, feedbackOhms: Double,
        openLoopGain: Double?, railVolts: Double?, role: String
    ) {
        let sum = "\(name)_sum"
        for (k, input) in inputs.enumerated() { resistor("\(name)_in\(k)", input.node, sum, ohms: input.ohms) }
        invertingStage(name, inputNode: sum, outputNode: outputNode, feedbackOhms: feedbackOhms,
                       openLoopGain: openLoopGain, railVolts: railVolts, role: role)
    }

    /// An ideal inverter `V(n) = −V(node)` (op-amp with `R`, `R`), one per signal in the
    /// netlist: the first call writes it (`E n 0 node 0 −1`), later calls for the same node
    /// return the same output node.
    mutating func inverter(of node: String, role: String) -> String {
        if let n = invertedSignals[node] { return n }
        let n = "inv_\(node)"
        opAmpTag(role)
        netlist.add("E\(n) \(n) 0 \(node) 0 -1")
        invertedSignals[node] = n
        return n
    }

    /// Precision clamp keeping `v(node) >= v(level)` (`floor`) or `<= v(level)` (ceiling):
    /// op-amp (VCVS, `clampGain`) with + at the level and − at the node, driving the node
    /// through a diode. The node must be fed through a resistance.
    public mutating func clamp(_ name: String, node: String, levelNode: String, floor: Bool) {
        include("xb_opamp")
        include("xb_diode")
        let o = "\(name)_o"
        opAmpTag("clamps")
        netlist.add("X\(name) \(levelNode) \(node) \(o) xb_opamp gain=\(spiceNumber(clampGain))")
        netlist.add(floor ? "D\(name) \(o) \(node) xb_diode" : "D\(name) \(node) \(o) xb_diode")
    }

    /// Analog multiplier: `V_out = gain·v(a)·v(b)`, clipped at the rails. The one
    /// behavioural element besides the rail clips.
    public mutating func multiplier(_ name: String, a: String, b: String, outputNode: String, gain: Double, railVolts: Double?) {
        let product = "\(spiceNumber(gain))*v(\(a))*v(\(b))"
        if let r = railVolts {
            netlist.add("B\(name) \(outputNode) 0 V = max(min(\(product), \(spiceNumber(r))), \(spiceNumber(-r)))")
        } else {
            netlist.add("B\(name) \(outputNode) 0 V = \(product)")
        }
    }
}

import Foundation
import XbarSimAnalog
import XbarSimCircuit
import XbarSimDevice
import XbarSimTensor

/// Solves a tile the way the engine does: column currents `I_c` and TIA outputs `V_out,c`,
/// both `[columns, batch]`, for inputs `[rows, batch]` (volts). The IR-drop solvers
/// (`ExactTileSolver`) plug in here; `TileReferences.ideal` is exact for ideal wires.
public typealias TileReference = @Sendable (TileCircuit, _ inputVolts: [Double], _ batch: Int) throws -> (
    currents: [Double], outputVolts: [Double]
)

public enum TileReferences {
    /// `TileCircuit.idealColumnCurrents` and `V_out = transimpedance·I`: exact when the wires
    /// are ideal (any op-amp gain); ignores wire and source resistances otherwise.
    public static let ideal: TileReference = { circuit, volts, batch in
        let i = circuit.idealColumnCurrents(inputVolts: volts, batch: batch)
        var v = i
        for c in 0..<circuit.columns {
            for n in 0..<batch { v[c * batch + n] = circuit.transimpedanceOhms(column: c) * i[c * batch + n] }
        }
        return (i, v)
    }
}

/// One compared item (a tile, an op, a module sweep): ngspice against the engine.
public struct SpiceCheckItem: Sendable, Equatable, Codable {
    public var name: String
    /// What was compared (e.g. `column currents`, `output volts`).
    public var quantity: String
    public var values: Int
    /// `max |spice − engine| / max |engine|` over the item's values (normwise: entries near
    /// zero do not blow it up).
    public var relativeError: Double
    /// `max |spice − engine|`, in the quantity's unit.
    public var maxAbsoluteError: Double
    /// `max |engine|`, in the quantity's unit.
    public var scale: Double
    /// Seconds to write the netlist and run ngspice.
    public var seconds: Double

    public init(name: String, quantity: String, spice: [Double], engine: [Double], seconds: Double) {
        precondition(spice.count == engine.count)
        self.name = name
        self.quantity = quantity
        values = spice.count
        var err = 0.0, scale = 0.0
        for (s, e) in zip(spice, engine) {
            err = max(err, abs(s - e))
            scale = max(scale, abs(e))
        }
        maxAbsoluteError = err
        self.scale = scale
        relativeError = scale > 0 ? err / scale : err
        self.seconds = seconds
    }
}

/// Result of `xbarsim spice --check`.
public struct SpiceCheckReport: Sendable, Equatable, Codable {
    public var items: [SpiceCheckItem]
    public var maxRelativeError: Double { items.map(\.relativeError).max() ?? 0 }
    public var ngspice: String

    public init(items: [SpiceCheckItem], ngspice: String) {
        self.items = items
        self.ngspice = ngspice
    }

    enum CodingKeys: String, CodingKey { case items, maxRelativeError, ngspice }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items)
        try c.encode(maxRelativeError, forKey: .maxRelativeError)
        try c.encode(ngspice, forKey: .ngspice)
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        items = try c.decode([SpiceCheckItem].self, forKey: .items)
        ngspice = try c.decode(String.self, forKey: .ngspice)
    }
}

public enum SpiceCheck {
    /// Runs one tile through ngspice (netlist written to `path`) and through `reference`;
    /// returns the comparison of column currents and of TIA outputs (rails applied to the
    /// reference's outputs afterwards, as the engine does).
    public static func tile(
        _ circuit: TileCircuit, inputVolts: [Double], batch: Int, railVolts: Double?, name: String,
        reference: TileReference, ngspice: Ngspice, path: String
    ) throws -> [SpiceCheckItem] {
        let start = Date()
        let netlist = TileNetlist(circuit, inputVolts: inputVolts, batch: batch, railVolts: railVolts)
        let spice = try netlist.results(try ngspice.run(netlist.netlist, path: path), file: path)
        let seconds = Date().timeIntervalSince(start)
        var engine = try reference(circuit, inputVolts, batch)
        // A saturated finite-gain TIA no longer holds its virtual ground, so its column
        // current leaves the linear model: currents are compared where outputs are within the rails.
        var linear = [Bool](repeating: true, count: engine.currents.count)
        if let r = railVolts {
            linear = engine.outputVolts.map { abs($0) < r || circuit.openLoopGain == nil }
            engine.outputVolts = engine.outputVolts.map { min(max($0, -r), r) }
        }
        let keep = linear.indices.filter { linear[$0] }
        return [
            SpiceCheckItem(name: name, quantity: "column currents (A)", spice: keep.map { spice.currents[$0] },
                           engine: keep.map { engine.currents[$0] }, seconds: seconds),
            SpiceCheckItem(name: name, quantity: "TIA outputs (V)", spice: spice.outputVolts, engine: engine.outputVolts,
                           seconds: seconds),
        ]
    }
}

extension SpiceCheck {
    /// A random tile: conductances uniform in `[gMin, gMax]` (10 % of the cells empty),
    /// inputs uniform in `±inputVolts`, `R_f = 1/(rows·gMax)·10` so outputs stay near the
    /// input scale; every draw from `RandomStream(seed:, key: [rows, columns])`.
    public static func randomTile(
        rows: Int, columns: Int, wires: WireParameters, openLoopGain: Double?, gMinSiemens: Double, gMaxSiemens: Double,
        inputVolts: Double, batch: Int, seed: UInt64
    ) -> (circuit: TileCircuit, inputVolts: [Double]) {
        var random = RandomStream(seed: seed, key: [UInt64(rows), UInt64(columns)])
        let g = (0..<(rows * columns)).map { _ -> Double in
            random.nextUniform() < 0.1 ? 0 : gMinSiemens + (gMaxSiemens - gMinSiemens) * random.nextUniform()
        }
        let v = (0..<(rows * batch)).map { _ in inputVolts * (2 * random.nextUniform() - 1) }
        let feedback = [Double](repeating: 10 / (Double(rows) * gMaxSiemens), count: columns)
        let circuit = TileCircuit(rows: rows, columns: columns, conductanceSiemens: g, wires: wires, feedbackOhms: feedback,
                                  openLoopGain: openLoopGain)
        return (circuit, v)
    }

    /// Checks ops `ops` of `chip` on one image (flatten ops are skipped); netlists go to `directory`.
    public static func ops(
        chip: AnalogChip, ops: [Int], image: Tensor, firstImage: Int, selection: LayerSelection, ngspice: Ngspice,
        directory: String, threads: Int
    ) throws -> [SpiceCheckItem] {
        var items: [SpiceCheckItem] = []
        for i in ops {
            if case .flatten = chip.stages[i] { continue }
            let op = chip.graph.ops[i]
            let file = "\(directory)/op\(i)-\(op.name.replacingOccurrences(of: "/", with: "_")).cir"
            items.append(try ModuleCheck.check(chip: chip, op: i, image: image, firstImage: firstImage, selection: selection,
                                               ngspice: ngspice, path: file, threads: threads))
        }
        return items
    }
}

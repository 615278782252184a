import Foundation

/// A SPICE netlist for stock ngspice (no XSPICE or other extensions), built line by line,
/// with the operating points to compute and the vectors to read back.
///
/// The `.control` block it ends with runs one `op` analysis per point: each point
/// `alter`s some DC sources, solves, and appends the saved vectors to an ASCII raw file
/// (`set filetype=ascii`, 16 significant digits), which `Ngspice.run` parses.
public struct SpiceNetlist: Sendable, Equatable {
    public var title: String
    /// Element, model and subcircuit lines (everything before `.control`).
    public var lines: [String] = []
    /// Vectors to save and read back, as ngspice names them (`v(node)`, `i(vsource)`), lower case.
    public var vectors: [String] = []
    /// Operating points: per point, `(source, volts)` to `alter` before its `op`. Empty: one
    /// point with the DC values written in the elements.
    public var points: [[(source: String, volts: Double)]] = []
    /// `.options` line. `gmin=1e-22`: ngspice puts GMIN across every pn junction; the clamp
    /// op-amps' outputs swing far from their diodes' operating point when off, and the
    /// default 1e-12 S would leak a measurable current into the clamped node.
    public var options = "gmin=1e-22"

    public init(title: String) { self.title = title }

    public static func == (a: SpiceNetlist, b: SpiceNetlist) -> Bool {
        a.title == b.title && a.lines == b.lines && a.vectors == b.vectors && a.options == b.options
            && a.points.map { $0.map(\.source) } == b.points.map { $0.map(\.source) }
            && a.points.map { $0.map(\.volts) } == b.points.map { $0.map(\.volts) }
    }

    /// Number of operating points the control block computes.
    public var pointCount: Int { max(1, points.count) }

    public mutating func add(_ line: String) { lines.append(line) }
    public mutating func comment(_ text: String) { lines.append("* " + text) }
    public mutating func save(_ vector: String) { vectors.append(vector.lowercased()) }

    /// The netlist text; the control block writes its results to `rawFile` (relative to
    /// ngspice's working directory).
    public func text(rawFile: String) -> String {
        var out = [title.replacingOccurrences(of: "\n", with: " ")]
        out += lines
        out.append(".options \(options)")
        out.append(".control")
        out.append("set noaskquit")
        out.append("set filetype=ascii")
        out.append("set appendwrite")
        // `save` lines: ngspice accepts long lines, but keep them readable.
        for chunk in stride(from: 0, to: vectors.count, by: 8) {
            out.append("save " + vectors[chunk..<min(vectors.count, chunk + 8)].joined(separator: " "))
        }
        if points.isEmpty {
            out += ["op", "write \(rawFile)"]
        } else {
            for point in points {
                for (source, volts) in point { out.append("alter \(source.lowercased()) dc = \(spiceNumber(volts))") }
                out += ["op", "write \(rawFile)"]
            }
        }
        out += ["quit", ".endc", ".end", ""]
        return out.joined(separator: "\n")
    }
}

/// A number as SPICE reads it: 17 significant digits, exponent form, no unit suffix
/// (a bare `m` would mean milli).
public func spiceNumber(_ x: Double) -> String {
    precondition(x.isFinite, "SPICE netlists need finite values, got \(x)")
    if x == 0 { return "0" }
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return String(format: "%.17e", x)
}

import Foundation
import Testing
@testable import XbarSim

/// ngspice, when installed (CI installs it); tests that need it are skipped otherwise.
let testNgspice: Ngspice? = try? Ngspice.locate()

/// Dense nodal analysis of a `TileCircuit` (test reference, independent of the netlist
/// writer): unknowns `w(r,c)`, `b(r,c)` and `t_c`, Gaussian elimination with partial
/// pivoting. Needs `R_s + R_row > 0` and `R_col > 0`; an ideal TIA fixes `t_c = 0`.
func denseNodalSolve(_ c: TileCircuit, inputVolts: [Double]) -> (currents: [Double], outputs: [Double]) {
    let (R, C) = (c.rows, c.columns)
    let n = 2 * R * C + C
    func w(_ r: Int, _ k: Int) -> Int { r * C + k }
    func b(_ r: Int, _ k: Int) -> Int { R * C + r * C + k }
    func t(_ k: Int) -> Int { 2 * R * C + k }
    var a = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    var rhs = [Double](repeating: 0, count: n)
    func conductance(_ i: Int, _ j: Int, _ g: Double) {
        a[i][i] += g; a[j][j] += g; a[i][j] -= g; a[j][i] -= g
    }
    let ws = c.wires
    for r in 0..<R {
        let g = 1 / (ws.sourceResistanceOhms + ws.rowWireResistanceOhms)
        a[w(r, 0)][w(r, 0)] += g
        rhs[w(r, 0)] += g * inputVolts[r]
        for k in 0..<C {
            if k + 1 < C { conductance(w(r, k), w(r, k + 1), 1 / ws.rowWireResistanceOhms) }
            if r + 1 < R { conductance(b(r, k), b(r + 1, k), 1 / ws.columnWireResistanceOhms) }
            let gd = c.conductance(row: r, column: k)
            if gd > 0 { conductance(w(r, k), b(r, k), gd) }
        }
    }
    for k in 0..<C {
        conductance(b(R - 1, k), t(k), 1 / ws.columnWireResistanceOhms)
        if c.openLoopGain == nil {
            a[t(k)] = [Double](repeating: 0, count: n)
            a[t(k)][t(k)] = 1
            rhs[t(k)] = 0
        } else {
            a[t(k)][t(k)] += 1 / c.terminationOhms(column: k)
        }
    }
    // Gaussian elimination, partial pivoting.
    for col in 0..<n {
        var p = col
        for i in col..<n where abs(a[i][col]) > abs(a[p][col]) { p = i }
        a.swapAt(col, p); rhs.swapAt(col, p)
        for i in (col + 1)..<n where a[i][col] != 0 {
            let f = a[i][col] / a[col][col]
            for j in col..<n { a[i][j] -= f * a[col][j] }
            rhs[i] -= f * rhs[col]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for i in stride(from: n - 1, through: 0, by: -1) {
        var s = rhs[i]
        for j in (i + 1)..<n { s -= a[i][j] * x[j] }
        x[i] = s / a[i][i]
    }
    let currents = (0..<C).map { k in (x[b(R - 1, k)] - x[t(k)]) / ws.columnWireResistanceOhms }
    let outputs = (0..<C).map { k in
        c.openLoopGain.map { -$0 * x[t(k)] } ?? -c.feedbackOhms[k] * currents[k]
    }
    return (currents, outputs)
}

/// A tile with conductances in 1-100 uS (some cells empty) and inputs in +-0.2 V.
func randomTile(rows: Int, columns: Int, wires: WireParameters, gain: Double?, seed: UInt64, batch: Int = 1)
    -> (TileCircuit, [Double])
{
    var values = TestValues(seed: seed)
    let g = (0..<(rows * columns)).map { _ -> Double in
        let u = Double(values.next())
        return u < -0.8 ? 0 : 1e-6 + 99e-6 * (u + 1) / 2
    }
    let feedback = (0..<columns).map { _ in 5e3 * (1.5 + Double(values.next())) }
    let v = (0..<(rows * batch)).map { _ in 0.2 * Double(values.next()) }
    return (TileCircuit(rows: rows, columns: columns, conductanceSiemens: g, wires: wires, feedbackOhms: feedback,
                        openLoopGain: gain), v)
}

func maxRelative(_ a: [Double], _ b: [Double]) -> Double {
    let scale = b.map(abs).max() ?? 0
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / max(scale, 1e-300) } ?? 0
}

struct TileNetlistTests {
    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"))
    func twoByTwoIdealWiresIsOhmsLaw() throws {
        let ngspice = try #require(testNgspice)
        let g = [10e-6, 20e-6, 30e-6, 45e-6]
        let v = [0.1, -0.07]
        let circuit = TileCircuit(rows: 2, columns: 2, conductanceSiemens: g, wires: .ideal, feedbackOhms: [1e4, 2e4],
                                  openLoopGain: nil)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let netlist = TileNetlist(circuit, inputVolts: v, batch: 1)
        let (i, out) = try netlist.results(try ngspice.run(netlist.netlist, path: dir + "/t.cir"), file: "t.cir")
        for k in 0..<2 {
            let expected = g[k] * v[0] + g[2 + k] * v[1]  // closed form, by hand
            #expect(abs(i[k] - expected) <= 1e-9 * abs(expected))
            #expect(abs(out[k] + circuit.feedbackOhms[k] * expected) <= 1e-9 * abs(circuit.feedbackOhms[k] * expected))
        }
    }

    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"),
          arguments: [(4, 3, 1.0, 2.0, 0.5, nil), (8, 8, 0.1, 10.0, 3.0, 1e4), (5, 7, 10.0, 0.1, 0.0, 1e3)] as [(Int, Int, Double, Double, Double, Double?)])
    func wiresMatchDenseNodalSolve(rows: Int, columns: Int, rowOhms: Double, columnOhms: Double, sourceOhms: Double, gain: Double?) throws {
        let ngspice = try #require(testNgspice)
        let wires = WireParameters(rowWireResistanceOhms: rowOhms, columnWireResistanceOhms: columnOhms,
                                   sourceResistanceOhms: sourceOhms)
        let batch = 2
        let (circuit, v) = randomTile(rows: rows, columns: columns, wires: wires, gain: gain, seed: UInt64(rows * 31 + columns),
                                      batch: batch)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let netlist = TileNetlist(circuit, inputVolts: v, batch: batch)
        let (i, out) = try netlist.results(try ngspice.run(netlist.netlist, path: dir + "/t.cir"), file: "t.cir")
        for n in 0..<batch {
            let ref = denseNodalSolve(circuit, inputVolts: (0..<rows).map { v[$0 * batch + n] })
            let si = (0..<columns).map { i[$0 * batch + n] }
            let so = (0..<columns).map { out[$0 * batch + n] }
            #expect(maxRelative(si, ref.currents) <= 1e-6)
            #expect(maxRelative(so, ref.outputs) <= 1e-6)
            // Wires of these sizes change the currents measurably: the check can fail.
            let ideal = circuit.idealColumnCurrents(inputVolts: (0..<rows).map { v[$0 * batch + n] }, batch: 1)
            #expect(maxRelative(si, ideal) > 1e-6)
        }
    }

    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"), arguments: [10.0, 1e3, 1e5])
    func finiteGainMacroMatchesClosedForm(gain: Double) throws {
        let ngspice = try #require(testNgspice)
        let (circuit, v) = randomTile(rows: 6, columns: 4, wires: .ideal, gain: gain, seed: 7)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let items = try SpiceCheck.tile(circuit, inputVolts: v, batch: 1, railVolts: nil, name: "gain", reference: TileReferences.ideal,
                                        ngspice: ngspice, path: dir + "/t.cir")
        for item in items { #expect(item.relativeError <= 1e-9, "\(item.quantity): \(item.relativeError)") }
        // Closed form of one column by hand: I = ΣGV / (1 + R_f/(1+A)·ΣG), V = −A/(1+A)·R_f·I.
        let netlist = TileNetlist(circuit, inputVolts: v, batch: 1)
        let (i, out) = try netlist.results(try ngspice.run(netlist.netlist, path: dir + "/u.cir"), file: "u.cir")
        var sg = 0.0, sgv = 0.0
        for r in 0..<6 { sg += circuit.conductance(row: r, column: 0); sgv += circuit.conductance(row: r, column: 0) * v[r] }
        let rf = circuit.feedbackOhms[0]
        let expected = sgv / (1 + rf / (1 + gain) * sg)
        #expect(abs(i[0] - expected) <= 1e-9 * abs(expected))
        #expect(abs(out[0] + gain / (1 + gain) * rf * expected) <= 1e-9 * abs(rf * expected))
    }

    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"), arguments: [nil, 1e5] as [Double?])
    func railsClipTheOutputs(gain: Double?) throws {
        let ngspice = try #require(testNgspice)
        let (circuit, v) = randomTile(rows: 6, columns: 5, wires: .ideal, gain: gain, seed: 11)
        let ideal = try TileReferences.ideal(circuit, v, 1).outputVolts
        let rail = 0.5 * (ideal.map(abs).max() ?? 0)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let netlist = TileNetlist(circuit, inputVolts: v, batch: 1, railVolts: rail)
        let (_, out) = try netlist.results(try ngspice.run(netlist.netlist, path: dir + "/t.cir"), file: "t.cir")
        var clipped = 0
        for k in 0..<5 {
            let expected = min(max(ideal[k], -rail), rail)
            if abs(ideal[k]) > rail { clipped += 1 }
            #expect(abs(out[k] - expected) <= 1e-6 * rail, "column \(k): \(out[k]) vs \(expected)")
        }
        #expect(clipped >= 1)
    }

    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"))
    func zeroWiresAreMergedNotZeroOhmResistors() throws {
        let ngspice = try #require(testNgspice)
        // Column wires only, rows ideal: against the dense solve with a tiny row resistance.
        let wires = WireParameters(rowWireResistanceOhms: 0, columnWireResistanceOhms: 2, sourceResistanceOhms: 0)
        let (circuit, v) = randomTile(rows: 4, columns: 4, wires: wires, gain: nil, seed: 3)
        let text = TileNetlist(circuit, inputVolts: v, batch: 1).netlist.text(rawFile: "x.raw")
        #expect(!text.contains(" 0\n") || !text.split(separator: "\n").contains { $0.hasPrefix("R") && $0.hasSuffix(" 0") })
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let netlist = TileNetlist(circuit, inputVolts: v, batch: 1)
        let (i, _) = try netlist.results(try ngspice.run(netlist.netlist, path: dir + "/t.cir"), file: "t.cir")
        var nearly = circuit
        nearly.wires.rowWireResistanceOhms = 1e-9
        nearly.wires.sourceResistanceOhms = 0
        let ref = denseNodalSolve(nearly, inputVolts: v)
        #expect(maxRelative(i, ref.currents) <= 1e-6)
    }

    @Test func rawParserReadsSeveralPoints() throws {
        let raw = """
            Title: t
            Plotname: Operating Point
            No. Variables: 2
            No. Points: 1
            Variables:
            \t0\ti(vam0)\tcurrent
            \t1\tv(out0)\tvoltage
            Values:
             0\t1.5e-06
            \t-2.0e-01
            Title: t
            No. Variables: 2
            No. Points: 1
            Variables:
            \t0\ti(vam0)\tcurrent
            \t1\tv(out0)\tvoltage
            Values:
             0\t3.0e-06
            \t-4.0e-01
            """
        let points = try Ngspice.parseRaw(raw, file: "x.cir")
        #expect(points.count == 2)
        #expect(points[0]["i(vam0)"] == 1.5e-6)
        #expect(points[1]["v(out0)"] == -0.4)
    }

    @Test(.enabled(if: testNgspice != nil, "ngspice not installed: SPICE tests skipped"))
    func rejectedNetlistNamesFileAndQuotesNgspice() throws {
        let ngspice = try #require(testNgspice)
        var netlist = SpiceNetlist(title: "broken")
        netlist.add("V1 a 0 DC 1")
        netlist.add("Q9 a b")  // a transistor without a model
        netlist.save("v(a)")
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let message = errorMessage { _ = try ngspice.run(netlist, path: dir + "/broken.cir") }
        #expect(message.contains("broken.cir"))
        #expect(message.contains("q9 a b") || message.contains("model"), "\(message)")
    }

    @Test func missingNgspiceIsATypedError() throws {
        #expect(throws: SpiceError.ngspiceNotFound(searched: "/nonexistent/ngspice")) {
            try Ngspice.locate(explicit: "/nonexistent/ngspice")
        }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let message = errorMessage { _ = try Ngspice(executable: "/nonexistent/ngspice").run(SpiceNetlist(title: "x"), path: dir + "/x.cir") }
        #expect(message.contains("ngspice not found") && message.contains("/nonexistent/ngspice"))
    }
}

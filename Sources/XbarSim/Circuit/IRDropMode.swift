/// How the wire resistance of crossbar tiles is simulated (`--ir-drop`).
public enum IRDropMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Ideal wires: `I_c = Σ_r G_rc·V_r` (with the TIA's finite-gain error only).
    case off
    /// `FastTileSolver`: preconditioned conjugate gradients on the whole batch, to a tolerance.
    case fast
    /// `ExactTileSolver`: direct (block Cholesky) nodal analysis in double precision.
    case exact
}

/// A solver of a tile's linear circuit for a batch of input voltages.
public protocol TileSolver: Sendable {
    var circuit: TileCircuit { get }
    /// Solves the tile for `batch` input vectors (`inputVolts` is `[rows, batch]`, images
    /// innermost). With `nodeVoltages`, the solution also holds every word- and bit-line node.
    func solve(inputVolts: [Double], batch: Int, nodeVoltages: Bool) -> TileSolution
}

extension TileSolver {
    public func solve(inputVolts: [Double], batch: Int) -> TileSolution {
        solve(inputVolts: inputVolts, batch: batch, nodeVoltages: false)
    }

    /// The tile's transfer matrix `T` (`columns x rows`, amps per volt): `I_c = Σ_r T_cr·V_r`.
    /// The circuit is linear, so one solve with the `rows` unit inputs gives all of it.
    public func transferMatrix() -> [Double] {
        let r = circuit.rows
        var identity = [Double](repeating: 0, count: r * r)
        for i in 0..<r { identity[i * r + i] = 1 }
        return solve(inputVolts: identity, batch: r).columnCurrentsAmps
    }

    /// Power dissipated in the devices, the wires and the drivers' source resistances, per image.
    public func dissipation(inputVolts: [Double], batch: Int) -> TileDissipation {
        let s = solve(inputVolts: inputVolts, batch: batch, nodeVoltages: true)
        return TileDissipation(circuit: circuit, inputVolts: inputVolts, solution: s)
    }
}

import XbarSimCircuit

/// How the wires of every crossbar tile are simulated: the IR-drop part of a chip's
/// parameters (`--wire-resistance`, `--row-wire-resistance`, `--column-wire-resistance`,
/// `--source-resistance`, `--ir-drop`, `--ir-drop-tolerance`).
public struct CircuitModel: Sendable, Hashable, Codable {
    public var wires = WireParameters.ideal
    /// `off` keeps the ideal-wire crossbar whatever the wires; `fast`/`exact` solve every tile.
    public var irDrop = IRDropMode.off
    /// Relative residual at which `FastTileSolver` stops (`‖r‖₂ ≤ tol·‖b‖₂` per input vector).
    public var fastTolerance = 1e-6
    /// Iteration limit of `FastTileSolver`.
    public var fastMaxIterations = 1000

    public init() {}

    /// Whether tiles are solved as circuits (any mode but `off`).
    public var solvesTiles: Bool { irDrop != .off }

    public func validate() throws(CrossbarParameterError) {
        try wires.validate()
        for (value, flag) in [
            (wires.rowWireResistanceOhms, "--row-wire-resistance"), (wires.columnWireResistanceOhms, "--column-wire-resistance"),
            (wires.sourceResistanceOhms, "--source-resistance"),
        ] where value != 0 && value < 1e-9 {
            throw CrossbarParameterError(parameter: flag, message: "must be 0 or at least 1e-9 ohms, got \(value)")
        }
        guard fastTolerance > 0, fastTolerance < 1 else {
            throw CrossbarParameterError(parameter: "--ir-drop-tolerance", message: "must be in (0, 1), got \(fastTolerance)")
        }
        guard fastMaxIterations > 0 else {
            throw CrossbarParameterError(parameter: "--ir-drop-iterations", message: "must be positive, got \(fastMaxIterations)")
        }
    }
}

extension CircuitModel {
    /// The solver `irDrop` selects for `circuit`, nil for `off` (ideal wires: no circuit to solve).
    ///
    /// - Throws: `LAPACKError` when the exact solver cannot factorise the tile's nodal matrix.
    public func solver(for circuit: TileCircuit) throws -> (any TileSolver)? {
        switch irDrop {
        case .off: nil
        case .exact: try ExactTileSolver(circuit)
        case .fast: FastTileSolver(circuit, relativeTolerance: fastTolerance, maxIterations: fastMaxIterations)
        }
    }
}

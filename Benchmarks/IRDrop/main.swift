// Per-tile IR-drop solver benchmark: exact (factorise + transfer matrix) and fast
// (transfer matrix = solve with the `rows` unit inputs) on random tiles, with the fast
// solver's error against the exact one.
//
//     swift build -c release --product irdrop-bench
//     .build/release/irdrop-bench [size] [repeats]
import Foundation
import XbarSim

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let size = arguments.first ?? 128
let repeats = arguments.dropFirst().first ?? 3
BLAS.setThreads(1)

func randomTile(ohms: Double, seed: UInt64) -> TileCircuit {
    var stream = RandomStream(seed: seed, key: [UInt64(size)])
    // rram-like: devices 1..100 µS on 40 % of the cells (paper scheme: one of the two rows
    // of an input carries the device), TIAs with R_f = 1/s for s = 100 µS per unit, A = 1e4.
    let g = (0..<(size * size)).map { _ -> Double in
        stream.nextUniform() < 0.6 ? 0 : 1e-6 + 99e-6 * stream.nextUniform()
    }
    return TileCircuit(rows: size, columns: size, conductanceSiemens: g,
                       wires: WireParameters(rowWireResistanceOhms: ohms, columnWireResistanceOhms: ohms),
                       feedbackOhms: Array(repeating: 1e4, count: size), openLoopGain: 1e4)
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = Date()
        try body()
        best = min(best, Date().timeIntervalSince(start))
    }
    return best
}

print("tile \(size)x\(size), best of \(repeats), 1 BLAS thread")
print("ohms  exact_factor_s  exact_transfer_s  fast_transfer_s  fast_iterations  fast_vs_exact_fullscale  ir_drop_fullscale")
for ohms in [0.1, 1.0, 10.0] {
    let t = randomTile(ohms: ohms, seed: 1)
    var exact: ExactTileSolver?
    let factor = try seconds { exact = try ExactTileSolver(t) }
    guard let exact else { fatalError("unreachable") }
    var te: [Double] = []
    let transfer = seconds { te = exact.transferMatrix() }
    let fast = FastTileSolver(t, relativeTolerance: 1e-6)
    var sol: (matrix: [Double], iterations: Int, relativeResidual: Double)?
    let chunk = Int(ProcessInfo.processInfo.environment["CHUNK"] ?? "") ?? FastTileSolver.transferChunk
    let fastSeconds = seconds { sol = fast.transfer(chunk: chunk) }
    let tf = sol?.matrix ?? []
    let scale = te.map(abs).max() ?? 1
    let error = zip(tf, te).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    // How large IR drop is: the exact transfer matrix against the ideal-wire one.
    var ideal = t
    ideal.wires = .ideal
    let ti = try ExactTileSolver(ideal).transferMatrix()
    let drop = zip(te, ti).map { abs($0 - $1) }.max().map { $0 / (ti.map(abs).max() ?? 1) } ?? 0
    print(String(format: "%4.1f  %14.3f  %16.3f  %15.3f  %15d  %23.2e  %17.3f", ohms, factor, transfer, fastSeconds,
                 sol?.iterations ?? 0, error, drop))
}

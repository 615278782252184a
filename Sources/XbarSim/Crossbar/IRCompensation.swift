import Foundation
import XbarSimCircuit
import XbarSimDevice

/// IR-drop-aware programming (`--ir-compensation N`): the target conductances are
/// pre-distorted so that the crossbar's effective weights, read through its wires, approach the
/// ideal weights. See `IRCompensation.predistort` and docs/remedies.md.
public struct IRCompensation: Sendable, Hashable, Codable {
    /// What happens where a pre-distorted target leaves the window (`--ir-compensation-window`).
    public enum WindowPolicy: String, Sendable, Hashable, Codable, CaseIterable {
        /// Clip the device at `G_min`/`G_max`; the weight keeps a residual error.
        case clip
        /// Where a column's largest target would exceed `G_max`, lower the column's siemens per
        /// unit `s_o` (raise its TIA feedback `R_f = 1/s_o`) by `κ_o = G_max/max G` and scale its
        /// targets by `κ_o`, so that the column fits; then clip what is still outside (`G_min`).
        case rescale
    }

    /// Fixed-point iterations; 0: off (targets as mapped).
    public var iterations: Int = 0
    public var window: WindowPolicy = .clip

    public init(iterations: Int = 0, window: WindowPolicy = .clip) {
        self.iterations = iterations
        self.window = window
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        iterations = try c.decodeIfPresent(Int.self, forKey: .iterations) ?? 0
        window = try c.decodeIfPresent(WindowPolicy.self, forKey: .window) ?? .clip
    }

    public static let maxIterations = 50

    public var isActive: Bool { iterations > 0 }

    public func validate() throws(CrossbarParameterError) {
        guard iterations >= 0, iterations <= Self.maxIterations else {
            throw CrossbarParameterError(
                parameter: "--ir-compensation", message: "must be in 0...\(Self.maxIterations) iterations, got \(iterations)")
        }
    }
}

/// How well one crossbar's pre-distortion worked, on its nominal targets (before programming
/// variation): relative RMS error `‖W_eff − W‖_F / ‖W‖_F` of its effective weights (bias included)
/// against the ideal weights `W` (the mapped targets read through ideal wires and ideal op-amps).
public struct IRCompensationResult: Sendable, Equatable, Codable {
    public var iterations: Int
    /// Without pre-distortion (the mapped targets, quantised to the levels, through the wires).
    public var residualBefore: Double
    /// With the pre-distorted targets quantised to the levels: what the devices are asked for.
    public var residual: Double
    /// Residual of the continuous iterate after each iteration (before quantisation), for
    /// convergence plots; `residualHistory.count == iterations`.
    public var residualHistory: [Double]
    /// Devices whose pre-distorted target was clipped at the window (`G_min` or `G_max`) in the last
    /// iteration: where pre-distortion is infeasible.
    public var devicesAtWindowLimit: Int

    public init(iterations: Int, residualBefore: Double, residual: Double, residualHistory: [Double],
                devicesAtWindowLimit: Int) {
        self.iterations = iterations
        self.residualBefore = residualBefore
        self.residual = residual
        self.residualHistory = residualHistory
        self.devicesAtWindowLimit = devicesAtWindowLimit
    }
}

extension IRCompensation {
    /// The effective weights (`outputs x inputs`) and bias (`outputs`) of `mapped` holding the
    /// devices `positive`/`negative`, every part of `EffectiveWeights.build` summed, in `Double`.
    public static func effectiveMatrix(
        _ mapped: MappedCrossbar, positive: [Double], negative: [Double], options: EffectiveWeightOptions
    ) throws -> (weights: [Double], bias: [Double]) {
        let parts = try EffectiveWeights.build(mapped: mapped, positiveSiemens: positive, negativeSiemens: negative,
                                               options: options)
        var w = [Double](repeating: 0, count: mapped.outputs * mapped.inputs)
        var b = [Double](repeating: 0, count: mapped.outputs)
        for part in parts {
            let width = part.inputRows.count
            for o in 0..<mapped.outputs {
                for (j, r) in part.inputRows.enumerated() { w[o * mapped.inputs + r] += Double(part.weights[o * width + j]) }
                if let bias = part.bias { b[o] += Double(bias[o]) }
            }
        }
        return (w, b)
    }

    /// The ideal weights of `mapped`: `(G⁺ − G⁻)/s`, bias rows summed into the bias.
    public static func idealMatrix(_ mapped: MappedCrossbar) -> (weights: [Double], bias: [Double]) {
        var w = [Double](repeating: 0, count: mapped.outputs * mapped.inputs)
        var b = [Double](repeating: 0, count: mapped.outputs)
        for o in 0..<mapped.outputs {
            for r in 0..<mapped.rows {
                let v = (mapped.positiveSiemens[o * mapped.rows + r] - mapped.negativeSiemens[o * mapped.rows + r])
                    / mapped.siemensPerUnit[o]
                if r < mapped.inputs { w[o * mapped.inputs + r] = v } else { b[o] += v }
            }
        }
        return (w, b)
    }

    /// `‖(w, b) − (w₀, b₀)‖ / ‖(w₀, b₀)‖` (0 when the reference is all zero).
    public static func relativeError(_ a: (weights: [Double], bias: [Double]), _ ref: (weights: [Double], bias: [Double])) -> Double {
        var d = 0.0, n = 0.0
        for (x, y) in zip(a.weights + a.bias, ref.weights + ref.bias) {
            d += (x - y) * (x - y)
            n += y * y
        }
        return n > 0 ? (d / n).squareRoot() : 0
    }

    /// Pre-distorts `mapped`'s targets for the wires of `options.circuit`.
    ///
    /// With `W` the ideal weights (`idealMatrix`) and `W_eff(G)` the effective weights of devices
    /// `G` read through the tiles' circuits (`EffectiveWeights.build`, the solver of
    /// `options.circuit.irDrop`), the projected fixed-point iteration
    ///
    ///     E_k = W − W_eff(G_k),   G_{k+1} = Π(G_k + s_o·E_k)
    ///
    /// moves each device by its weight's error in siemens (`s_o` the column's siemens per unit;
    /// the bias error of an output split evenly over its bias rows). `Π` keeps the device on its
    /// side and in the window: paper and inverted-output change the one device of a non-zero
    /// weight, clipped to `[G_min, G_max]` (a weight with no device keeps none); differential moves
    /// the difference `D = G⁺ − G⁻` and places it as `G± = G_min + max(±D, 0)`, clipped at `G_max`.
    /// The wires only attenuate and couple (`W_eff = W − ΔW(G)` with `‖∂ΔW/∂G‖` small), so without
    /// clipping the error contracts by about the relative IR drop each iteration.
    ///
    /// With `policy` `.rescale`, a column whose largest proposal exceeds `G_max` gets its scale
    /// lowered, `s_o → κ_o·s_o` with `κ_o = G_max/max G` (differential: `(G_max − G_min)/max(G_min + |D|)`),
    /// and every proposal of the column scaled by `κ_o`: the same weights on lower conductances and
    /// a larger TIA feedback `R_f = 1/s_o` (the returned mapping carries the new `siemensPerUnit`).
    ///
    /// The returned targets are continuous; programming rounds them to the levels and then applies
    /// variation, faults and drift to them as to any target. `residual` is measured with the targets
    /// rounded to `levels` (one more solve).
    ///
    /// - Parameter options: the crossbar's layout and circuit; read noise, drift compensation and
    ///   separate TIA halves are ignored (nominal devices).
    public static func predistort(
        _ mapped: MappedCrossbar, options: EffectiveWeightOptions, window: ConductanceWindow,
        levels: ConductanceLevels, iterations: Int, policy: WindowPolicy = .clip
    ) throws -> (mapped: MappedCrossbar, result: IRCompensationResult) {
        var options = options
        options.readNoiseSigma = 0
        options.driftCompensation = 1
        options.columnDriftCompensation = nil
        options.keepTIAsSeparate = false
        let target = idealMatrix(mapped)
        let (gMin, gMax) = (window.gMinSiemens, window.gMaxSiemens)
        // A device cannot be programmed to 0 S (that is "no device"): the floor when G_min = 0.
        let floor = max(gMin, gMax * 1e-9)
        let rows = mapped.rows
        let quantized = { (g: [Double]) in g.map { $0 == 0 ? 0 : levels.quantize($0, in: window) } }
        var work = mapped
        let before = try effectiveMatrix(mapped, positive: quantized(mapped.positiveSiemens),
                                         negative: quantized(mapped.negativeSiemens), options: options)
        let residualBefore = relativeError(before, target)
        var history: [Double] = []
        var atLimit = 0
        var current = iterations > 0
            ? try effectiveMatrix(work, positive: work.positiveSiemens, negative: work.negativeSiemens, options: options)
            : before
        var proposal = [Double](repeating: 0, count: rows)
        for _ in 0..<iterations {
            atLimit = 0
            for o in 0..<mapped.outputs {
                let s = work.siemensPerUnit[o]
                let biasError = mapped.biasRows > 0
                    ? (target.bias[o] - current.bias[o]) / Double(mapped.biasRows) : 0
                // Unclipped proposals: the device's conductance (paper, inverted-output) or the
                // pair's difference D = G⁺ − G⁻ (differential), moved by the weight error in siemens.
                var largest = 0.0
                for r in 0..<rows {
                    let i = o * rows + r
                    let e = r < mapped.inputs
                        ? target.weights[o * mapped.inputs + r] - current.weights[o * mapped.inputs + r] : biasError
                    let step = s * e
                    switch mapped.scheme {
                    case .paper, .invertedOutput:
                        if mapped.positiveSiemens[i] > 0 {
                            proposal[r] = work.positiveSiemens[i] + step
                        } else if mapped.negativeSiemens[i] > 0 {
                            proposal[r] = work.negativeSiemens[i] - step
                        } else {
                            proposal[r] = 0
                        }
                        largest = max(largest, proposal[r])
                    case .differential:
                        proposal[r] = work.positiveSiemens[i] - work.negativeSiemens[i] + step
                        largest = max(largest, gMin + abs(proposal[r]))
                    }
                }
                // Rescale: the column's scale drops so its largest target lands on G_max.
                if policy == .rescale, largest > gMax {
                    let kappa = mapped.scheme == .differential ? (gMax - gMin) / (largest - gMin) : gMax / largest
                    work.siemensPerUnit[o] *= kappa
                    for r in 0..<rows { proposal[r] *= kappa }
                }
                for r in 0..<rows {
                    let i = o * rows + r
                    let g = proposal[r]
                    switch mapped.scheme {
                    case .paper, .invertedOutput:
                        let clipped = min(max(g, floor), gMax)
                        if mapped.positiveSiemens[i] > 0 {
                            work.positiveSiemens[i] = clipped
                        } else if mapped.negativeSiemens[i] > 0 {
                            work.negativeSiemens[i] = clipped
                        } else {
                            continue
                        }
                        if g < floor || g > gMax * (1 + 1e-12) { atLimit += 1 }
                    case .differential:
                        let p = gMin + max(g, 0), n = gMin + max(-g, 0)
                        if p > gMax * (1 + 1e-12) || n > gMax * (1 + 1e-12) { atLimit += 1 }
                        work.positiveSiemens[i] = min(p, gMax)
                        work.negativeSiemens[i] = min(n, gMax)
                    }
                }
            }
            current = try effectiveMatrix(work, positive: work.positiveSiemens, negative: work.negativeSiemens,
                                          options: options)
            history.append(relativeError(current, target))
        }
        let out = work
        let final = iterations > 0
            ? try effectiveMatrix(work, positive: quantized(work.positiveSiemens), negative: quantized(work.negativeSiemens),
                                  options: options)
            : before
        return (out, IRCompensationResult(iterations: iterations, residualBefore: residualBefore,
                                          residual: relativeError(final, target), residualHistory: history,
                                          devicesAtWindowLimit: atLimit))
    }
}

extension IRCompensation {
    /// Everything `predistort` depends on; chips of one configuration share their pre-distortion.
    struct CacheKey: Hashable {
        var mapped: MappedCrossbar
        var tile: TileSize
        var circuit: CircuitModel
        var opAmp: OpAmp
        var partPerRowTile: Bool
        var separateOutputs: Bool
        var window: ConductanceWindow
        var levels: ConductanceLevels
        var iterations: Int
        var policy: WindowPolicy
    }

    /// Pre-distortions computed in this process (`predistortCached`). Pre-distortion depends only on
    /// the nominal targets and the circuit, never on a chip's random draws, so every chip after
    /// the first reuses it; cleared when it holds `cacheLimit` crossbars (a long sweep).
    final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [CacheKey: (MappedCrossbar, IRCompensationResult)] = [:]

        func value(_ key: CacheKey) -> (MappedCrossbar, IRCompensationResult)? {
            lock.lock()
            defer { lock.unlock() }
            return entries[key]
        }

        func store(_ key: CacheKey, _ value: (MappedCrossbar, IRCompensationResult)) {
            lock.lock()
            defer { lock.unlock() }
            if entries.count >= IRCompensation.cacheLimit { entries.removeAll() }
            entries[key] = value
        }
    }

    static let cache = Cache()
    static let cacheLimit = 4096

    /// `predistort`, computed once per process for equal inputs (the result is a pure function of
    /// them, so caching changes no number).
    public static func predistortCached(
        _ mapped: MappedCrossbar, options: EffectiveWeightOptions, window: ConductanceWindow,
        levels: ConductanceLevels, iterations: Int, policy: WindowPolicy = .clip
    ) throws -> (mapped: MappedCrossbar, result: IRCompensationResult) {
        let key = CacheKey(mapped: mapped, tile: options.tile, circuit: options.circuit, opAmp: options.opAmp,
                           partPerRowTile: options.partPerRowTile, separateOutputs: options.separateOutputs,
                           window: window, levels: levels, iterations: iterations, policy: policy)
        if let hit = cache.value(key) { return hit }
        let value = try predistort(mapped, options: options, window: window, levels: levels, iterations: iterations,
                                   policy: policy)
        cache.store(key, value)
        return value
    }
}

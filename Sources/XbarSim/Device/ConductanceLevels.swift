/// The conductances a device can be programmed to inside its `ConductanceWindow`.
///
/// - `continuous`: any value in the window (`--levels 0`).
/// - `uniform(count:)`: `count` levels spaced evenly in conductance, gMin and gMax included:
///
///       G_k = gMin + k·Δ,  Δ = (gMax − gMin)/(count − 1),  k = 0 ..< count
///
///   (`G_{count−1}` is exactly gMax). `validate()` checks `count >= 2`.
public enum ConductanceLevels: Sendable, Hashable, Codable {
    case continuous
    case uniform(count: Int)

    /// The `--levels` value: 0 is `continuous`, anything else `uniform(count:)` (validated later).
    public init(cliValue: Int) {
        self = cliValue == 0 ? .continuous : .uniform(count: cliValue)
    }

    /// The inverse of `init(cliValue:)`.
    public var cliValue: Int {
        switch self {
        case .continuous: 0
        case .uniform(let count): count
        }
    }

    /// Spacing `Δ` between adjacent levels in siemens; nil for `continuous`.
    public func step(in window: ConductanceWindow) -> Double? {
        switch self {
        case .continuous: nil
        case .uniform(let count): window.spanSiemens / Double(count - 1)
        }
    }

    /// The programmable conductance nearest to `g`, in siemens.
    ///
    /// `g` is clipped to the window first; ties between two levels go to the higher one.
    /// The error is at most `Δ/2` for `g` inside the window.
    public func quantize(_ g: Double, in window: ConductanceWindow) -> Double {
        LevelQuantizer(self, window).quantize(g)
    }

    public func validate() throws(DeviceParameterError) {
        if case .uniform(let count) = self, count < 2 {
            throw DeviceParameterError(
                parameter: "--levels", message: "must be 0 (continuous) or at least 2, got \(count)")
        }
    }
}

/// `ConductanceLevels` with its constants precomputed, for per-device loops.
struct LevelQuantizer {
    let gMin: Double
    let gMax: Double
    /// Δ; 0 for continuous.
    let step: Double
    let lastLevel: Double

    init(_ levels: ConductanceLevels, _ window: ConductanceWindow) {
        gMin = window.gMinSiemens
        gMax = window.gMaxSiemens
        switch levels {
        case .continuous:
            step = 0
            lastLevel = 0
        case .uniform(let count):
            precondition(count >= 2, "validate() the levels first")
            step = (gMax - gMin) / Double(count - 1)
            lastLevel = Double(count - 1)
        }
    }

    /// Clip to the window, then round to the nearest level: `k = ⌊(g − gMin)/Δ + ½⌋`.
    @inline(__always)
    func quantize(_ g: Double) -> Double {
        let clipped = min(max(g, gMin), gMax)
        guard step > 0 else { return clipped }
        let k = min(((clipped - gMin) / step + 0.5).rounded(.down), lastLevel)
        return k == lastLevel ? gMax : gMin + k * step
    }
}

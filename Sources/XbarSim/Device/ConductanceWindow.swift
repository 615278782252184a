/// The conductance range a device can be programmed to.
///
/// The default, 1 µS ... 100 µS (1 MΩ ... 10 kΩ), is a window typical of filamentary RRAM
/// (aihwkit's PCM model defaults to `g_max` = 25 µS). `validate()` checks `0 <= gMin < gMax`,
/// both finite.
public struct ConductanceWindow: Sendable, Hashable, Codable {
    /// Lowest programmable conductance, in siemens (`--g-min`).
    public var gMinSiemens: Double = 1e-6
    /// Highest programmable conductance, in siemens (`--g-max`).
    public var gMaxSiemens: Double = 1e-4

    public init(gMinSiemens: Double = 1e-6, gMaxSiemens: Double = 1e-4) {
        self.gMinSiemens = gMinSiemens
        self.gMaxSiemens = gMaxSiemens
    }

    /// `gMax − gMin`, in siemens.
    public var spanSiemens: Double { gMaxSiemens - gMinSiemens }

    /// `min(max(g, gMin), gMax)`: the nearest conductance inside the window.
    @inline(__always)
    public func clip(_ g: Double) -> Double {
        min(max(g, gMinSiemens), gMaxSiemens)
    }

    public func validate() throws(DeviceParameterError) {
        guard gMinSiemens.isFinite, gMinSiemens >= 0 else {
            throw DeviceParameterError(
                parameter: "--g-min", message: "must be finite and >= 0 S, got \(gMinSiemens) S")
        }
        guard gMaxSiemens.isFinite else {
            throw DeviceParameterError(parameter: "--g-max", message: "must be finite, got \(gMaxSiemens) S")
        }
        guard gMaxSiemens > gMinSiemens else {
            throw DeviceParameterError(
                parameter: "--g-max",
                message: "must be greater than --g-min, got --g-min \(gMinSiemens) S, --g-max \(gMaxSiemens) S")
        }
    }
}

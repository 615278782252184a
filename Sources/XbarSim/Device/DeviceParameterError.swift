/// A device parameter outside its valid range.
///
/// `parameter` is the command-line flag that sets the value (`--variation`, `--levels`,
/// `--g-min`, ...), so the CLI can show the error as typed: `--variation: must be >= 0, got -0.1`.
public struct DeviceParameterError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The flag spelling, e.g. `"--stuck-on"`.
    public var parameter: String
    public var message: String

    public init(parameter: String, message: String) {
        self.parameter = parameter
        self.message = message
    }

    public var description: String { "\(parameter): \(message)" }
}

/// Checks that `value` is finite and `>= 0`; the one place that words this message.
func requireNonNegative(_ value: Double, _ parameter: String) throws(DeviceParameterError) {
    if value.isInfinite {
        throw DeviceParameterError(parameter: parameter, message: "must be finite, got \(value)")
    }
    guard value >= 0 else {  // also rejects NaN
        throw DeviceParameterError(parameter: parameter, message: "must be >= 0, got \(value)")
    }
}

/// A value from outside (a command-line flag, an environment variable, a file field) that
/// cannot be used; `parameter` names where it came from (`--threads`, `$XBARSIM_DATA`,
/// `model.h5: /ops/op_003/stride`), the description is one line, "parameter: message".
public struct InputError: Error, Hashable, CustomStringConvertible, Sendable {
    public var parameter: String
    public var message: String

    public init(parameter: String, message: String) {
        self.parameter = parameter
        self.message = message
    }

    public var description: String { "\(parameter): \(message)" }
}

/// A model file that is readable HDF5 but not a valid XbarSim model.
///
/// The message names the file, the object inside it and, for ops, the op's name.
public struct ModelError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    /// `/`, `/ops/0003`, `/golden`, ...
    public var object: String
    /// The op's name when the error concerns an op.
    public var op: String?
    public var message: String

    public init(file: String, object: String, op: String? = nil, message: String) {
        self.file = file
        self.object = object
        self.op = op
        self.message = message
    }

    public var description: String {
        if let op { return "\(file): \(object) (op '\(op)'): \(message)" }
        return "\(file): \(object): \(message)"
    }
}

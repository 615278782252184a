/// An error from reading or writing an HDF5 file.
///
/// Every error names the file and the object (group, dataset or attribute path)
/// it concerns, so that a user can find the bad entry with `h5ls -r`.
public struct HDF5Error: Error, Hashable, CustomStringConvertible, Sendable {
    /// The HDF5 file's path as given by the caller.
    public var file: String
    /// The object inside the file, e.g. `/ops/0003` or `/ops/0003@stride` for an attribute.
    public var object: String
    /// What went wrong.
    public var message: String

    public init(file: String, object: String, message: String) {
        self.file = file
        self.object = object
        self.message = message
    }

    public var description: String { "\(file): \(object): \(message)" }
}

import XbarSimDevice

/// Largest crossbar the hardware offers, in *physical* rows and columns.
///
/// Layers larger than a tile are split: rows into several tiles whose partial sums
/// are added (in the analog domain, or after per-tile ADCs in digitized mode),
/// columns into tiles that work side by side. `unlimited` is the reference design,
/// which sizes every crossbar to its layer.
public struct TileSize: Sendable, Hashable, Codable, CustomStringConvertible {
    /// nil: unlimited.
    public var rows: Int?
    public var columns: Int?

    public init(rows: Int?, columns: Int?) {
        self.rows = rows
        self.columns = columns
    }

    public static let unlimited = TileSize(rows: nil, columns: nil)

    /// Parses `128x128`, `256X64` or `unlimited`.
    public init?(argument: String) {
        if argument == "unlimited" || argument == "none" {
            self = .unlimited
            return
        }
        let parts = argument.lowercased().split(separator: "x")
        guard parts.count == 2, let r = Int(parts[0]), let c = Int(parts[1]) else { return nil }
        self.init(rows: r, columns: c)
    }

    public var description: String {
        guard let rows, let columns else { return "unlimited" }
        return "\(rows)x\(columns)"
    }

    public func validate() throws(CrossbarParameterError) {
        if let rows, rows < 2 { throw CrossbarParameterError(parameter: "--tile", message: "rows must be at least 2, got \(rows)") }
        if let columns, columns < 2 {
            throw CrossbarParameterError(parameter: "--tile", message: "columns must be at least 2, got \(columns)")
        }
        if (rows == nil) != (columns == nil) {
            throw CrossbarParameterError(parameter: "--tile", message: "give both rows and columns, or unlimited")
        }
    }
}

/// A crossbar or periphery parameter that is out of range: the same error type as the
/// device parameters (`parameter` is the CLI flag, the description "flag: message").
public typealias CrossbarParameterError = DeviceParameterError

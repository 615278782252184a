/// Why a SPICE run gave no result. Every case names the netlist file.
public enum SpiceError: Error, Equatable, CustomStringConvertible {
    /// No `ngspice` executable: `searched` lists where XbarSim looked.
    case ngspiceNotFound(searched: String)
    /// ngspice refused the netlist or its analysis failed; `message` quotes ngspice.
    case rejected(file: String, message: String)
    /// ngspice ran but its output lacks a vector the check needs, or cannot be read.
    case badOutput(file: String, message: String)
    /// The request cannot be written as a netlist (e.g. digitized mode, a wiring-only op).
    case unsupported(String)

    public var description: String {
        switch self {
        case .ngspiceNotFound(let searched):
            return "ngspice not found (looked in \(searched)); install the Debian package `ngspice` or pass --ngspice PATH"
        case .rejected(let file, let message):
            return "ngspice rejected \(file): \(message)"
        case .badOutput(let file, let message):
            return "ngspice output of \(file): \(message)"
        case .unsupported(let message):
            return message
        }
    }
}

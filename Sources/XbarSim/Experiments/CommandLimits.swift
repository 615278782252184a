import XbarSimDevice
import XbarSimSupport

/// Bounds on the counts and sizes the commands take, checked before any work so that no
/// value from the command line overflows an `Int` product, traps in a conversion or asks the
/// allocator for more than `MemoryBudget`. Each error names the flag (`InputError`, one line).
public enum CommandLimits {
    /// `--chips`: Monte Carlo chips per evaluation or sweep point.
    public static let chips = 1...100_000
    /// `--batch`: images per batch (the largest activation of a batch of 65,536 is ~4.8 GB).
    public static let batch = 1...65_536
    /// `--limit`, `--images`: test images (more than the test set holds is clamped to it).
    public static let images = 1...1_000_000_000
    /// `spice --image`: a test-image index.
    public static let imageIndex = 0...1_000_000_000
    /// `spice --points`: points per module sweep.
    public static let modulePoints = 2...100_000
    /// `spice --batch`, `bench --tile-batch`: input vectors per tile pass.
    public static let tileBatch = 1...65_536
    /// `bench --tile-repeats`.
    public static let tileRepeats = 1...1_000_000
    /// `spice --tile`, `bench --tile-sizes`: rows and columns of one random tile.
    public static let tileSide = 2...65_536
    /// `spice --channels`, `--positions`.
    public static let selection = 1...1_000_000

    /// `value` in `range`, or an error naming `flag`.
    public static func check(_ value: Int, _ range: ClosedRange<Int>, flag: String) throws {
        guard range.contains(value) else {
            throw InputError(parameter: flag, message: "must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
    }

    /// `--threads`: in 1...`ThreadProbe.maximumThreads`, and that many threads can be started.
    public static func checkThreads(_ threads: Int) throws {
        try ThreadProbe.ensure(threads, parameter: "--threads")
    }

    /// A random tile of `rows x columns` driven by `batch` input vectors (`spice --tile`, `bench`):
    /// each side in `tileSide`, and its memory within the budget: a few copies of its
    /// conductances plus inputs and outputs (`4·R·C + (R + C)·batch` doubles), or with the exact
    /// IR-drop solver its `R` dense `C x C` blocks (`R·C·(C + batch)` doubles).
    public static func checkTile(rows: Int, columns: Int, batch: Int, exactSolver: Bool = false, flag: String) throws {
        try check(rows, tileSide, flag: flag)
        try check(columns, tileSide, flag: flag)
        let what = "a \(rows)x\(columns) tile with \(batch) input vector(s)"
        if exactSolver {
            let perRow = try CheckedSize.sum(columns, batch, parameter: flag)
            try MemoryBudget.check(elements: [rows, columns, perRow], elementBytes: 8, what: what + " and the exact solver",
                                   parameter: flag)
        } else {
            let cells = try CheckedSize.product([4, rows, columns], parameter: flag)
            let vectors = try CheckedSize.product([try CheckedSize.sum(rows, columns, parameter: flag), batch], parameter: flag)
            try MemoryBudget.check(elements: [try CheckedSize.sum(cells, vectors, parameter: flag)], elementBytes: 8,
                                   what: what, parameter: flag)
        }
    }

    /// Parses `RxC` (e.g. `128x128`) for a tile given on the command line.
    public static func parseTile(_ text: String, flag: String) throws -> (rows: Int, columns: Int) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw InputError(parameter: flag, message: "expected ROWSxCOLUMNS (e.g. 128x128), got '\(text)'")
        }
        let r = try CheckedSize.integer(String(parts[0]), in: tileSide, parameter: flag)
        let c = try CheckedSize.integer(String(parts[1]), in: tileSide, parameter: flag)
        return (r, c)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The most memory one allocation that a command-line value or a file field sizes may ask
/// for. Sizes are checked against it *before* allocating, so `spice --tile 100000x100000` or a
/// model file that declares an enormous tensor fails with a message instead of aborting in
/// the allocator.
///
/// Default: 8 GiB, or half of physical memory when that is less (a 2-core CI machine has
/// 24 GiB). `XBARSIM_MEMORY_BUDGET` (bytes, or with a `K`/`M`/`G` suffix) overrides it.
public enum MemoryBudget {
    public static let defaultBytes = 8 << 30

    /// The budget in force.
    public static var bytes: Int {
        if let text = getenvString("XBARSIM_MEMORY_BUDGET"), let b = parseBytes(text), b > 0 { return b }
        #if canImport(Glibc)
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0, pageSize > 0 {
            let (physical, overflow) = pages.multipliedReportingOverflow(by: pageSize)
            if !overflow { return min(defaultBytes, physical / 2) }
        }
        #endif
        return defaultBytes
    }

    /// Throws when `elements` elements of `elementBytes` bytes each would exceed the budget
    /// (or overflow `Int`); `what` says what would be allocated, `parameter` where its size came from.
    public static func check(elements: [Int], elementBytes: Int, what: String, parameter: String) throws {
        let budget = bytes
        let total: Int
        do {
            total = try CheckedSize.product(elements + [elementBytes], parameter: parameter)
        } catch {
            throw InputError(parameter: parameter, message: "\(what) would need more memory than an Int can count")
        }
        guard total <= budget else {
            throw InputError(
                parameter: parameter,
                message: "\(what) would need \(formatBytes(total)), over the memory budget of \(formatBytes(budget)) "
                    + "(XBARSIM_MEMORY_BUDGET raises it)")
        }
    }

    /// `2G`, `512M`, `512MB`, `4096` (bytes); nil when it does not parse or overflows.
    public static func parseBytes(_ text: String) -> Int? {
        let units: [(Character, Int)] = [("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)]
        var t = text.uppercased()
        if t.hasSuffix("B") { t.removeLast() }
        var factor = 1
        if let last = t.last, let unit = units.first(where: { $0.0 == last }) {
            factor = unit.1
            t.removeLast()
        }
        guard let n = Int(t), n > 0 else { return nil }
        let (b, overflow) = n.multipliedReportingOverflow(by: factor)
        return overflow ? nil : b
    }

    public static func formatBytes(_ n: Int) -> String {
        let g = Double(n) / Double(1 << 30)
        if g >= 1 { return "\((g * 10).rounded() / 10) GiB" }
        return "\((Double(n) / Double(1 << 20) * 10).rounded() / 10) MiB"
    }

    static func getenvString(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        return String(cString: p)
    }
}

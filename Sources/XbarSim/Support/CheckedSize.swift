import Foundation

/// Conversions of outside values to sizes and counts that never trap: each fails with an
/// `InputError` naming where the value came from.
public enum CheckedSize {
    /// `factors` multiplied, or an error when the product overflows `Int` or exceeds `limit`.
    /// Negative factors are rejected.
    public static func product(_ factors: [Int], parameter: String, limit: Int = .max, what: String = "size") throws -> Int {
        var total = 1
        for f in factors {
            guard f >= 0 else { throw InputError(parameter: parameter, message: "\(what) has a negative factor \(f)") }
            let (p, overflow) = total.multipliedReportingOverflow(by: f)
            guard !overflow, p <= limit else {
                let shown = factors.map(String.init).joined(separator: " x ")
                throw InputError(parameter: parameter, message: "\(what) \(shown) is too large (at most \(limit))")
            }
            total = p
        }
        return total
    }

    /// `a + b`, or an error on overflow.
    public static func sum(_ a: Int, _ b: Int, parameter: String) throws -> Int {
        let (s, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw InputError(parameter: parameter, message: "\(a) + \(b) overflows") }
        return s
    }

    /// The integer `value` rounds down to, when it is finite and in `range`; an error otherwise
    /// (never the trap of `Int(Double)` on NaN, infinity or magnitudes past `Int.max`).
    public static func integer(_ value: Double, in range: ClosedRange<Int>, parameter: String) throws -> Int {
        guard value.isFinite else { throw InputError(parameter: parameter, message: "must be finite, got \(value)") }
        let low = Double(range.lowerBound), high = Double(range.upperBound)
        let down = value.rounded(.down)
        guard down >= low, down <= high, let n = Int(exactly: down), range.contains(n) else {
            throw InputError(parameter: parameter, message: "must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        return n
    }

    /// An integer given as text, in `range`.
    public static func integer(_ text: String, in range: ClosedRange<Int>, parameter: String) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let n = Int(t) else {
            let looksNumeric = !t.isEmpty && t.allSatisfy { "+-0123456789".contains($0) }
            throw InputError(
                parameter: parameter,
                message: looksNumeric ? "\(t) is out of range \(range.lowerBound)...\(range.upperBound)"
                    : "expected a whole number, got '\(text)'")
        }
        guard range.contains(n) else {
            throw InputError(parameter: parameter, message: "must be in \(range.lowerBound)...\(range.upperBound), got \(n)")
        }
        return n
    }
}

import Foundation

/// Sample mean and (n − 1)-normalised standard deviation, in double precision.
///
/// Tolerances in the device tests use the standard errors of these estimators for n
/// independent draws: `SE(mean) = σ/√n` and, for normal data, `SE(std) ≈ σ/√(2n)`;
/// a proportion p has `SE = √(p(1 − p)/n)`. Checks allow 5 standard errors, so a correct
/// implementation fails with probability < 10⁻⁶ per check (and seeds are fixed anyway).
func meanAndStandardDeviation<C: Collection>(_ values: C) -> (mean: Double, std: Double) where C.Element == Double {
    let n = Double(values.count)
    let mean = values.reduce(0, +) / n
    var squares = 0.0
    for v in values { squares += (v - mean) * (v - mean) }
    return (mean, (squares / (n - 1)).squareRoot())
}

/// The standard normal CDF Φ(x), via `erfc` (the reference for tail fractions).
func standardNormalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

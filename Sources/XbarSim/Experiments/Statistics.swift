/// Summary statistics of Monte Carlo chips.
public struct AccuracySummary: Sendable, Equatable, Codable {
    public var mean: Double
    /// Sample standard deviation over chips (0 for one chip).
    public var standardDeviation: Double
    /// 95% confidence interval of the mean accuracy: Student's t over chips when there
    /// are several, the Wilson score interval over images for a single chip.
    public var ci95: [Double]

    /// - Parameters:
    ///   - accuracies: one accuracy (0...1) per chip.
    ///   - images: images per chip (for the single-chip interval).
    public init(accuracies: [Double], images: Int) {
        let k = accuracies.count
        precondition(k > 0)
        mean = accuracies.reduce(0, +) / Double(k)
        if k == 1 {
            standardDeviation = 0
            ci95 = Self.wilson(p: mean, n: images)
            return
        }
        let m = mean
        let variance = accuracies.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(k - 1)
        standardDeviation = variance.squareRoot()
        let half = Self.studentT975(degreesOfFreedom: k - 1) * standardDeviation / Double(k).squareRoot()
        ci95 = [max(0, mean - half), min(1, mean + half)]
    }

    /// Wilson score interval at 95% for a binomial proportion.
    public static func wilson(p: Double, n: Int) -> [Double] {
        guard n > 0 else { return [p, p] }
        let z = 1.959964, nn = Double(n)
        let denominator = 1 + z * z / nn
        let centre = (p + z * z / (2 * nn)) / denominator
        let half = z * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot() / denominator
        return [max(0, centre - half), min(1, centre + half)]
    }

    /// 0.975 quantile of Student's t (table to 30 degrees of freedom, then the
    /// Cornish-Fisher expansion `z + (z³+z)/(4ν)`, within 2e-4 of the exact value).
    public static func studentT975(degreesOfFreedom df: Int) -> Double {
        let table: [Double] = [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
            2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
        ]
        precondition(df >= 1)
        if df <= table.count { return table[df - 1] }
        let z = 1.959964, nu = Double(df)
        return z + (z * z * z + z) / (4 * nu)
    }
}

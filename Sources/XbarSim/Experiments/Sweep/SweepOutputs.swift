import Foundation

/// The files a sweep writes from its records: `results.csv`, `results.json`, `results.md`
/// and SVG plots (`accuracy-vs-NAME.svg` per varied parameter, `heatmap-A-B.svg` for a
/// two-parameter grid).
///
/// `results.csv` and `results.json` hold one row per point with the same columns: `index`,
/// `key`, every chip parameter (`ChipParameter.all`, flag syntax: `levels` 0 is continuous,
/// `adc-bits` 0 ideal, `drift-time` 0 none), then `accuracy`, `accuracyStd`, `accuracyCI95Low`,
/// `accuracyCI95High`, `floatAccuracy`, `degradation` (fractions 0-1), `energyPerImageJoules`
/// (empty / null without an energy model), `images`, `chips`, `seed`, `seconds`,
/// `imagesPerSecond`, `chipAccuracies` (`;`-separated in the CSV, an array in the JSON).
/// `pandas.read_csv` and `pandas.read_json` load either.
public enum SweepOutputs {
    public static let metricColumns = [
        "accuracy", "accuracyStd", "accuracyCI95Low", "accuracyCI95High", "floatAccuracy", "degradation",
        "energyPerImageJoules", "images", "chips", "seed", "seconds", "imagesPerSecond", "chipAccuracies",
    ]

    public static var columns: [String] { ["index", "key"] + ChipParameter.names + metricColumns }

    /// Writes every output file into `directory` (each atomically). Returns the paths written.
    @discardableResult
    public static func write(plan: SweepPlan, records: [SweepRecord], directory: String) throws -> [String] {
        var files: [(String, String)] = [
            ("results.csv", csv(records)), ("results.json", json(records)), ("results.md", markdown(plan: plan, records: records)),
        ]
        files += SweepPlot.plots(plan: plan, records: records)
        var paths: [String] = []
        for (name, text) in files {
            let path = directory + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            paths.append(path)
        }
        return paths
    }

    /// Cell values of one record, by column (numbers as text; nil for an empty cell).
    static func cells(_ r: SweepRecord) -> [String: String?] {
        var c: [String: String?] = ["index": "\(r.index)", "key": r.key]
        for name in ChipParameter.names { c[name] = r.parameters[name] }
        c["accuracy"] = number(r.accuracy)
        c["accuracyStd"] = number(r.accuracyStd)
        c["accuracyCI95Low"] = number(r.accuracyCI95.first ?? r.accuracy)
        c["accuracyCI95High"] = number(r.accuracyCI95.last ?? r.accuracy)
        c["floatAccuracy"] = number(r.floatAccuracy)
        c["degradation"] = number(r.degradation)
        c["energyPerImageJoules"] = .some(r.energyPerImageJoules.map(number))
        c["images"] = "\(r.images)"
        c["chips"] = "\(r.chips)"
        c["seed"] = "\(r.seed)"
        c["seconds"] = number(r.seconds)
        c["imagesPerSecond"] = number(r.imagesPerSecond)
        c["chipAccuracies"] = r.chipAccuracies.map(number).joined(separator: ";")
        return c
    }

    static func number(_ v: Double) -> String { String(format: "%.10g", v) }

    public static func csv(_ records: [SweepRecord]) -> String {
        func quote(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [columns.map(quote).joined(separator: ",")]
        for r in records {
            let c = cells(r)
            lines.append(columns.map { quote((c[$0] ?? nil) ?? "") }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A JSON array of row objects, keys in column order; numeric cells are JSON numbers.
    public static func json(_ records: [SweepRecord]) -> String {
        func string(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        }
        func value(_ column: String, _ cell: String?) -> String {
            guard let cell else { return "null" }
            if column == "chipAccuracies" { return "[" + cell.split(separator: ";").joined(separator: ", ") + "]" }
            if column == "key" { return string(cell) }
            if let d = Double(cell), d.isFinite, !cell.contains("x"), !cell.lowercased().hasPrefix("inf"), !cell.lowercased().hasPrefix("nan") {
                return cell
            }
            return string(cell)
        }
        let rows = records.map { r -> String in
            let c = cells(r)
            return "  {" + columns.map { string($0) + ": " + value($0, c[$0] ?? nil) }.joined(separator: ", ") + "}"
        }
        return "[\n" + rows.joined(separator: ",\n") + "\n]\n"
    }

    public static func markdown(plan: SweepPlan, records: [SweepRecord]) -> String {
        let names = plan.axes.map(\.parameter)
        let hasEnergy = records.contains { $0.energyPerImageJoules != nil }
        var out = "# Sweep: accuracy vs \(names.joined(separator: ", "))\n\n"
        let float = records.first.map { String(format: "%.2f %%", $0.floatAccuracy * 100) } ?? "-"
        out += "Base: preset `\(plan.basePreset ?? "-")`; design \(plan.design.rawValue); \(plan.chips) chip(s) per point, "
            + "seed \(plan.seed), first \(plan.images) test images, model `\(plan.model)`. Float accuracy on these images: \(float).\n\n"
        var header = names + ["accuracy (mean ± std over chips)", "95 % CI", "degradation (points)"]
        if hasEnergy { header.append("energy per image") }
        out += "| " + header.joined(separator: " | ") + " |\n"
        out += "|" + header.map { _ in "---" }.joined(separator: "|") + "|\n"
        for r in records {
            var row = names.map { r.varied[$0] ?? "" }
            row.append(String(format: "%.2f %% ± %.2f", r.accuracy * 100, r.accuracyStd * 100))
            row.append(String(format: "[%.2f, %.2f] %%", (r.accuracyCI95.first ?? 0) * 100, (r.accuracyCI95.last ?? 0) * 100))
            row.append(String(format: "%.2f", r.degradation * 100))
            if hasEnergy { row.append(r.energyPerImageJoules.map { String(format: "%.3g J", $0) } ?? "-") }
            out += "| " + row.joined(separator: " | ") + " |\n"
        }
        return out
    }
}

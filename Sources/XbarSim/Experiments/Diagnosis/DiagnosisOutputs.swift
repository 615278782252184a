import Foundation

/// Text, JSON and files of a diagnosis (`xbarsim diagnose`).
public enum DiagnosisOutputs {
    /// The report as pretty-printed JSON with sorted keys.
    public static func json(_ report: DiagnosisReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }

    /// Writes `diagnosis.json`, `diagnosis.md` (the tables) and the SVG figures into
    /// `directory` (created), each atomically. Returns the paths written.
    @discardableResult
    public static func write(_ report: DiagnosisReport, directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let files = [("diagnosis.json", try json(report)), ("diagnosis.md", table(report))] + DiagnosisPlot.plots(report)
        var paths: [String] = []
        for (name, text) in files {
            let path = directory + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            paths.append(path)
        }
        return paths
    }

    static func percent(_ v: Double?) -> String { v.map { String(format: "%.3g %%", $0 * 100) } ?? "exact" }
    static func decibels(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "inf" }
    static func points(_ v: Double) -> String { String(format: "%.2f", v * 100) }

    /// The three tables (markdown, readable as plain text): attribution, error per op, sensitivity.
    public static func table(_ r: DiagnosisReport) -> String {
        var s = "Diagnosis: \(r.model), \(r.images) images, \(r.chips) chip(s), seed \(r.seed), "
            + "\(r.preset.map { "preset \($0)" } ?? "custom chip"); float \(points(r.floatAccuracy)) %, "
            + "chip \(points(r.propagation.accuracy)) %\n\n"
        if !r.attribution.isEmpty {
            s += "Attribution (each non-ideality alone over the ideal chip):\n\n"
            s += "| non-ideality | accuracy % | lost (points) | logits rel. RMS error | logits SNR (dB) |\n|---|---|---|---|---|\n"
            for row in r.attribution {
                guard row.active else {
                    s += "| \(row.label) | off | | | |\n"
                    continue
                }
                s += "| \(row.label) | \(points(row.accuracy)) | \(points(r.floatAccuracy - row.accuracy)) | "
                    + "\(percent(row.logitsRelativeRMSError)) | \(decibels(row.logitsSNRDB)) |\n"
            }
            s += "\n"
        }
        let attributed = r.attribution.filter { $0.active && $0.label != "all" && $0.label != "ideal" }
        s += "Error propagation (relative RMS error of each op's output against float; all = every non-ideality"
            + (attributed.isEmpty ? ")" : "; then each alone)") + ":\n\n"
        s += "| # | op | type | all | SNR (dB) |" + attributed.map { " \($0.label) |" }.joined() + "\n"
        s += "|---|---|---|---|---|" + String(repeating: "---|", count: attributed.count) + "\n"
        for e in r.propagation.opErrors ?? [] {
            s += "| \(e.index) | \(e.name) | \(e.type) | \(percent(e.relativeRMSError)) | \(decibels(e.snrDB)) |"
            for row in attributed { s += " \(percent(row.opErrors?[e.index].relativeRMSError)) |" }
            s += "\n"
        }
        if !r.sensitivity.isEmpty {
            s += "\nSensitivity (every non-ideality in one \(r.sensitivityGrouping) only, the rest ideal):\n\n"
            s += "| \(r.sensitivityGrouping) | ops | accuracy % | lost (points) | logits rel. RMS error |\n|---|---|---|---|---|\n"
            for row in r.sensitivity {
                let ops = row.ops ?? []
                let range = ops.count == 1 ? "\(ops[0])" : "\(ops.first ?? 0)-\(ops.last ?? 0)"
                s += "| \(row.label) | \(range) | \(points(row.accuracy)) | \(points(r.floatAccuracy - row.accuracy)) | "
                    + "\(percent(row.logitsRelativeRMSError)) |\n"
            }
        }
        return s
    }
}

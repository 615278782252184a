import Foundation

/// SVG figures of a diagnosis, drawn like `SweepPlot`'s: the error of every op (one curve per
/// non-ideality), the attribution bars, and the layer sensitivity bars.
public enum DiagnosisPlot {
    /// File name and SVG text of every figure of `report`.
    public static func plots(_ report: DiagnosisReport) -> [(String, String)] {
        var out: [(String, String)] = []
        let curves = ([report.propagation] + report.attribution.filter { $0.active && $0.label != "all" && $0.label != "ideal" })
        out.append(("error-per-op.svg", errorPerOp(report, runs: curves)))
        if !report.attribution.isEmpty { out.append(("attribution.svg", attribution(report))) }
        if !report.sensitivity.isEmpty { out.append(("sensitivity.svg", sensitivity(report))) }
        return out
    }

    typealias P = SweepPlot

    static func header(width: Double, height: Double, title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(P.f(width / 2))" y="22" text-anchor="middle" font-size="14">\(P.esc(title))</text>

        """
    }

    static func subtitle(_ r: DiagnosisReport) -> String {
        "\(r.preset.map { "preset \($0)" } ?? "custom chip"), \(r.images) images, \(r.chips) chip(s), seed \(r.seed)"
    }

    /// Relative RMS error (log scale) of every op's output, one curve per configuration.
    static func errorPerOp(_ report: DiagnosisReport, runs: [DiagnosisRun]) -> String {
        let (width, height) = (900.0, 460.0)
        let (left, right, top, bottom) = (70.0, 150.0, 40.0, 60.0)
        let pw = width - left - right, ph = height - top - bottom
        let n = max(1, runs.first?.opErrors?.count ?? 1)
        let values = runs.flatMap { $0.opErrors ?? [] }.compactMap(\.relativeRMSError).filter { $0 > 0 }
        var lo = floor(log10(values.min() ?? 1e-4)), hi = ceil(log10(values.max() ?? 1))
        if hi <= lo { hi = lo + 1 }
        lo = max(lo, hi - 8)
        func px(_ i: Int) -> Double { left + (Double(i) + 0.5) / Double(n) * pw }
        func py(_ v: Double) -> Double { top + (1 - (min(max(log10(v), lo), hi) - lo) / (hi - lo)) * ph }
        var s = header(width: width, height: height, title: "Relative RMS error of every op's output against float (\(subtitle(report)))")
        for e in Int(lo)...Int(hi) {
            let y = py(pow(10, Double(e)))
            s += "<line x1=\"\(P.f(left))\" y1=\"\(P.f(y))\" x2=\"\(P.f(left + pw))\" y2=\"\(P.f(y))\" stroke=\"#e0e0e0\"/>\n"
            s += "<text x=\"\(P.f(left - 6))\" y=\"\(P.f(y + 4))\" text-anchor=\"end\">1e\(e)</text>\n"
        }
        let step = max(1, Int((Double(n) / 12).rounded(.up)))
        for i in stride(from: 0, to: n, by: step) {
            s += "<text x=\"\(P.f(px(i)))\" y=\"\(P.f(top + ph + 16))\" text-anchor=\"middle\">\(i)</text>\n"
        }
        s += "<rect x=\"\(P.f(left))\" y=\"\(P.f(top))\" width=\"\(P.f(pw))\" height=\"\(P.f(ph))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(P.f(left + pw / 2))\" y=\"\(P.f(height - 18))\" text-anchor=\"middle\">op index (execution order)</text>\n"
        s += "<text transform=\"translate(18 \(P.f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">relative RMS error (log scale)</text>\n"
        for (k, run) in runs.enumerated() {
            let color = k == 0 ? "#000000" : P.palette[(k - 1) % P.palette.count]
            let points = (run.opErrors ?? []).compactMap { e -> (OpError, Double)? in
                guard let v = e.relativeRMSError, v > 0 else { return nil }
                return (e, v)
            }
            guard !points.isEmpty else { continue }
            let line = points.map { "\(P.f(px($0.0.index))),\(P.f(py($0.1)))" }.joined(separator: " ")
            s += "<polyline points=\"\(line)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(k == 0 ? 2.2 : 1.3)\"/>\n"
            for (e, v) in points {
                s += "<circle cx=\"\(P.f(px(e.index)))\" cy=\"\(P.f(py(v)))\" r=\"\(k == 0 ? 2.2 : 1.5)\" fill=\"\(color)\"><title>\(P.esc(run.label)): op \(e.index) \(P.esc(e.name)) (\(P.esc(e.type))): \(String(format: "%.3g", v))\(e.snrDB.map { String(format: ", SNR %.1f dB", $0) } ?? "")</title></circle>\n"
            }
            let ly = top + 10 + Double(k) * 18
            s += "<rect x=\"\(P.f(left + pw + 12))\" y=\"\(P.f(ly - 8))\" width=\"14\" height=\"10\" fill=\"\(color)\"/>\n"
            s += "<text x=\"\(P.f(left + pw + 32))\" y=\"\(P.f(ly + 1))\">\(P.esc(run.label == "all" ? "all (chip)" : run.label))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Horizontal bars per attribution row: accuracy lost against float, and the logits' relative RMS error.
    static func attribution(_ report: DiagnosisReport) -> String {
        let rows = report.attribution
        let rowH = 24.0, top = 56.0, labelW = 110.0, panelW = 300.0, gap = 60.0
        let width = labelW + 2 * panelW + gap + 40, height = top + rowH * Double(rows.count) + 50
        var s = header(width: width, height: height, title: "One non-ideality at a time (\(subtitle(report)))")
        // Bars from 0 (a chip that beats float on these images has no bar); the text is signed.
        let drops = rows.map { (report.floatAccuracy - $0.accuracy) * 100 }
        let errors = rows.map { ($0.logitsRelativeRMSError ?? 0) * 100 }
        let panels: [(String, [Double], Double)] = [
            ("top-1 accuracy lost (percentage points)", drops, labelW),
            ("logits relative RMS error (%)", errors, labelW + panelW + gap),
        ]
        for (title, values, x0) in panels {
            let maxValue = max(values.max() ?? 1, 0.5)
            let ticks = P.ticks(0, maxValue, target: 4)
            let scaleMax = max(maxValue, ticks.last ?? maxValue)
            func bx(_ v: Double) -> Double { x0 + v / scaleMax * panelW }
            s += "<text x=\"\(P.f(x0 + panelW / 2))\" y=\"\(P.f(top - 12))\" text-anchor=\"middle\">\(P.esc(title))</text>\n"
            for t in ticks {
                s += "<line x1=\"\(P.f(bx(t)))\" y1=\"\(P.f(top))\" x2=\"\(P.f(bx(t)))\" y2=\"\(P.f(top + rowH * Double(rows.count)))\" stroke=\"#e0e0e0\"/>\n"
                s += "<text x=\"\(P.f(bx(t)))\" y=\"\(P.f(top + rowH * Double(rows.count) + 16))\" text-anchor=\"middle\">\(formatNumber(t))</text>\n"
            }
            for (k, row) in rows.enumerated() {
                let y = top + rowH * Double(k)
                let color = !row.active ? "#cccccc" : row.label == "all" ? "#333333" : row.label == "ideal" ? "#2ca02c" : "#1f77b4"
                s += "<rect x=\"\(P.f(x0))\" y=\"\(P.f(y + 4))\" width=\"\(P.f(max(0, bx(max(0, values[k])) - x0)))\" height=\"\(P.f(rowH - 8))\" fill=\"\(color)\"><title>\(P.esc(row.label)): \(String(format: "%.3g", values[k]))</title></rect>\n"
                let text = row.active ? String(format: "%.2f", values[k]) : "off"
                s += "<text x=\"\(P.f(bx(max(0, values[k])) + 4))\" y=\"\(P.f(y + rowH / 2 + 4))\" font-size=\"11\" fill=\"#333\">\(text)</text>\n"
            }
        }
        for (k, row) in rows.enumerated() {
            let y = top + rowH * Double(k)
            s += "<text x=\"\(P.f(labelW - 8))\" y=\"\(P.f(y + rowH / 2 + 4))\" text-anchor=\"end\">\(P.esc(row.label))</text>\n"
        }
        s += "<text x=\"\(P.f(labelW))\" y=\"\(P.f(height - 10))\" fill=\"#666\" font-size=\"11\">float \(String(format: "%.2f", report.floatAccuracy * 100)) %; grey: not in this chip (ideal numbers)</text>\n"
        return s + "</svg>\n"
    }

    /// Accuracy lost (top panel) and the logits' relative RMS error (bottom panel, log scale)
    /// with the non-idealities confined to one op (or block), the rest ideal.
    static func sensitivity(_ report: DiagnosisReport) -> String {
        let rows = report.sensitivity
        let labelled = rows.count <= 40
        let width = 900.0
        let (left, right, top, panelH, gap) = (70.0, 30.0, 40.0, 230.0, 40.0)
        let bottom = labelled ? 130.0 : 50.0
        let height = top + 2 * panelH + gap + bottom
        let pw = width - left - right
        let n = max(rows.count, 1)
        let slot = pw / Double(n)
        func cx(_ k: Int) -> Double { left + slot * (Double(k) + 0.5) }
        var s = header(width: width, height: height,
                       title: "Every non-ideality in one \(report.sensitivityGrouping) only, the rest ideal (\(subtitle(report)))")

        // Top: accuracy lost, percentage points.
        let drops = rows.map { (report.floatAccuracy - $0.accuracy) * 100 }
        let allDrop = (report.floatAccuracy - report.propagation.accuracy) * 100
        var yMin = min(0, drops.min() ?? 0), yMax = max(drops.max() ?? 1, allDrop, 0.5)
        let ticks = P.ticks(yMin, yMax, target: 5)
        yMin = min(yMin, ticks.first ?? yMin)
        yMax = max(yMax, ticks.last ?? yMax)
        func py(_ v: Double) -> Double { top + (1 - (v - yMin) / (yMax - yMin)) * panelH }
        for t in ticks {
            s += "<line x1=\"\(P.f(left))\" y1=\"\(P.f(py(t)))\" x2=\"\(P.f(left + pw))\" y2=\"\(P.f(py(t)))\" stroke=\"#e0e0e0\"/>\n"
            s += "<text x=\"\(P.f(left - 6))\" y=\"\(P.f(py(t) + 4))\" text-anchor=\"end\">\(formatNumber(t))</text>\n"
        }
        for (k, row) in rows.enumerated() {
            let (a, b) = (py(max(0, drops[k])), py(min(0, drops[k])))
            s += "<rect x=\"\(P.f(cx(k) - slot * 0.4))\" y=\"\(P.f(a))\" width=\"\(P.f(slot * 0.8))\" height=\"\(P.f(max(0.5, b - a)))\" fill=\"#1f77b4\"><title>\(P.esc(row.label)) (op \(row.ops?.first ?? k)): \(String(format: "%.2f", drops[k])) points, accuracy \(String(format: "%.2f", row.accuracy * 100)) %</title></rect>\n"
        }
        s += "<rect x=\"\(P.f(left))\" y=\"\(P.f(top))\" width=\"\(P.f(pw))\" height=\"\(P.f(panelH))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<line x1=\"\(P.f(left))\" y1=\"\(P.f(py(allDrop)))\" x2=\"\(P.f(left + pw))\" y2=\"\(P.f(py(allDrop)))\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n"
        s += "<text x=\"\(P.f(left + pw - 4))\" y=\"\(P.f(py(allDrop) - 5))\" text-anchor=\"end\" fill=\"#d62728\">whole chip: \(String(format: "%.2f", allDrop)) points</text>\n"
        s += "<text transform=\"translate(18 \(P.f(top + panelH / 2))) rotate(-90)\" text-anchor=\"middle\">accuracy lost (points)</text>\n"

        // Bottom: logits relative RMS error, log scale.
        let top2 = top + panelH + gap
        let errors = rows.map { $0.logitsRelativeRMSError ?? 0 }
        let allError = report.propagation.logitsRelativeRMSError ?? 0
        let positive = (errors + [allError]).filter { $0 > 0 }
        let hi = ceil(log10(positive.max() ?? 1))
        let lo = min(hi - 1, max(hi - 6, floor(log10(positive.min() ?? 1e-3))))
        func ey(_ v: Double) -> Double { top2 + (1 - (min(max(log10(max(v, 1e-30)), lo), hi) - lo) / (hi - lo)) * panelH }
        for e in Int(lo)...Int(hi) {
            let y = ey(pow(10, Double(e)))
            s += "<line x1=\"\(P.f(left))\" y1=\"\(P.f(y))\" x2=\"\(P.f(left + pw))\" y2=\"\(P.f(y))\" stroke=\"#e0e0e0\"/>\n"
            s += "<text x=\"\(P.f(left - 6))\" y=\"\(P.f(y + 4))\" text-anchor=\"end\">1e\(e)</text>\n"
        }
        for (k, row) in rows.enumerated() {
            let y = ey(errors[k])
            s += "<rect x=\"\(P.f(cx(k) - slot * 0.4))\" y=\"\(P.f(y))\" width=\"\(P.f(slot * 0.8))\" height=\"\(P.f(max(0, top2 + panelH - y)))\" fill=\"#ff7f0e\"><title>\(P.esc(row.label)) (op \(row.ops?.first ?? k)): logits relative RMS error \(String(format: "%.3g", errors[k]))</title></rect>\n"
        }
        s += "<rect x=\"\(P.f(left))\" y=\"\(P.f(top2))\" width=\"\(P.f(pw))\" height=\"\(P.f(panelH))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<line x1=\"\(P.f(left))\" y1=\"\(P.f(ey(allError)))\" x2=\"\(P.f(left + pw))\" y2=\"\(P.f(ey(allError)))\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n"
        s += "<text x=\"\(P.f(left + pw - 4))\" y=\"\(P.f(ey(allError) + 14))\" text-anchor=\"end\" fill=\"#d62728\">whole chip: \(String(format: "%.3g", allError))</text>\n"
        s += "<text transform=\"translate(18 \(P.f(top2 + panelH / 2))) rotate(-90)\" text-anchor=\"middle\">logits rel. RMS error</text>\n"

        let axisY = top2 + panelH
        if labelled {
            for (k, row) in rows.enumerated() {
                s += "<text transform=\"translate(\(P.f(cx(k) + 4)) \(P.f(axisY + 8))) rotate(-60)\" text-anchor=\"end\" font-size=\"10\">\(P.esc(row.label))</text>\n"
            }
        } else {
            let step = max(1, Int((Double(n) / 12).rounded(.up)))
            for k in stride(from: 0, to: rows.count, by: step) {
                s += "<text x=\"\(P.f(cx(k)))\" y=\"\(P.f(axisY + 16))\" text-anchor=\"middle\">\(rows[k].ops?.first ?? k)</text>\n"
            }
            s += "<text x=\"\(P.f(left + pw / 2))\" y=\"\(P.f(height - 14))\" text-anchor=\"middle\">op index (ops without devices or circuits skipped; hover for names)</text>\n"
        }
        return s + "</svg>\n"
    }
}

import Foundation

/// SVG plots of a sweep, written by hand (no plotting library): accuracy against each varied
/// parameter with the 95 % CI as a band and the float accuracy as a dashed line, and a heat map
/// of mean accuracy for a two-parameter grid.
public enum SweepPlot {
    /// One curve: points `(x label, x position, mean, ci low, ci high)`, accuracies 0...1.
    public struct Series: Sendable {
        public var label: String
        public var points: [(label: String, x: Double, mean: Double, low: Double, high: Double)]
    }

    /// File name and SVG text of every plot for `records`.
    public static func plots(plan: SweepPlan, records: [SweepRecord]) -> [(String, String)] {
        guard !records.isEmpty else { return [] }
        let float = records[0].floatAccuracy
        var out: [(String, String)] = []
        for axis in plan.axes {
            guard let parameter = ChipParameter.named(axis.parameter) else { continue }
            let others = plan.axes.filter { $0.parameter != axis.parameter }
            var groups: [(String, [SweepRecord])] = []
            switch plan.design {
            case .oneAtATime:
                // The curve of this axis: points whose other varied parameters are at the base.
                let rows = records.filter { r in
                    others.allSatisfy { o in r.varied[o.parameter] == ChipParameter.named(o.parameter)?.read(plan.base) }
                }
                groups = [(axis.parameter, rows)]
            case .grid:
                var order: [String] = []
                var byLabel: [String: [SweepRecord]] = [:]
                for r in records {
                    let label = others.isEmpty ? axis.parameter
                        : others.map { "\($0.parameter)=\(r.varied[$0.parameter] ?? "")" }.joined(separator: ", ")
                    if byLabel[label] == nil { order.append(label) }
                    byLabel[label, default: []].append(r)
                }
                groups = order.map { ($0, byLabel[$0] ?? []) }
            }
            guard groups.count <= 10 else { continue }  // too many curves to read; the table has them
            let canonical = axis.values.compactMap { v -> String? in
                var c = plan.base
                guard (try? parameter.apply(v, &c)) != nil else { return nil }
                return parameter.read(c)
            }
            let numeric = parameter.isNumeric && canonical.allSatisfy { Double($0) != nil }
            let xs = canonical.map { Double($0) ?? 0 }
            let logX = numeric && xs.allSatisfy { $0 > 0 } && (xs.max() ?? 1) / (xs.min() ?? 1) >= 50
            let series = groups.map { label, rows -> Series in
                let pts = rows.compactMap { r -> (String, Double, Double, Double, Double)? in
                    guard let v = r.varied[axis.parameter], let i = canonical.firstIndex(of: v) else { return nil }
                    let x = numeric ? xs[i] : Double(i)
                    return (v, x, r.accuracy, r.accuracyCI95.first ?? r.accuracy, r.accuracyCI95.last ?? r.accuracy)
                }.sorted { $0.1 < $1.1 }
                return Series(label: label, points: pts.map { (label: $0.0, x: $0.1, mean: $0.2, low: $0.3, high: $0.4) })
            }
            let title = "Accuracy vs \(axis.parameter) (\(plan.chips) chip(s), \(plan.images) images, base \(plan.basePreset ?? "-"))"
            out.append(("accuracy-vs-\(axis.parameter).svg",
                        lineChart(title: title, xLabel: axis.parameter, series: series, floatAccuracy: float,
                                  categories: numeric ? nil : canonical, logX: logX)))
        }
        if plan.design == .grid, plan.axes.count == 2 {
            let (a, b) = (plan.axes[0], plan.axes[1])
            let canon = { (axis: SweepAxis) -> [String] in
                axis.values.map { v in
                    var c = plan.base
                    guard let p = ChipParameter.named(axis.parameter), (try? p.apply(v, &c)) != nil else { return v }
                    return p.read(c)
                }
            }
            let (av, bv) = (canon(a), canon(b))
            var grid = [[Double?]](repeating: [Double?](repeating: nil, count: av.count), count: bv.count)
            for r in records {
                if let i = av.firstIndex(of: r.varied[a.parameter] ?? ""), let j = bv.firstIndex(of: r.varied[b.parameter] ?? "") {
                    grid[j][i] = r.accuracy
                }
            }
            out.append(("heatmap-\(a.parameter)-\(b.parameter).svg",
                        heatmap(title: "Mean accuracy (%), float \(String(format: "%.2f", float * 100)) %",
                                xLabel: a.parameter, yLabel: b.parameter, xValues: av, yValues: bv, grid: grid)))
        }
        return out
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// "Nice" ticks (steps of 1, 2 or 5 times a power of ten) covering `low...high`.
    public static func ticks(_ low: Double, _ high: Double, target: Int = 6) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / Double(target)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var t = (low / step).rounded(.down) * step
        var out: [Double] = []
        while t <= high + step * 1e-9 {
            if t >= low - step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t) }
            t += step
        }
        return out
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func f(_ v: Double) -> String { String(format: "%.2f", v) }

    /// Accuracy (%, y) against a parameter (x, or categories), a CI band per series and a dashed float line.
    public static func lineChart(
        title: String, xLabel: String, series: [Series], floatAccuracy: Double, categories: [String]?, logX: Bool
    ) -> String {
        let (width, height) = (720.0, 440.0)
        let (left, right, top, bottom) = (70.0, series.count > 1 ? 210.0 : 30.0, 40.0, 60.0)
        let pw = width - left - right, ph = height - top - bottom
        let all = series.flatMap(\.points)
        let xsRaw = all.map(\.x)
        let tx: (Double) -> Double = logX ? { log10($0) } : { $0 }
        var xMin = xsRaw.map(tx).min() ?? 0, xMax = xsRaw.map(tx).max() ?? 1
        if let categories { xMin = -0.5; xMax = Double(categories.count) - 0.5 }
        if xMax <= xMin { xMin -= 1; xMax += 1 }
        if categories == nil { let pad = (xMax - xMin) * 0.03; xMin -= pad; xMax += pad }
        let ys = all.flatMap { [$0.low, $0.high, $0.mean] }.map { $0 * 100 } + [floatAccuracy * 100]
        var yMin = max(0, (ys.min() ?? 0) - 2), yMax = min(100, (ys.max() ?? 100) + 2)
        if yMax - yMin < 1 { yMin = max(0, yMin - 1); yMax = min(100, yMax + 1) }
        let yTicks = ticks(yMin, yMax)
        yMin = min(yMin, yTicks.first ?? yMin)
        yMax = max(yMax, yTicks.last ?? yMax)
        func px(_ x: Double) -> Double { left + (tx(x) - xMin) / (xMax - xMin) * pw }
        func pxc(_ i: Double) -> Double { left + (i - xMin) / (xMax - xMin) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y * 100 - yMin) / (yMax - yMin)) * ph }
        func x(_ v: Double) -> Double { categories == nil ? px(v) : pxc(v) }

        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="14">\(esc(title))</text>

            """
        for t in yTicks {
            let y = top + (1 - (t - yMin) / (yMax - yMin)) * ph
            s += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + pw))\" y2=\"\(f(y))\" stroke=\"#e0e0e0\"/>\n"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(formatNumber(t))</text>\n"
        }
        var xTickValues: [(Double, String)] = []
        if let categories {
            xTickValues = categories.enumerated().map { (Double($0.offset), $0.element) }
        } else if logX {
            let lo = Int(floor(xMin)), hi = Int(ceil(xMax))
            for e in lo...hi where Double(e) >= xMin && Double(e) <= xMax {
                let v = pow(10, Double(e))
                xTickValues.append((v, e >= 4 || e <= -3 ? "1e\(e)" : formatNumber(v)))
            }
            if xTickValues.count < 2 {
                xTickValues = Array(Set(xsRaw)).sorted().map { ($0, formatNumber($0)) }
            }
        } else {
            let distinct = Array(Set(xsRaw)).sorted()
            xTickValues = distinct.count <= 12 ? distinct.map { ($0, formatNumber($0)) }
                : ticks(xMin, xMax).map { ($0, formatNumber($0)) }
        }
        for (v, label) in xTickValues {
            let xx = x(v)
            s += "<line x1=\"\(f(xx))\" y1=\"\(f(top))\" x2=\"\(f(xx))\" y2=\"\(f(top + ph))\" stroke=\"#f0f0f0\"/>\n"
            s += "<text x=\"\(f(xx))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">\(esc(label))</text>\n"
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 18))\" text-anchor=\"middle\">\(esc(xLabel))\(logX ? " (log scale)" : "")</text>\n"
        s += "<text transform=\"translate(18 \(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">top-1 accuracy (%)</text>\n"
        let fy = py(floatAccuracy)
        s += "<line x1=\"\(f(left))\" y1=\"\(f(fy))\" x2=\"\(f(left + pw))\" y2=\"\(f(fy))\" stroke=\"#444\" stroke-dasharray=\"6 4\"/>\n"
        s += "<text x=\"\(f(left + pw - 4))\" y=\"\(f(fy - 5))\" text-anchor=\"end\" fill=\"#444\">float \(String(format: "%.2f", floatAccuracy * 100)) %</text>\n"
        for (k, serie) in series.enumerated() {
            let color = palette[k % palette.count]
            let p = serie.points
            guard !p.isEmpty else { continue }
            let band = p.map { "\(f(x($0.x))),\(f(py($0.high)))" } + p.reversed().map { "\(f(x($0.x))),\(f(py($0.low)))" }
            s += "<polygon points=\"\(band.joined(separator: " "))\" fill=\"\(color)\" fill-opacity=\"0.18\" stroke=\"none\"/>\n"
            s += "<polyline points=\"\(p.map { "\(f(x($0.x))),\(f(py($0.mean)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            for q in p {
                s += "<circle cx=\"\(f(x(q.x)))\" cy=\"\(f(py(q.mean)))\" r=\"3.5\" fill=\"\(color)\"><title>\(esc(q.label)): \(String(format: "%.2f", q.mean * 100)) % [\(String(format: "%.2f", q.low * 100)), \(String(format: "%.2f", q.high * 100))]</title></circle>\n"
            }
            if series.count > 1 {
                let ly = top + 10 + Double(k) * 18
                s += "<rect x=\"\(f(left + pw + 12))\" y=\"\(f(ly - 8))\" width=\"14\" height=\"10\" fill=\"\(color)\"/>\n"
                s += "<text x=\"\(f(left + pw + 32))\" y=\"\(f(ly + 1))\">\(esc(serie.label))</text>\n"
            }
        }
        s += "<text x=\"\(f(left + 6))\" y=\"\(f(top + ph - 8))\" fill=\"#666\" font-size=\"11\">band: 95 % CI of the mean over chips</text>\n"
        return s + "</svg>\n"
    }

    /// Viridis-like colour for `t` in 0...1.
    static func color(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let u = min(1, max(0, t)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(u))
        let w = u - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        let r = Int(a.0 + (b.0 - a.0) * w), g = Int(a.1 + (b.1 - a.1) * w), bl = Int(a.2 + (b.2 - a.2) * w)
        return String(format: "#%02x%02x%02x", r, g, bl)
    }

    /// A grid of cells coloured by accuracy (`grid[y][x]`, 0...1 or nil for a missing point).
    public static func heatmap(
        title: String, xLabel: String, yLabel: String, xValues: [String], yValues: [String], grid: [[Double?]]
    ) -> String {
        let cell = 56.0, left = 90.0, top = 44.0, bottom = 56.0, right = 90.0
        let width = left + cell * Double(xValues.count) + right, height = top + cell * Double(yValues.count) + bottom
        let values = grid.flatMap { $0 }.compactMap { $0 }
        let lo = values.min() ?? 0, hi = values.max() ?? 1
        let span = hi > lo ? hi - lo : 1
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="14">\(esc(title))</text>

            """
        for (j, yv) in yValues.enumerated() {
            // Row 0 at the bottom, as on a y axis.
            let y = top + cell * Double(yValues.count - 1 - j)
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y + cell / 2 + 4))\" text-anchor=\"end\">\(esc(yv))</text>\n"
            for (i, _) in xValues.enumerated() {
                let x = left + cell * Double(i)
                if let v = grid[j][i] {
                    let t = (v - lo) / span
                    s += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cell))\" height=\"\(f(cell))\" fill=\"\(color(t))\" stroke=\"white\"/>\n"
                    s += "<text x=\"\(f(x + cell / 2))\" y=\"\(f(y + cell / 2 + 4))\" text-anchor=\"middle\" fill=\"\(t > 0.6 ? "black" : "white")\">\(String(format: "%.1f", v * 100))</text>\n"
                } else {
                    s += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cell))\" height=\"\(f(cell))\" fill=\"#eee\" stroke=\"white\"/>\n"
                }
            }
        }
        for (i, xv) in xValues.enumerated() {
            s += "<text x=\"\(f(left + cell * (Double(i) + 0.5)))\" y=\"\(f(top + cell * Double(yValues.count) + 16))\" text-anchor=\"middle\">\(esc(xv))</text>\n"
        }
        s += "<text x=\"\(f(left + cell * Double(xValues.count) / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        s += "<text transform=\"translate(18 \(f(top + cell * Double(yValues.count) / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        let barX = left + cell * Double(xValues.count) + 24, barH = cell * Double(yValues.count)
        for k in 0..<20 {
            let t = Double(k) / 19
            s += "<rect x=\"\(f(barX))\" y=\"\(f(top + barH * (1 - Double(k + 1) / 20)))\" width=\"14\" height=\"\(f(barH / 20 + 0.5))\" fill=\"\(color(t))\"/>\n"
        }
        s += "<text x=\"\(f(barX + 18))\" y=\"\(f(top + 10))\">\(String(format: "%.1f", hi * 100))</text>\n"
        s += "<text x=\"\(f(barX + 18))\" y=\"\(f(top + barH))\">\(String(format: "%.1f", lo * 100))</text>\n"
        return s + "</svg>\n"
    }
}

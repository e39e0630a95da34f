import Foundation

/// A self-contained HTML page for a load test: summary tables, the latency-versus-throughput
/// curve of a sweep and the latency distribution, drawn as inline SVG (no scripts, no fetches).
public struct LoadReport: Sendable {
    /// The page title.
    public var title: String
    /// What was run (the command line).
    public var command: String
    /// Sweep levels, in order (empty for a single run).
    public var levels: [SweepLevel]
    /// The summaries whose latency distributions to draw (a single run, or a sweep's levels).
    public var runs: [LoadSummary]

    /// Creates a report.
    public init(title: String, command: String, levels: [SweepLevel] = [], runs: [LoadSummary]) {
        self.title = title
        self.command = command
        self.levels = levels
        self.runs = runs
    }

    /// Renders the page.
    public func html() -> String {
        var body = "<h1>\(esc(title))</h1>\n<p><code>\(esc(command))</code></p>\n"
        if !levels.isEmpty {
            let p50 = levels.map { ($0.summary.throughputRps, $0.summary.p50Ms) }
            let p99 = levels.map { ($0.summary.throughputRps, $0.summary.p99Ms) }
            let objective = levels[0].summary.objectiveMs
            let xMax = niceCeiling((levels.map(\.summary.throughputRps).max() ?? 1) * 1.05)
            let yMax = niceCeiling(max(p99.map(\.1).max() ?? 1, objective) * 1.1)
            body += "<h2>Latency against throughput</h2>\n"
            body += SVGChart(
                title: "latency vs throughput (sweep)", xLabel: "throughput (requests/s)", yLabel: "latency (ms)",
                xTicks: ticks(0, xMax), yTicks: ticks(0, yMax), xRange: 0...xMax, yRange: 0...yMax,
                series: [
                    .init(label: "p50", color: "#1f77b4", points: p50, markers: true),
                    .init(label: "p99", color: "#d62728", points: p99, markers: true),
                    .init(
                        label: "p99 objective", color: "#777", points: [(0, objective), (xMax, objective)], dashed: true
                    ),
                ]
            ).svg()
            body += table(levels.map(\.summary), stable: levels.map(\.stable))
        } else {
            body += table(runs, stable: nil)
        }
        let drawn = runs.filter { !$0.distribution.isEmpty }
        if !drawn.isEmpty {
            // x is the percentile on the usual "number of nines" axis: log10(1 / (1 − p)).
            func nines(_ p: Double) -> Double { log10(1 / max(1 - p / 100, 1e-6)) }
            let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
            let series = drawn.enumerated().map { i, run in
                SVGChart.Series(
                    label: run.label, color: palette[i % palette.count],
                    points: run.distribution.map { (min(nines($0.percentile), 4), $0.ms) })
            }
            let yMax = niceCeiling((drawn.map(\.maxMs).max() ?? 1) * 1.05)
            body += "<h2>Latency distribution</h2>\n"
            body += SVGChart(
                title: "latency by percentile", xLabel: "percentile", yLabel: "latency (ms)",
                xTicks: [(0, "0%"), (1, "90%"), (2, "99%"), (3, "99.9%"), (4, "99.99%")], yTicks: ticks(0, yMax),
                xRange: 0...4, yRange: 0...yMax, series: series
            ).svg()
        }
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>\(esc(title))</title>
            <style>body{font-family:sans-serif;max-width:1300px;margin:2em auto;color:#222}
            table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
            th{background:#f3f3f3}code{background:#f6f6f6;padding:2px 4px}</style></head>
            <body>
            \(body)
            </body></html>

            """
    }

    private func table(_ rows: [LoadSummary], stable: [Bool]?) -> String {
        var html = "<table><tr><th>offered</th><th>batch</th><th>sent</th><th>ok</th><th>errors</th><th>lost</th>"
        html += "<th>req/s</th><th>rows/s</th><th>goodput/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th>"
        html +=
            "<th>p99.9 ms</th><th>max ms</th><th>client↔broker</th><th>broker q</th><th>worker q</th><th>compute</th>"
        if stable != nil { html += "<th>stable</th>" }
        html += "</tr>\n"
        for (i, r) in rows.enumerated() {
            let errs =
                r.errors.isEmpty
                ? "0" : r.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let cells = [
                esc(r.label), "\(r.batch)", "\(r.sent)", "\(r.completed)", esc(errs), "\(r.lost)",
                f(r.throughputRps, 1), f(r.rowsPerS, 0), f(r.goodputRps, 1), f(r.p50Ms, 3), f(r.p90Ms, 3),
                f(r.p99Ms, 3), f(r.p999Ms, 3), f(r.maxMs, 3), f(r.breakdown.clientBrokerMs, 3),
                f(r.breakdown.brokerQueueMs, 3), f(r.breakdown.workerQueueMs, 3), f(r.breakdown.computeMs, 3),
            ]
            html += "<tr>" + cells.map { "<td>\($0)</td>" }.joined()
            if let stable { html += "<td>\(stable[i] ? "yes" : "no")</td>" }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }

    private func f(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    private func ticks(_ low: Double, _ high: Double) -> [(Double, String)] {
        (0...4).map { i in
            let v = low + (high - low) * Double(i) / 4
            return (v, v >= 1000 ? String(format: "%.0fk", v / 1000) : String(format: v < 10 ? "%.2g" : "%.0f", v))
        }
    }
}

/// Rounds up to 1, 2 or 5 times a power of ten.
public func niceCeiling(_ v: Double) -> Double {
    guard v > 0 else { return 1 }
    let p = pow(10, floor(log10(v)))
    for m in [1.0, 2, 2.5, 5, 10] where m * p >= v { return m * p }
    return 10 * p
}

func esc(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

/// A minimal inline-SVG line chart with linear axes (shared by the load-test and simulation reports).
public struct SVGChart {
    /// One line of the chart.
    public struct Series {
        var label: String
        var color: String
        var points: [(Double, Double)]
        var dashed = false
        var markers = false

        /// Creates a line: points in data units, a CSS colour and a legend label.
        public init(label: String, color: String, points: [(Double, Double)], dashed: Bool = false, markers: Bool = false) {
            self.label = label
            self.color = color
            self.points = points
            self.dashed = dashed
            self.markers = markers
        }
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var xTicks: [(Double, String)]
    var yTicks: [(Double, String)]
    var xRange: ClosedRange<Double>
    var yRange: ClosedRange<Double>
    var series: [Series]
    var width = 640.0
    var height = 380.0

    /// Creates a chart; ticks are (value, label) pairs in data units.
    public init(
        title: String, xLabel: String, yLabel: String, xTicks: [(Double, String)], yTicks: [(Double, String)],
        xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, series: [Series], width: Double = 640,
        height: Double = 380
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xTicks = xTicks
        self.yTicks = yTicks
        self.xRange = xRange
        self.yRange = yRange
        self.series = series
        self.width = width
        self.height = height
    }

    /// The `<svg>` element.
    public func svg() -> String {
        let (left, right, top, bottom) = (64.0, 150.0, 30.0, 48.0)
        let w = width - left - right
        let h = height - top - bottom
        func x(_ v: Double) -> Double { left + (v - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * w }
        func y(_ v: Double) -> Double {
            top + (1 - (min(v, yRange.upperBound) - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)) * h
        }
        func n(_ v: Double) -> String { String(format: "%.1f", v) }
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(esc(title))\">\n"
        s +=
            "<text x=\"\(n(left + w / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>\n"
        s +=
            "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"#fafafa\" stroke=\"#999\"/>\n"
        for (v, label) in xTicks {
            s += "<line x1=\"\(n(x(v)))\" y1=\"\(n(top))\" x2=\"\(n(x(v)))\" y2=\"\(n(top + h))\" stroke=\"#e3e3e3\"/>"
            s +=
                "<text x=\"\(n(x(v)))\" y=\"\(n(top + h + 14))\" text-anchor=\"middle\" font-size=\"10\">\(esc(label))</text>\n"
        }
        for (v, label) in yTicks {
            s +=
                "<line x1=\"\(n(left))\" y1=\"\(n(y(v)))\" x2=\"\(n(left + w))\" y2=\"\(n(y(v)))\" stroke=\"#e3e3e3\"/>"
            s +=
                "<text x=\"\(n(left - 6))\" y=\"\(n(y(v) + 3))\" text-anchor=\"end\" font-size=\"10\">\(esc(label))</text>\n"
        }
        s +=
            "<text x=\"\(n(left + w / 2))\" y=\"\(n(height - 10))\" text-anchor=\"middle\" font-size=\"12\">\(esc(xLabel))</text>\n"
        s +=
            "<text x=\"14\" y=\"\(n(top + h / 2))\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 \(n(top + h / 2)))\">\(esc(yLabel))</text>\n"
        for (i, line) in series.enumerated() where !line.points.isEmpty {
            let path = line.points.map { "\(n(x($0.0))),\(n(y($0.1)))" }.joined(separator: " ")
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            s += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>\n"
            if line.markers {
                for p in line.points {
                    s += "<circle cx=\"\(n(x(p.0)))\" cy=\"\(n(y(p.1)))\" r=\"3.5\" fill=\"\(line.color)\"/>"
                }
                s += "\n"
            }
            let ly = top + 14 + Double(i) * 18
            s +=
                "<line x1=\"\(n(left + w + 12))\" y1=\"\(n(ly))\" x2=\"\(n(left + w + 32))\" y2=\"\(n(ly))\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>"
            s += "<text x=\"\(n(left + w + 36))\" y=\"\(n(ly + 4))\" font-size=\"11\">\(esc(line.label))</text>\n"
        }
        return s + "</svg>\n"
    }
}

import Foundation
import RecData

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
        var body = "<h1>\(HTML.escape(title))</h1>\n<p><code>\(HTML.escape(command))</code></p>\n"
        if !levels.isEmpty {
            // A level with no OK reply has no latency: it is left off the curve (the table says "undefined"),
            // never drawn at 0 ms.
            let measured = levels.filter(\.summary.hasLatencies)
            let unmeasured = levels.count - measured.count
            let p50 = measured.map { ($0.summary.throughputRps, $0.summary.p50Ms) }
            let p99 = measured.map { ($0.summary.throughputRps, $0.summary.p99Ms) }
            let objective = levels[0].summary.objectiveMs
            let xMax = SVGChart.niceCeiling((levels.map(\.summary.throughputRps).max() ?? 1) * 1.05)
            let yMax = SVGChart.niceCeiling(max(p99.map(\.1).max() ?? 1, objective) * 1.1)
            body += "<h2>Latency against throughput</h2>\n"
            // A chart of axes and a legend with no point, and no word why, read as a drawing that failed.
            if measured.isEmpty {
                body += "<p>No level had an OK reply, so there is no latency to draw (the table below gives each "
                    + "level's outcomes).</p>\n"
            } else if unmeasured > 0 {
                body += "<p>\(unmeasured) of \(levels.count) levels had no OK reply and are left off the curve (the table "
                    + "below says undefined).</p>\n"
            }
            if !measured.isEmpty {
                body += SVGChart(
                    title: "latency vs throughput (sweep)", xLabel: "throughput (requests/s)", yLabel: "latency (ms)",
                    xTicks: ticks(xMax), yTicks: ticks(yMax), xRange: 0...xMax, yRange: 0...yMax,
                    series: [
                        .init(label: "p50", color: "#1f77b4", points: p50, markers: true),
                        .init(label: "p99", color: "#d62728", points: p99, markers: true),
                        .init(
                            label: "p99 objective", color: "#777", points: [(0, objective), (xMax, objective)], dashed: true
                        ),
                    ]
                ).svg()
            }
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
            let yMax = SVGChart.niceCeiling((drawn.map(\.maxMs).max() ?? 1) * 1.05)
            body += "<h2>Latency distribution</h2>\n"
            body += SVGChart(
                title: "latency by percentile", xLabel: "percentile", yLabel: "latency (ms)",
                xTicks: [(0, "0%"), (1, "90%"), (2, "99%"), (3, "99.9%"), (4, "99.99%")], yTicks: ticks(yMax),
                xRange: 0...4, yRange: 0...yMax, series: series
            ).svg()
        }
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>\(HTML.escape(title))</title>
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
            // Latencies are of OK replies: with none they are undefined, never 0.
            let latencies =
                r.completed == 0
                ? [String](repeating: "undefined (no OK reply)", count: 9)
                : [
                    f(r.p50Ms, 3), f(r.p90Ms, 3), f(r.p99Ms, 3), f(r.p999Ms, 3), f(r.maxMs, 3),
                    f(r.breakdown.clientBrokerMs, 3), f(r.breakdown.brokerQueueMs, 3), f(r.breakdown.workerQueueMs, 3),
                    f(r.breakdown.computeMs, 3),
                ]
            let cells =
                [
                    HTML.escape(r.label), "\(r.batch)", "\(r.sent)", "\(r.completed)", HTML.escape(errs), "\(r.lost)",
                    f(r.throughputRps, 1), f(r.rowsPerS, 0), f(r.goodputRps, 1),
                ] + latencies
            html += "<tr>" + cells.map { "<td>\($0)</td>" }.joined()
            if let stable { html += "<td>\(stable[i] ? "yes" : "no")</td>" }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }

    private func f(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    private func ticks(_ high: Double) -> [(Double, String)] {
        SVGChart.quarterTicks(high) { v in
            // 2,500 and 7,500 read "2k" and "8k" with %.0fk (half to even): 2.5k and 7.5k.
            v >= 1000 ? SVGChart.tickLabel(v / 1000, maxDigits: 2) + "k" : SVGChart.tickLabel(v, maxDigits: v < 10 ? 2 : 0)
        }
    }
}

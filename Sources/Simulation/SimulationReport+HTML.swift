import Foundation
import RecData

extension SimulationReport {
    /// A self-contained HTML page: the CTR-over-time chart (inline SVG, no scripts, no fetches) with the three
    /// baselines, the totals, and the windows as a table.
    /// - Parameter command: what was run, shown under the title.
    public func html(title: String = "RecPool online learning simulation", command: String) -> String {
        let escape = HTML.escape
        let yMax = SVGChart.niceCeiling(
            max(windows.map { max($0.ctr, $0.randomCtr, $0.fixedCtr, $0.oracleCtr) }.max() ?? 0.1, 0.01) * 1.1)
        let xMax = Double(max(users, 1))
        func points(_ value: (SimulationWindow) -> Double) -> [(Double, Double)] {
            windows.map { (Double($0.users), value($0)) }
        }
        // The pool's curve skips windows where no user was served (its CTR is undefined there).
        let poolPoints = windows.filter { $0.served > 0 }.map { (Double($0.users), $0.ctr) }
        let chart = SVGChart(
            title: "clicks per user over time (windows of users)", xLabel: "users simulated",
            yLabel: "click-through rate", xTicks: ticks(xMax, digits: 0), yTicks: ticks(yMax, digits: 3),
            xRange: 0...xMax, yRange: 0...yMax,
            series: [
                .init(label: "pool (learning)", color: "#1f77b4", points: poolPoints, markers: true),
                .init(label: "fixed v\(fixedVersion)", color: "#ff7f0e", points: points(\.fixedCtr)),
                .init(label: "random", color: "#7f7f7f", points: points(\.randomCtr), dashed: true),
                .init(label: "oracle", color: "#2ca02c", points: points(\.oracleCtr), dashed: true),
            ]
        ).svg()
        func f(_ v: Double) -> String { String(format: "%.4f", v) }
        var table = "<table><tr><th>users</th><th>served</th><th>pool</th><th>random</th><th>fixed</th>"
        table += "<th>oracle</th><th>version</th></tr>\n"
        for w in windows {
            let cells = [
                "\(w.users)", "\(w.served)", w.served > 0 ? f(w.ctr) : "undefined", f(w.randomCtr), f(w.fixedCtr),
                f(w.oracleCtr), "\(w.version)",
            ]
            table += "<tr>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
        }
        table += "</table>\n"
        let errorText =
            errors.isEmpty
            ? "none" : errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let summary = """
            <p>\(users) simulated new users (seed \(seed), concurrency \(concurrency)), \(served) served in \
            \(elapsedMs) ms; policy versions \(firstVersion)…\(lastVersion).</p>
            <p>Pool CTR \(f(ctr)): first fifth \(f(ctrFirstFifth)), last fifth \(f(ctrLastFifth)). On the same users: \
            random \(f(randomCtr)), fixed v\(fixedVersion) \(f(fixedCtr)), oracle \(f(oracleCtr)).</p>
            <p>Feedback acknowledged \(feedbackSent) (duplicates \(feedbackDuplicates)); errors: \(escape(errorText)).</p>

            """
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}
            table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
            th{background:#f3f3f3}code{background:#f6f6f6;padding:2px 4px}</style></head>
            <body>
            <h1>\(escape(title))</h1>
            <p><code>\(escape(command))</code></p>
            \(summary)\(chart)<h2>Windows</h2>
            \(table)</body></html>

            """
    }

    private func ticks(_ high: Double, digits: Int) -> [(Double, String)] {
        SVGChart.quarterTicks(high) { String(format: "%.\(digits)f", $0) }
    }
}

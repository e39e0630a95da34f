import Foundation
import RecData

extension SimulationReport {
    /// A self-contained HTML page: the CTR-over-time chart (inline SVG, no scripts, no fetches) with every
    /// baseline, the totals with each baseline's CTR and ÷ oracle, and the windows as a table.
    /// - Parameter command: what was run, shown under the title.
    public func html(title: String = "RecPool online learning simulation", command: String) -> String {
        let escape = HTML.escape
        let yMax = SVGChart.niceCeiling(
            max(windows.map { max($0.ctr, $0.baselines.values.max() ?? 0, $0.oracleCtr) }.max() ?? 0.1, 0.01) * 1.1)
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
            // No pool line (nor its legend entry) when no pool ran (--baselines-only) or served no one.
            series: (poolPoints.isEmpty ? [] : [.init(label: "pool (learning)", color: "#1f77b4", points: poolPoints, markers: true)])
                + baselines.enumerated().map { index, b in
                    .init(
                        label: b.name == "fixed" ? fixedLabel : b.name,
                        color: Self.palette[index % Self.palette.count],
                        points: windows.map { (Double($0.users), $0.baselines[b.name] ?? 0) },
                        dashed: ["random", "feature_best", "oracle"].contains(b.name))
                }
        ).svg()
        func f(_ v: Double) -> String { String(format: "%.4f", v) }
        let names = baselines.map(\.name)
        var table = "<table><tr><th>users</th><th>served</th><th>pool</th>"
        table += names.map { "<th>\(escape($0))</th>" }.joined() + "<th>version</th></tr>\n"
        for w in windows {
            let cells =
                ["\(w.users)", "\(w.served)", w.served > 0 ? f(w.ctr) : "undefined (no user of it served)"]
                + names.map { w.baselines[$0].map(f) ?? "" } + [w.version.map { "\($0)" } ?? "-"]
            table += "<tr>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
        }
        table += "</table>\n"
        let errorText =
            errors.isEmpty
            ? "none" : errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let undefinedShare = "undefined (\(BaselineSummary.oracleGotNoClick))"
        let share = { (v: Double) in oracleCtr > 0 ? String(format: "%.2f", v / oracleCtr) : undefinedShare }
        var totals = "<table><tr><th>policy</th><th>CTR</th><th>last fifth</th><th>÷ oracle</th></tr>\n"
        if served > 0 {
            let lastFifth = ctrLastFifth.map(f) ?? "undefined (no user of it served)"
            totals += "<tr><td>pool (learning)</td><td>\(f(ctr))</td><td>\(lastFifth)</td><td>\(share(ctr))</td></tr>\n"
        }
        for b in baselines {
            totals += "<tr><td>\(escape(b.name == "fixed" ? fixedLabel : b.name))</td><td>\(f(b.ctr))</td><td>\(f(b.ctrLastFifth))</td>"
            totals += "<td>\(b.ofOracle.map { String(format: "%.2f", $0) } ?? undefinedShare)</td></tr>\n"
        }
        totals += "</table>\n"
        // As the text says it: the per-item learners are left out of a large world, not missing from the table.
        if baseline("oracle") != nil && baseline("linucb") == nil {
            totals +=
                "<p>linucb, logistic_ts, egreedy_lr and feature_best left out: the world has more than "
                + "\(Baselines.perItemLimit) items.</p>\n"
        }
        let poolText =
            served > 0
            ? "Pool CTR \(f(ctr)): first fifth \(ctrFirstFifth.map(f) ?? "undefined (no user of it served)"), last fifth "
                + "\(ctrLastFifth.map(f) ?? "undefined (no user of it served)")."
            : "No user was served by a pool (the baselines alone)."
        // The baselines' users, as the text names them: those the pool served when it served only some.
        let usersText =
            served == 0 && elapsedMs != nil
            ? "On every user, as the pool served none:"
            : served > 0 && served < users ? "On the same users, the \(served) served:" : "On the same users:"
        let summary = """
            <p>\(users) simulated new users of the \(escape(world)) world (seed \(seed), concurrency \(concurrency)), \
            \(elapsedMs.map { "\(served) served in \($0) ms" } ?? "no live part (the baselines alone)"); \
            policy versions \(versionRange).</p>
            <p>\(poolText) \(usersText)</p>
            \(totals)<p>Feedback acknowledged \(feedbackSent) (duplicates \(feedbackDuplicates)); errors: \(escape(errorText)).</p>

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

    /// Series colours, in baseline order.
    static let palette = ["#ff7f0e", "#7f7f7f", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#2ca02c", "#d62728"]

    private func ticks(_ high: Double, digits: Int) -> [(Double, String)] {
        SVGChart.quarterTicks(high) { SVGChart.tickLabel($0, maxDigits: max(digits, 2)) }
    }
}

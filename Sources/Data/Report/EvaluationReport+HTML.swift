import Foundation

/// A self-contained HTML page: tables per segment, a ROC curve and a calibration plot as inline SVG.
extension EvaluationReport {
    /// The page, with no external resources.
    public func html() -> String {
        let e = HTML.escape
        let colors: [Segment: String] = [.all: "#1f77b4", .coldStart: "#ff7f0e", .warm: "#2ca02c"]
        // An undefined figure carries its reason whenever there is one, as the text and JSON forms do.
        func f(_ v: Double?, _ digits: Int = 4, undefined reason: String? = nil) -> String {
            v.flatMap { $0.isFinite ? FigureFormat.text($0, "%.\(digits)f") : nil }
                ?? (reason.map { "undefined (\(e($0)))" } ?? "undefined")
        }
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>RecPool evaluation: \(e(model)) on \(e(dataset))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
            th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; white-space: nowrap; }
            th:first-child, td:first-child { text-align: left; }
            thead th { background: #f0f0f0; }
            .plots { display: flex; flex-wrap: wrap; gap: 2em; }
            .note { color: #8a5a00; }
            </style></head><body>
            <h1>Evaluation of \(e(model))</h1>
            <p>Dataset <b>\(e(dataset))</b>: \(rows) rows, feature width \(featureWidth).
            Cold start = users whose affinity vector is all zero.</p>
            <h2>Click prediction</h2>
            <table><thead><tr><th>segment</th><th>rows</th><th>clicks</th><th>accuracy</th><th>precision</th><th>recall</th>
            <th>F1</th><th>ROC AUC</th><th>log-loss</th><th>ECE</th></tr></thead><tbody>

            """
        for s in segments {
            page += "<tr><td>\(s.segment.rawValue)</td><td>\(s.rows)</td><td>\(s.clicks)</td>"
            guard let c = s.classification, let calibration = s.calibration else {
                page += "<td colspan=\"7\">undefined (\(e(s.undefined ?? SegmentEvaluation.noRows)))</td></tr>\n"
                continue
            }
            page += "<td>\(f(c.accuracy))</td>"
            page += "<td>\(f(c.precision, undefined: c.precisionUndefined))</td>"
            page += "<td>\(f(c.recall, undefined: c.recallUndefined))</td>"
            page += "<td>\(f(c.f1, undefined: c.f1Undefined))</td><td>\(f(c.rocAUC, undefined: c.rocAUCUndefined))</td>"
            page += "<td>\(f(c.logLoss))</td><td>\(f(calibration.ece))</td></tr>\n"
        }
        page +=
            "</tbody></table>\n<h2>Ranking of the clicked item</h2>\n"
            + "<table><thead><tr><th>segment</th><th>ranked clicks</th>"
        let cutoffs = segments.first?.ranking.map(\.k) ?? []
        for k in cutoffs { page += "<th>HitRate@\(k)</th><th>NDCG@\(k)</th>" }
        page += "</tr></thead><tbody>\n"
        for s in segments {
            // The clicked rows that were ranked (each cutoff ranks the same ones), not the segment's clicks.
            page += "<tr><td>\(s.segment.rawValue)</td><td>\(s.ranking.first?.queries ?? 0)</td>"
            let why = s.undefined ?? "no click to rank"
            for r in s.ranking {
                page += "<td>\(f(r.isDefined ? r.hitRate : nil, undefined: why))</td>"
                page += "<td>\(f(r.isDefined ? r.ndcg : nil, undefined: why))</td>"
            }
            page += "</tr>\n"
        }
        page += "</tbody></table>\n"
        if segments.contains(where: { $0.oracleGreedyValue != nil }) {
            page +=
                "<h2>Ground truth (simulator)</h2><table><thead><tr><th>segment</th><th>logged policy</th><th>model greedy</th></tr></thead><tbody>\n"
            for s in segments {
                page +=
                    "<tr><td>\(s.segment.rawValue)</td><td>\(f(s.oracleLoggedValue, 5))</td><td>\(f(s.oracleGreedyValue, 5))</td></tr>\n"
            }
            page += "</tbody></table>\n"
        }
        if segments.contains(where: { $0.references != nil }) {
            // The ceilings a fitted model's AUC and log-loss are read against (ReferenceModelScores).
            page += "<h2>Reference click models (simulator)</h2><table><thead><tr><th>segment</th><th>model</th>"
                + "<th>ROC AUC</th><th>log-loss</th></tr></thead><tbody>\n"
            for s in segments {
                for r in s.references ?? [] {
                    page += "<tr><td>\(s.segment.rawValue)</td><td>\(e(r.name))</td><td>\(f(r.rocAUC, 4))</td>"
                        + "<td>\(f(r.logLoss, 4))</td></tr>\n"
                }
            }
            page += "</tbody></table>\n"
        }
        page += "<h2>Off-policy value of \(e(offPolicy.policy))</h2>\n"
        page += "<table><thead><tr><th>segment</th><th>rows</th><th>logged mean reward</th><th>ESS</th>"
        for estimator in OffPolicyEstimator.allCases { page += "<th>\(estimator.label) [95% CI]</th>" }
        page += "</tr></thead><tbody>\n"
        for s in offPolicy.segments {
            page +=
                "<tr><td>\(s.segment.rawValue)</td><td>\(s.rows)</td>"
                + "<td>\(f(s.behaviourValue, 5, undefined: s.behaviourValueUndefined))</td>"
                + "<td>\(f(s.effectiveSampleSize, 1, undefined: s.effectiveSampleSizeUndefined))</td>"
            for estimator in OffPolicyEstimator.allCases {
                if let figures = s.figures(estimator) {
                    // An undefined estimate shows its reason, and has no interval; a defined one without an interval
                    // says why there is none.
                    let interval =
                        if figures.value == nil {
                            ""
                        } else if let i = figures.interval {
                            "<br><small>[\(f(i.lower, 5)), \(f(i.upper, 5))]</small>"
                        } else {
                            "<br><small>(no interval: \(e(figures.intervalUndefined ?? "not computed")))</small>"
                        }
                    page += "<td>\(f(figures.value, 5, undefined: figures.undefined))\(interval)</td>"
                } else {
                    page += "<td>—</td>"
                }
            }
            page += "</tr>\n"
        }
        page += "</tbody></table>\n"
        // Every warning the text and JSON forms give (a segment with too few clicks, an effective sample size below
        // 100, implausible importance weights), under the tables they qualify.
        let warnings =
            segments.flatMap { s in s.warnings.map { "\(s.segment.rawValue), click prediction: \($0)" } }
            + offPolicy.segments.flatMap { s in s.warnings.map { "\(s.segment.rawValue), off-policy value: \($0)" } }
        if !warnings.isEmpty {
            page +=
                "<h2>Warnings</h2><ul>\n" + warnings.map { "<li class=\"note\">\(e($0))</li>" }.joined(separator: "\n")
                + "\n</ul>\n"
        }
        page += "<div class=\"plots\">\n"
        var rocSeries = segments.map { s in
            SVGChart.Series(
                label: s.rocUndefined.map { "\(s.segment.rawValue): undefined (\($0))" } ?? s.segment.rawValue,
                color: colors[s.segment]!, points: (s.roc ?? []).map { ($0[0], $0[1]) })
        }
        rocSeries.append(SVGChart.Series(label: "chance", color: "#999", points: [(0, 0), (1, 1)], dashed: true))
        page += Self.unitChart(
            title: "ROC curve", xLabel: "false-positive rate", yLabel: "true-positive rate", series: rocSeries,
            range: 1)
        var calibrationSeries = segments.map { s in
            // A segment with no bin says why, as its ROC legend does: "warm" alone, with no point, read as a line
            // that failed to draw.
            let empty = (s.calibration?.bins ?? []).isEmpty
            return SVGChart.Series(
                label: empty
                    ? "\(s.segment.rawValue): undefined (\(s.undefined ?? SegmentEvaluation.noRows))" : s.segment.rawValue,
                color: colors[s.segment]!,
                points: (s.calibration?.bins ?? []).map { ($0.meanPredicted, $0.observedRate) }, markers: true)
        }
        // Zoom to the populated range: click probabilities are often a few percent.
        let largest =
            segments.flatMap { ($0.calibration?.bins ?? []).flatMap { [$0.meanPredicted, $0.observedRate] } }.max() ?? 1
        let range = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1].first { $0 >= largest * 1.05 } ?? 1
        calibrationSeries.append(
            SVGChart.Series(label: "perfect", color: "#999", points: [(0, 0), (range, range)], dashed: true))
        page +=
            "\n"
            + Self.unitChart(
                title: "Calibration (reliability)", xLabel: "mean predicted click probability",
                yLabel: "observed click rate",
                series: calibrationSeries, range: range)
        page += "\n</div>\n"
        // The off-policy report's own notes, then the evaluation's that it does not already hold (as the text form).
        let allNotes = offPolicy.notes + notes.filter { !offPolicy.notes.contains($0) }
        if !allNotes.isEmpty {
            page +=
                "<h2>Notes</h2><ul>\n" + allNotes.map { "<li class=\"note\">\(e($0))</li>" }.joined(separator: "\n")
                + "\n</ul>\n"
        }
        return page + "</body></html>\n"
    }

    /// A square chart of [0, range]² with ticks at the quarters.
    private static func unitChart(
        title: String, xLabel: String, yLabel: String, series: [SVGChart.Series], range: Double
    ) -> String {
        let ticks = SVGChart.quarterTicks(range) { String(format: "%.4g", $0) }
        return SVGChart(
            title: title, xLabel: xLabel, yLabel: yLabel, xTicks: ticks, yTicks: ticks, xRange: 0...range,
            yRange: 0...range, series: series, width: 520, height: 384
        ).svg()
    }
}

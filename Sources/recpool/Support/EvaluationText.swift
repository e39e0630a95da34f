import Foundation
import RecData

/// The text form of `recpool eval`: per segment the threshold-free metrics with their intervals, precision, recall
/// and F1 at 0.5 and at the validation-chosen threshold, ranking, warnings, then the off-policy report.
enum EvaluationText {
    /// The lines to print.
    static func lines(_ result: EvaluationReport) -> [String] {
        let f = { (v: Double?) in figureText(v, "%.4f") }
        var out = ["\(result.model) on \(result.dataset): \(CountText.of(result.rows, "row")), width \(result.featureWidth)"]
        out.append(thresholdLine(result.threshold, undefined: result.thresholdUndefined))
        for s in result.segments {
            guard let c = s.classification, let calibration = s.calibration else {
                out.append("  \(s.segment.rawValue): \(s.rows) rows: every figure undefined (\(s.undefined ?? "no rows"))")
                continue
            }
            out.append(
                "  \(s.segment.rawValue): \(CountText.of(s.rows, "row")), \(CountText.of(s.clicks, "click")) (reward > 0), mean reward \(f(s.meanReward))")
            out += metricLines(
                c, intervals: s.intervals, ece: calibration.ece, atChosen: s.atChosenThreshold,
                note: s.intervals == nil ? "(no intervals: \(s.intervalsUndefined ?? "not computed"))" : nil)
            if let r5 = s.ranking.first(where: { $0.k == 5 }) {
                out.append(
                    r5.isDefined
                        ? "    HR@5 \(f(r5.hitRate))  NDCG@5 \(f(r5.ndcg))"
                        : "    HR@5 and NDCG@5 undefined (\(r5.undefined ?? RankingMetrics.noClick))")
            }
            if s.oracleGreedyValue != nil || s.oracleLoggedValue != nil {
                // The simulator's ground truth, as in the JSON and the HTML report.
                out.append(
                    "    ground truth (simulator): logged policy \(f(s.oracleLoggedValue))  model greedy "
                        + "\(f(s.oracleGreedyValue)) (mean click probability)")
            }
            if let references = s.references {
                // What the model's AUC and log-loss are read against: the feature-only model is the best a model of
                // the logged features can do.
                out.append(
                    "    references (simulator): "
                        + references.map {
                            "\($0.name.replacingOccurrences(of: "_", with: " ")) AUC \(figureText($0.rocAUC, "%.4f", undefined: $0.rocAUCUndefined)) log-loss \(f($0.logLoss))"
                        }.joined(separator: "; "))
            }
            for warning in s.warnings { out.append("    warning: \(warning)") }
        }
        out.append("  off-policy value of \(result.offPolicy.policy):")
        out += OffPolicyText.lines(result.offPolicy, indent: "    ")
        let offPolicyNotes = Set(result.offPolicy.notes)
        for note in result.notes where !offPolicyNotes.contains(note) { out.append("  note: \(note)") }
        return out
    }

    /// The text form of `recpool fit`'s validation figures: the rows and clicks, the threshold, the metric lines
    /// and the warnings.
    static func lines(_ v: ValidationMetrics) -> [String] {
        ["validation: \(CountText.of(v.rows, "row")), \(CountText.of(v.clicks, "click"))", thresholdLine(v.threshold, undefined: v.thresholdUndefined)]
            + metricLines(v.classification, intervals: nil, ece: v.calibration.ece, atChosen: v.atChosenThreshold)
            + v.warnings.map { "    warning: \($0)" }
    }

    /// The threshold line of a choice, or the line saying none was chosen and why.
    static func thresholdLine(_ t: ThresholdChoice?, undefined: String?) -> String {
        guard let t else { return "  threshold: undefined (\(undefined ?? "no click to choose it on"))" }
        return String(
            format: "  threshold %.6g (%@ on %ld %@ rows, %ld clicks)", t.threshold, t.criterion, t.rows, t.chosenOn,
            t.clicks)
    }

    /// AUC, PR-AUC, log-loss (each with its interval when given) and ECE, then accuracy, precision, recall and F1 at
    /// 0.5 and at the chosen threshold: the lines `eval` prints per segment and `fit` for its validation rows. `note`
    /// (if any) goes after the threshold-free lines.
    static func metricLines(
        _ c: ClassificationMetrics, intervals: MetricIntervals?, ece: Double, atChosen: ClassificationMetrics?,
        note: String? = nil
    ) -> [String] {
        let f = { (v: Double?) in figureText(v, "%.4f") }
        let ci = { (i: ConfidenceInterval?) in intervalText(i, "%.4f") }
        var out = [
            "    AUC      \(figureText(c.rocAUC, "%.4f", undefined: c.rocAUCUndefined))\(ci(intervals?.rocAUC))",
            "    PR-AUC   \(figureText(c.averagePrecision, "%.4f", undefined: c.averagePrecisionUndefined))"
                + ci(intervals?.averagePrecision),
            "    log-loss \(f(c.logLoss))\(ci(intervals?.logLoss))   ECE \(f(ece))",
        ]
        if let note { out.append("    " + note) }
        for m in [c] + (atChosen.map { [$0] } ?? []) {
            out.append(
                String(format: "    at %-10.6g", m.threshold)
                    + " accuracy \(f(m.accuracy))"
                    + "  precision \(figureText(m.precision, "%.4f", undefined: m.precisionUndefined))"
                    + "  recall \(figureText(m.recall, "%.4f", undefined: m.recallUndefined))"
                    + "  F1 \(figureText(m.f1, "%.4f", undefined: m.f1Undefined))")
        }
        return out
    }
}

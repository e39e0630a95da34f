import Foundation
import RecData

/// The text form of `recpool eval`: per segment the threshold-free metrics with their intervals, precision, recall
/// and F1 at 0.5 and at the validation-chosen threshold, ranking, warnings, then the off-policy report.
enum EvaluationText {
    /// The lines to print.
    static func lines(_ result: EvaluationReport) -> [String] {
        let f = { (v: Double?) in figureText(v, "%.4f") }
        let ci = { (i: ConfidenceInterval?) in i.map { String(format: " [%.4f, %.4f]", $0.lower, $0.upper) } ?? "" }
        var out = ["\(result.model) on \(result.dataset): \(result.rows) rows, width \(result.featureWidth)"]
        if let t = result.threshold {
            out.append(
                String(
                    format: "  threshold %.6g (%@ on %d %@ rows, %d clicks)", t.threshold, t.criterion, t.rows,
                    t.chosenOn, t.clicks))
        } else {
            out.append("  threshold: undefined (no click to choose it on)")
        }
        for s in result.segments {
            let c = s.classification
            out.append("  \(s.segment.rawValue): \(s.rows) rows, \(s.clicks) clicks")
            out.append("    AUC      \(f(c.rocAUC))\(ci(s.intervals?.rocAUC))")
            out.append("    PR-AUC   \(f(c.averagePrecision))\(ci(s.intervals?.averagePrecision))")
            out.append("    log-loss \(f(c.logLoss))\(ci(s.intervals?.logLoss))   ECE \(f(s.calibration.ece))")
            if s.intervals == nil { out.append("    (no intervals: too few clicks in this segment)") }
            for m in [c] + (s.atChosenThreshold.map { [$0] } ?? []) {
                out.append(
                    String(format: "    at %-10.6g", m.threshold)
                        + " accuracy \(f(m.accuracy))  precision \(f(m.precision))  recall \(f(m.recall))  F1 \(f(m.f1))")
            }
            if let r5 = s.ranking.first(where: { $0.k == 5 }) {
                out.append(
                    "    HR@5 \(f(r5.isDefined ? r5.hitRate : nil))  NDCG@5 \(f(r5.isDefined ? r5.ndcg : nil))")
            }
            for warning in s.warnings { out.append("    warning: \(warning)") }
        }
        out.append("  off-policy value of \(result.offPolicy.policy):")
        out += OffPolicyText.lines(result.offPolicy, indent: "    ")
        let offPolicyNotes = Set(result.offPolicy.notes)
        for note in result.notes where !offPolicyNotes.contains(note) { out.append("  note: \(note)") }
        return out
    }
}

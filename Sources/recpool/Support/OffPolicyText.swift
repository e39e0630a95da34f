import Foundation
import RecData

/// The text form of an off-policy report, shared by `recpool eval` and `recpool data ope`: per segment the rows,
/// the logged mean reward (the CTR for 0/1 rewards; revenue per row for revenue), the effective sample size (always
/// shown) and its warning, then each estimator with its bootstrap interval (or `(no interval: REASON)`), or
/// `undefined (REASON)`.
enum OffPolicyText {
    /// The lines, each indented by `indent`.
    static func lines(_ report: OffPolicyReport, indent: String = "  ") -> [String] {
        var out: [String] = []
        for s in report.segments {
            let name = s.segment.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
            out.append(
                "\(indent)\(name) rows \(s.rows)  logged mean reward \(figureText(s.behaviourValue, "%.5f", undefined: s.behaviourValueUndefined))  ESS \(figureText(s.effectiveSampleSize, "%.1f", undefined: s.effectiveSampleSizeUndefined))"
            )
            for warning in s.warnings { out.append("\(indent)  warning: \(warning)") }
            for e in s.estimates {
                let ci =
                    e.interval.map { intervalText($0, "%.5f") }
                    ?? e.intervalUndefined.map { " (no interval: \($0))" } ?? ""
                out.append(
                    "\(indent)  \(e.estimator.label.padding(toLength: 6, withPad: " ", startingAt: 0)) \(figureText(e.value, "%.5f", undefined: e.undefined))\(ci)"
                )
            }
        }
        for note in report.notes { out.append("\(indent)note: \(note)") }
        return out
    }
}

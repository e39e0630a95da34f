import Foundation
import RecData

/// Text for a figure that may be undefined: the number in `format`, or `undefined (REASON)`, never 0 or `nan`.
///
/// A value that is present but not finite also prints as undefined (the estimators return nil for those already;
/// this keeps text output free of `nan` and `inf` whatever a caller passes).
func figureText(_ value: Double?, _ format: String, undefined reason: String? = nil) -> String {
    guard let value, value.isFinite else { return reason.map { "undefined (\($0))" } ?? "undefined" }
    return FigureFormat.text(value, format)
}

/// Text for a confidence interval, ` [LOWER, UPPER]` with each bound as ``figureText(_:_:undefined:)`` prints a
/// figure (so a bound of 10¹² or more is in scientific notation, as the value beside it), or "" for none.
func intervalText(_ interval: ConfidenceInterval?, _ format: String) -> String {
    interval.map { " [\(figureText($0.lower, format)), \(figureText($0.upper, format))]" } ?? ""
}

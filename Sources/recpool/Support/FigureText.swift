import Foundation

/// Text for a figure that may be undefined: the number in `format`, or `undefined (REASON)`, never 0 or `nan`.
///
/// A value that is present but not finite also prints as undefined (the estimators return nil for those already;
/// this keeps text output free of `nan` and `inf` whatever a caller passes).
func figureText(_ value: Double?, _ format: String, undefined reason: String? = nil) -> String {
    guard let value, value.isFinite else { return reason.map { "undefined (\($0))" } ?? "undefined" }
    // Fixed-point prints an importance-weighted estimate of 2e110 as 111 digits: from 1e12 on, six significant digits
    // in scientific notation.
    if abs(value) >= 1e12 { return String(format: "%.6e", value) }
    return String(format: format, value)
}

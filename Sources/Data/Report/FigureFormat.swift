import Foundation

/// How every report (text, HTML) prints a finite figure: in the caller's `printf` format (`%.5f`), except that a
/// magnitude of 10¹² or more prints with six significant digits in scientific notation (`-1.197162e+97`). Fixed
/// point would print an importance-weighted estimate on a log with a propensity of 1e-100 as a hundred digits, and
/// an interval's bounds next to its value in another form.
public enum FigureFormat {
    /// The magnitude from which a figure is printed in scientific notation.
    public static let scientificFrom = 1e12

    /// `value` in `format` (a `printf` format of one `double`), or in `%.6e` from ``scientificFrom`` on. A value
    /// that is not finite is printed as `printf` prints it: callers say why a figure is undefined instead.
    public static func text(_ value: Double, _ format: String) -> String {
        if value.isFinite && abs(value) >= scientificFrom { return String(format: "%.6e", value) }
        return String(format: format, value)
    }
}

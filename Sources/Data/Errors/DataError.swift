/// Why a data file or dataset specification could not be used.
///
/// Every case that comes from a file names the file, and the line (1-based, counting the header as line 1)
/// and column where the problem was found. A loader that throws returns nothing: a partially parsed
/// dataset is never used.
public enum DataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be read, or is not UTF-8 text.
    case unreadable(path: String, reason: String)
    /// The file has no header line.
    case emptyFile(path: String)
    /// A column the format requires is not in the header.
    case missingColumn(path: String, column: String)
    /// A row has a different number of fields from the header.
    case raggedRow(path: String, line: Int, expected: Int, found: Int)
    /// A field that must be a number is not one.
    case notANumber(path: String, line: Int, column: String, columnNumber: Int, value: String)
    /// A field is a number but outside what the format allows (a click that is not 0 or 1, an unknown item).
    case invalidValue(path: String, line: Int, column: String, columnNumber: Int, value: String, reason: String)
    /// A dataset specification such as `obd:random/all` or `synthetic:users=100,seed=7` could not be parsed.
    case invalidSpecification(String)
    /// The dataset is internally inconsistent (for example, no rows).
    case inconsistent(String)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .emptyFile(let path):
            return "\(path): empty file (no header line)"
        case .missingColumn(let path, let column):
            return "\(path): missing column '\(column)'"
        case .raggedRow(let path, let line, let expected, let found):
            return "\(path):\(line): expected \(expected) fields, found \(found)"
        case .notANumber(let path, let line, let column, let number, let value):
            return "\(path):\(line): column \(number) '\(column)': '\(value)' is not a number"
        case .invalidValue(let path, let line, let column, let number, let value, let reason):
            return "\(path):\(line): column \(number) '\(column)': '\(value)' \(reason)"
        case .invalidSpecification(let message):
            return "invalid dataset specification: \(message)"
        case .inconsistent(let message):
            return "inconsistent dataset: \(message)"
        }
    }
}

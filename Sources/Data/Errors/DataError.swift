import RecModel

/// Why a data file or dataset specification could not be used.
///
/// Every problem found in a file is a ``CSVError`` (the one error type of RecPool's file readers) that names the
/// file, and the line (1-based, counting the header as line 1) and column where it was found. A loader that throws
/// returns nothing: a partially parsed dataset is never used.
public enum DataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file could not be read, or a field in it is missing, malformed or out of range.
    case file(CSVError)
    /// A dataset specification such as `obd:random/all` or `synthetic:users=100,seed=7` could not be parsed.
    case invalidSpecification(String)
    /// The dataset is internally inconsistent (for example, no rows).
    case inconsistent(String)
    /// A schema file is unreadable or malformed, or does not match the columns of the file it describes.
    case schema(String)
    /// An item's numeric feature field (a catalogue row, or `catalogue add`'s fields) is not a value the models hold,
    /// for one ``NumberProblem``.
    case numericField(item: String, name: String, text: String, problem: NumberProblem)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .file(let error):
            return error.description
        case .invalidSpecification(let message):
            return "invalid dataset specification: \(message)"
        case .inconsistent(let message):
            return "inconsistent dataset: \(message)"
        case .schema(let message):
            return "schema: \(message)"
        case .numericField(let item, let name, let text, let problem):
            return "item \(CSVError.visible(item)): numeric feature \(CSVError.visible(name)) '\(CSVError.visible(text))' \(problem)"
        }
    }
}

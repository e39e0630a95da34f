/// Why an ``ItemIndex`` refused a call. Each case names the row or the sizes involved.
public enum IndexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A vector or query has another length than the index's dimension.
    case dimensionMismatch(expected: Int, got: Int)
    /// A vector or query holds NaN or an infinity (the row, or nil for a query).
    case nonFinite(row: Int?)
    /// A row number below zero.
    case negativeRow(Int)
    /// A row the index has never held.
    case unknownRow(Int)
    /// A row already removed.
    case alreadyRemoved(Int)
    /// `k` below 1, or parameters out of range (the text says which).
    case invalidArgument(String)
    /// hnswlib could not allocate.
    case outOfMemory
    /// Any other failure inside hnswlib, with the shim's status code.
    case library(code: Int32)

    /// A one-line message for people.
    public var description: String {
        switch self {
        case .dimensionMismatch(let expected, let got): return "the index holds \(expected)-dimensional vectors, got \(got)"
        case .nonFinite(let row?): return "the vector of row \(row) is not finite"
        case .nonFinite(nil): return "the query vector is not finite"
        case .negativeRow(let row): return "row \(row) is negative"
        case .unknownRow(let row): return "row \(row) is not in the index"
        case .alreadyRemoved(let row): return "row \(row) was already removed from the index"
        case .invalidArgument(let text): return text
        case .outOfMemory: return "the index could not allocate memory"
        case .library(let code): return "hnswlib failed (status \(code))"
        }
    }
}

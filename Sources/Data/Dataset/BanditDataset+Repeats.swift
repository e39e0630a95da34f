/// Rows of a log written twice, as the reports name them.
extension BanditDataset {
    /// What the reports say of ``repeatedRows``, or nil when there are none.
    public var repeatedRowsNote: String? {
        guard repeatedRows > 0 else { return nil }
        return "\(repeatedRows) row\(repeatedRows == 1 ? "" : "s") of the log repeat\(repeatedRows == 1 ? "s" : "") an earlier row in "
            + "every column, the timestamp included\(firstRepeatedLine.map { " (the first on line \($0))" } ?? ""): each is "
            + "read as its own impression; if the log was written twice, remove the copies"
    }
}

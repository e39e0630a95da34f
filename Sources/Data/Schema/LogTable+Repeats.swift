/// Rows of a log written twice.
extension LogTable {
    /// Rows of `table` equal in every field to an earlier row, and the source line of the first of them.
    ///
    /// A row is compared by its fields as read (the CSV's quoting undone), each row against the earlier rows with the
    /// same hash, so a hash collision is never counted. Linear in the cells, one hash per row.
    static func repeatedRows(_ table: CSVTable) -> (count: Int, firstLine: Int?) {
        var seen: [Int: [Int]] = [:]
        seen.reserveCapacity(table.rows.count)
        var count = 0
        var firstLine: Int?
        for (index, row) in table.rows.enumerated() {
            let key = row.hashValue
            if let earlier = seen[key], earlier.contains(where: { table.rows[$0] == row }) {
                count += 1
                if firstLine == nil { firstLine = table.lines[index] }
                continue
            }
            seen[key, default: []].append(index)
        }
        return (count, firstLine)
    }
}

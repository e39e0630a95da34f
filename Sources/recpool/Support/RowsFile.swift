import Foundation
import RecModel

/// Reads feature rows from CSV (``NumericCSV`` on the one reader, ``CSVFile``: an optional header line, then numbers)
/// or JSON (an array of arrays, or an object with a `rows` array). A header column named `label` is dropped. `-` is
/// stdin. Every problem is a ``CSVError`` naming the file and, where there is one, the line (JSON: the row) and column.
enum RowsFile {
    /// The rows of `path`, at least one, all of one width, every value finite.
    static func read(_ path: String) throws(CSVError) -> [[Float]] {
        var bytes: [UInt8]
        if path == "-" {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            bytes = try CSVFile.readBytes(path: path)
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        let first = bytes.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }
        let rows =
            first == UInt8(ascii: "[") || first == UInt8(ascii: "{")
            ? try json(Data(bytes), path: path) : try csv(bytes, path: path)
        guard !rows.isEmpty else { throw .empty(path: path) }
        return rows
    }

    private static func json(_ data: Data, path: String) throws(CSVError) -> [[Float]] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw .badJSON(path: path, reason: "\(error.localizedDescription)")
        }
        let list = (object as? [Any]) ?? ((object as? [String: Any])?["rows"] as? [Any])
        guard let list else { throw .badJSON(path: path, reason: "expected [[…], …] or {\"rows\": [[…], …]}") }
        var rows: [[Float]] = []
        for (r, item) in list.enumerated() {
            guard let cells = item as? [Any] else { throw .badJSON(path: path, reason: "row \(r + 1) is not an array") }
            var row: [Float] = []
            for (c, cell) in cells.enumerated() {
                guard let number = cell as? NSNumber, !(cell is Bool) else {
                    throw .nonNumeric(path: path, line: r + 1, column: c + 1, text: "\(cell)")
                }
                let value = number.floatValue
                guard value.isFinite else {
                    throw .notFinite(path: path, line: r + 1, column: c + 1, text: "\(number)")
                }
                row.append(value)
            }
            if let first = rows.first, first.count != row.count {
                throw .raggedRow(path: path, line: r + 1, expected: first.count, found: row.count)
            }
            rows.append(row)
        }
        return rows
    }

    private static func csv(_ bytes: [UInt8], path: String) throws(CSVError) -> [[Float]] {
        let table = try NumericCSV.parse(bytes, path: path)
        let label = table.header?.firstIndex(of: "label")
        return (0..<table.table.rows).map { r in
            (0..<table.table.cols).filter { $0 != label }.map { table.table[r, $0] }
        }
    }
}

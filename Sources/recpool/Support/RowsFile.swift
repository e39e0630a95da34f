import Foundation
import RecModel

/// Why an input file of feature rows could not be read. Each case names the file and the place.
enum RowsFileError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case notANumber(path: String, line: Int, column: Int, text: String)
    case nonFinite(path: String, line: Int, column: Int)
    case ragged(path: String, line: Int, expected: Int, got: Int)
    case badJSON(path: String, reason: String)
    case csv(CSVError)

    var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .empty(let path): "\(path): no rows"
        case .notANumber(let path, let line, let column, let text):
            "\(path):\(line):\(column): \"\(text)\" is not a number"
        case .nonFinite(let path, let line, let column): "\(path):\(line):\(column): NaN or infinity is not allowed"
        case .ragged(let path, let line, let expected, let got):
            "\(path):\(line): row has \(got) values, expected \(expected) like the first row"
        case .badJSON(let path, let reason): "\(path): not a JSON array of rows: \(reason)"
        case .csv(let error): error.description
        }
    }
}

/// Reads feature rows from CSV (``NumericCSV``: an optional header line, then numbers) or JSON (an array of arrays,
/// or an object with a `rows` array). A header column named `label` is dropped. `-` is stdin.
enum RowsFile {
    static func read(_ path: String) throws(RowsFileError) -> [[Float]] {
        let data: Data
        do {
            data =
                path == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        let text = String(decoding: data, as: UTF8.self)
        let trimmed = text.drop { $0.isWhitespace }
        let rows = trimmed.first == "[" || trimmed.first == "{" ? try json(data, path: path) : try csv(text, path: path)
        guard !rows.isEmpty else { throw .empty(path: path) }
        return rows
    }

    private static func json(_ data: Data, path: String) throws(RowsFileError) -> [[Float]] {
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
                    throw .notANumber(path: path, line: r + 1, column: c + 1, text: "\(cell)")
                }
                let value = number.floatValue
                guard value.isFinite else { throw .nonFinite(path: path, line: r + 1, column: c + 1) }
                row.append(value)
            }
            if let first = rows.first, first.count != row.count {
                throw .ragged(path: path, line: r + 1, expected: first.count, got: row.count)
            }
            rows.append(row)
        }
        return rows
    }

    private static func csv(_ text: String, path: String) throws(RowsFileError) -> [[Float]] {
        let table: NumericCSV
        do {
            table = try NumericCSV.parse(text, path: path)
        } catch {
            throw .csv(error)
        }
        let label = table.header?.firstIndex(of: "label")
        return (0..<table.table.rows).map { r in
            (0..<table.table.cols).filter { $0 != label }.map { table.table[r, $0] }
        }
    }
}

import Foundation

/// A CSV file read whole into memory: a header and rows of string fields, each row remembering its line.
///
/// Fields are separated by commas; a field may be wrapped in double quotes (with `""` for a quote inside).
/// Line endings may be `\n` or `\r\n`. Blank lines are skipped. Every row must have as many fields as the header.
public struct CSVTable: Sendable {
    /// The file the table was read from, as given to `read(path:)`; used in error messages.
    public let path: String
    /// The header fields, in file order.
    public let header: [String]
    /// The data rows, in file order.
    public let rows: [[String]]
    /// For each row, its 1-based line number in the file (the header is line 1).
    public let lines: [Int]

    /// Reads and parses a CSV file.
    /// - Throws: `DataError.fileNotFound`, `.unreadable`, `.emptyFile` or `.raggedRow`.
    public static func read(path: String) throws(DataError) -> CSVTable {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
        return try parse(Array(data), path: path)
    }

    /// Parses CSV bytes; `path` only labels errors.
    /// - Throws: `DataError.unreadable`, `.emptyFile` or `.raggedRow`.
    public static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> CSVTable {
        var records: [[String]] = []
        var lineNumbers: [Int] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var line = 1
        var recordLine = 1
        var index = 0
        let count = bytes.count

        func finishField() throws(DataError) {
            guard let text = String(validating: field, as: UTF8.self) else {
                throw .unreadable(path: path, reason: "line \(recordLine) is not valid UTF-8")
            }
            fields.append(text)
            field.removeAll(keepingCapacity: true)
        }

        while index < count {
            let byte = bytes[index]
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < count && bytes[index + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
            } else if byte == UInt8(ascii: "\"") && field.isEmpty {
                inQuotes = true
            } else if byte == UInt8(ascii: ",") {
                try finishField()
            } else if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                if byte == UInt8(ascii: "\r") && index + 1 < count && bytes[index + 1] == UInt8(ascii: "\n") {
                    index += 1
                }
                if !(fields.isEmpty && field.isEmpty) {
                    try finishField()
                    records.append(fields)
                    lineNumbers.append(recordLine)
                    fields.removeAll(keepingCapacity: true)
                }
                line += 1
                recordLine = line
            } else {
                field.append(byte)
            }
            index += 1
        }
        if !(fields.isEmpty && field.isEmpty) {
            try finishField()
            records.append(fields)
            lineNumbers.append(recordLine)
        }
        guard let header = records.first else { throw .emptyFile(path: path) }
        for (row, fieldsInRow) in records.enumerated().dropFirst() where fieldsInRow.count != header.count {
            throw .raggedRow(path: path, line: lineNumbers[row], expected: header.count, found: fieldsInRow.count)
        }
        return CSVTable(
            path: path, header: header, rows: Array(records.dropFirst()), lines: Array(lineNumbers.dropFirst()))
    }

    /// The index of a column by exact header name.
    /// - Throws: `DataError.missingColumn`.
    public func column(_ name: String) throws(DataError) -> Int {
        guard let index = header.firstIndex(of: name) else { throw .missingColumn(path: path, column: name) }
        return index
    }

    /// A field parsed as a `Double`.
    /// - Throws: `DataError.notANumber` naming file, line and column, or `.invalidValue` for NaN and infinities.
    public func double(row: Int, column: Int) throws(DataError) -> Double {
        let text = rows[row][column]
        guard let value = Double(text) ?? Double(text.trimmingCharacters(in: .whitespaces)) else {
            throw .notANumber(
                path: path, line: lines[row], column: header[column], columnNumber: column + 1, value: text)
        }
        guard value.isFinite else { throw invalid(row: row, column: column, reason: "is not finite") }
        return value
    }

    /// A field parsed as an integer (it may be written as `2` or `2.0`).
    /// - Throws: `DataError.notANumber` or `.invalidValue` when the number is not integral.
    public func integer(row: Int, column: Int) throws(DataError) -> Int {
        let value = try double(row: row, column: column)
        guard value.rounded() == value, abs(value) < 1e15 else {
            throw invalid(row: row, column: column, reason: "is not an integer")
        }
        return Int(value)
    }

    /// A `DataError.invalidValue` for one field.
    public func invalid(row: Int, column: Int, reason: String) -> DataError {
        .invalidValue(
            path: path, line: lines[row], column: header[column], columnNumber: column + 1,
            value: rows[row][column], reason: reason)
    }
}

import Foundation
import RecModel

/// A CSV file with a header, read whole into memory: rows of string fields, each row remembering its line.
///
/// The records come from RecModel's ``CSVFile`` (quoting, CRLF, a byte-order mark, blank lines); every row must have
/// as many fields as the header. Field errors are `DataError.file` with a ``CSVError`` naming file, line and column.
public struct CSVTable: Sendable {
    /// The file the table was read from, as given to `read(path:)`; used in error messages.
    public let path: String
    /// The header fields, in file order.
    public let header: [String]
    /// The data rows, in file order.
    public let rows: [[String]]
    /// For each row, its 1-based line number in the file (the header is line 1).
    public let lines: [Int]

    /// Reads and parses a CSV file with ``CSVFile``.
    /// - Throws: `DataError.file` with the ``CSVError`` (unreadable, not UTF-8, empty, ragged row).
    public static func read(path: String) throws(DataError) -> CSVTable {
        do throws(CSVError) {
            return try interpret(CSVFile.read(path: path))
        } catch {
            throw .file(error)
        }
    }

    /// Parses CSV bytes; `path` only labels errors.
    /// - Throws: `DataError.file` with the ``CSVError``.
    public static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> CSVTable {
        do throws(CSVError) {
            return try interpret(CSVFile.parse(bytes, path: path))
        } catch {
            throw .file(error)
        }
    }

    /// The first record is the header, naming each column once; every other record must have as many fields.
    static func interpret(_ file: CSVFile) throws(CSVError) -> CSVTable {
        guard let header = file.records.first else { throw .empty(path: file.path) }
        try CSVError.checkUniqueNames(header, path: file.path)
        for (row, fields) in file.records.enumerated().dropFirst() where fields.count != header.count {
            throw .raggedRow(path: file.path, line: file.lines[row], expected: header.count, found: fields.count)
        }
        return CSVTable(
            path: file.path, header: header, rows: Array(file.records.dropFirst()), lines: Array(file.lines.dropFirst())
        )
    }

    /// The index of a column by exact header name.
    /// - Throws: `DataError.file(.missingColumn)`, or `DataError.inconsistent` naming a header column that differs from
    ///   `name` only by spaces around it or by case.
    public func column(_ name: String) throws(DataError) -> Int {
        guard let index = header.firstIndex(of: name) else {
            // Names are matched exactly; one that differs only by spaces around it is named, not reported missing.
            if let spaced = header.first(where: { $0.trimmingCharacters(in: .whitespaces) == name }) {
                throw .inconsistent(
                    "\(path): no \"\(name)\" column in the header, but there is \"\(spaced)\": remove the spaces around "
                        + "the name in the header (column names are matched exactly)")
            }
            // One that differs only in case (`device type` for `Device Type`) is named too: names are case-sensitive.
            let folded = name.lowercased()
            if let cased = header.first(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() == folded }) {
                throw .inconsistent(
                    "\(path): no \"\(name)\" column in the header, but there is \"\(cased)\": column names are matched "
                        + "exactly, case included; write the name as the header has it, or rename the column")
            }
            throw .file(.missingColumn(path: path, name: name))
        }
        return index
    }

    /// A field parsed as a `Double`.
    /// - Throws: `DataError.file(.invalidValue)` naming file, line and column, with ``NumberProblem``'s reason: a blank
    ///   field, text that is not a number, NaN or an infinity.
    public func double(row: Int, column: Int) throws(DataError) -> Double {
        do throws(NumberProblem) {
            return try NumberProblem.double(rows[row][column])
        } catch {
            throw invalid(row: row, column: column, reason: error.description)
        }
    }

    /// A field parsed as a number the models hold as a 32-bit float.
    /// - Throws: `DataError.file(.invalidValue)` when the field is blank, not a number, not finite, or outside a
    ///   32-bit float's range (`1e39` is a finite `Double` but would become an infinite `Float`): ``NumberProblem``.
    public func float(row: Int, column: Int) throws(DataError) -> Float {
        do throws(NumberProblem) {
            return try NumberProblem.float(rows[row][column])
        } catch {
            throw invalid(row: row, column: column, reason: error.description)
        }
    }

    /// A field parsed as an integer (it may be written as `2` or `2.0`).
    /// - Throws: `DataError.file(.invalidValue)` when the field is blank (``NumberProblem/blank``'s reason, as a
    ///   number field's), not a number or not integral.
    public func integer(row: Int, column: Int) throws(DataError) -> Int {
        // Read from the text (`CSVNumber.wholeNumber`), never by rounding a Double: `0.99999999999999999` is no 1.
        guard let value = CSVNumber.wholeNumber(rows[row][column]) else {
            // One reason per cause: a blank slot (white space too) was "' ' is not an integer", a blank click
            // "'' is blank: a number is needed".
            if BlankText.isBlank(rows[row][column]) {
                throw invalid(row: row, column: column, reason: NumberProblem.blank.description)
            }
            // A whole number of 16 digits or more (a 16-digit slot) is refused for its size, not called a non-integer.
            if let huge = CSVNumber.double(rows[row][column]), huge.isFinite, huge.rounded() == huge, abs(huge) >= 1e15 {
                throw invalid(row: row, column: column, reason: "has more than 15 digits, more than a whole-number field holds")
            }
            throw invalid(row: row, column: column, reason: "is not an integer")
        }
        return value
    }

    /// A `DataError.file(.invalidValue)` for one field.
    public func invalid(row: Int, column: Int, reason: String) -> DataError {
        .file(
            .invalidValue(
                path: path, line: lines[row], column: column + 1, name: header[column], text: rows[row][column],
                reason: reason))
    }
}

/// Why a CSV (or JSON rows) input file could not be used: the one error type of every file of rows RecPool reads.
///
/// Each case names the file and, where there is one, the 1-based line and column.
public enum CSVError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read (a missing file is `open` with `ENOENT`).
    case unreadable(path: String, operation: String, errno: Int32)
    /// The bytes on `line` are not UTF-8.
    case notUTF8(path: String, line: Int)
    /// The file's double quotes do not pair up: on `line` a quoted field opens and is never closed (it would swallow
    /// the rest of the file), or a double quote stands inside a field that is not quoted (RFC 4180 allows neither).
    case unbalancedQuote(path: String, line: Int)
    /// The file has no data rows (or, where one is required, no header).
    case empty(path: String)
    /// A row has a different number of fields from the header or first row.
    case raggedRow(path: String, line: Int, expected: Int, found: Int)
    /// A field is not a number.
    case nonNumeric(path: String, line: Int, column: Int, text: String)
    /// A field is NaN or infinite.
    case notFinite(path: String, line: Int, column: Int, text: String)
    /// A field is a number other than 0 nearer 0 than the smallest 64-bit float (`1e-400`), which reads it as 0.
    case underflow(path: String, line: Int, column: Int, text: String)
    /// A named column's field is not a number, or is outside what the format allows (a click that is not 0 or 1, a
    /// propensity that is not in (0, 1]); `reason` completes "'TEXT' …".
    case invalidValue(path: String, line: Int, column: Int, name: String, text: String, reason: String)
    /// A required column is absent from the header.
    case missingColumn(path: String, name: String)
    /// The rows have `found` feature columns where `expected` are needed.
    case wrongWidth(path: String, expected: Int, found: Int)
    /// A label is outside `[0, 1]`.
    case invalidLabel(path: String, line: Int, column: Int, value: Float)
    /// A JSON rows file is not an array of arrays of numbers.
    case badJSON(path: String, reason: String)
    /// The file holds JSON (its first field starts with `[` or `{`) where only CSV is read (`fit`, `train`, a
    /// dataset): a JSON document is never read as a header line.
    case jsonNotCSV(path: String)
    /// The table has a label column and no feature column: no model can be built on zero inputs.
    case noFeatureColumns(path: String, label: String)
    /// The header names column `name` twice, at 1-based columns `first` and `second`: which of the two is meant
    /// (the label, or a feature) would be a guess.
    case duplicateColumn(path: String, name: String, first: Int, second: Int)
    /// The text holds a NUL byte (U+0000) at 1-based `line` and `column` (in characters): no CSV field holds one, and
    /// the parser ends a field at it, so the rest of the field or line vanished silently (`1,2\03` read as two fields).
    case nulCharacter(path: String, line: Int, column: Int)

    /// Refuses a header that names a column twice.
    /// - Throws: ``CSVError/duplicateColumn(path:name:first:second:)`` for the first repeated name.
    public static func checkUniqueNames(_ header: [String], path: String) throws(CSVError) {
        var seen: [String: Int] = [:]
        for (index, name) in header.enumerated() {
            if let first = seen.updateValue(index, forKey: name) {
                throw .duplicateColumn(path: path, name: name, first: first + 1, second: index + 1)
            }
        }
    }

    /// Whether the file does not exist.
    public var isFileNotFound: Bool {
        if case .unreadable(_, "open", 2) = self { return true }
        return false
    }

    /// A one-line explanation naming file, line and column.
    public var description: String {
        switch self {
        case .unreadable(let p, let op, _) where op.hasPrefix("read: "): "\(p): cannot read: \(op.dropFirst("read: ".count))"
        case .unreadable(let p, let op, let e): "\(p): cannot read (\(op)): \(errnoDescription(e))"
        case .notUTF8(let p, let l): "\(p):\(l): not UTF-8 text"
        case .unbalancedQuote(let p, let l):
            "\(p):\(l): unbalanced \": a quoted field is never closed, or a quote stands inside an unquoted field "
                + "(quote the whole field and double the quote: \"io\"\"s\")"
        case .empty(let p): "\(p): no data rows"
        case .raggedRow(let p, let l, let e, let f): "\(p):\(l): row has \(f) fields, expected \(e)"
        case .nonNumeric(let p, let l, let c, let t): "\(p):\(l):\(c): not a number: \"\(Self.visible(t))\""
        case .notFinite(let p, let l, let c, let t):
            // 1e308 is a finite number, but not a 32-bit float's: say which, rather than call it infinite.
            if let value = CSVNumber.double(t), value.isFinite {
                "\(p):\(l):\(c): \"\(t)\" is beyond a 32-bit float's range (±3.4e38), which the model reads"
            } else {
                "\(p):\(l):\(c): not a finite number: \"\(t)\""
            }
        case .underflow(let p, let l, let c, let t):
            "\(p):\(l):\(c): \"\(t)\" is nearer 0 than the smallest 64-bit float, which reads it as 0: write 0, or a number "
                + "a 64-bit float holds"
        case .invalidValue(let p, let l, let c, let n, let t, let r):
            "\(p):\(l): column \(c) '\(Self.visible(n))': '\(Self.visible(t))' \(r)"
        case .missingColumn(let p, let n): "\(p): no \"\(n)\" column in the header"
        case .wrongWidth(let p, let e, let f): "\(p): rows have \(f) feature columns, the model expects \(e)"
        case .invalidLabel(let p, let l, let c, let v): "\(p):\(l):\(c): label \(v) is not in [0, 1]"
        case .badJSON(let p, let r): "\(p): not a JSON array of rows: \(r)"
        case .nulCharacter(let p, let l, let c): "\(p):\(l):\(c): holds a NUL character (U+0000), which no CSV field may hold"
        case .jsonNotCSV(let p):
            "\(p): this is JSON, and this input is read as CSV only (comma-separated fields, one record per line)"
        case .noFeatureColumns(let p, let l):
            "\(p) has no rows or no feature columns: its only column is '\(l)'"
        case .duplicateColumn(let p, let n, let f, let s):
            "\(p): the header names column '\(Self.visible(n))' twice (columns \(f) and \(s)); rename or remove one"
        }
    }
}

extension CSVError {
    /// `text` with its control characters written as Swift escapes (`\n`, `\t`, `\u{1}`): a field quoted in a message
    /// is shown on one line (an id holding a newline broke the message across two, its tab printed raw).
    public static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var shown = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": shown += "\\n"
            case "\r": shown += "\\r"
            case "\t": shown += "\\t"
            case _ where scalar.properties.generalCategory == .control:
                shown += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }
}

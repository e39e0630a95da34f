/// Why a numeric CSV file could not be used. Lines and columns are 1-based.
public enum CSVError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(path: String, operation: String, errno: Int32)
    /// The file has no data rows.
    case empty(path: String)
    /// A row has a different number of fields from the first row.
    case raggedRow(path: String, line: Int, expected: Int, found: Int)
    /// A field is not a number.
    case nonNumeric(path: String, line: Int, column: Int, text: String)
    /// A field is NaN or infinite.
    case notFinite(path: String, line: Int, column: Int, text: String)
    /// A required column is absent from the header.
    case missingColumn(path: String, name: String)
    /// The rows have `found` feature columns where `expected` are needed.
    case wrongWidth(path: String, expected: Int, found: Int)
    /// A label is outside `[0, 1]`.
    case invalidLabel(path: String, line: Int, column: Int, value: Float)

    /// A one-line explanation naming file, line and column.
    public var description: String {
        switch self {
        case .unreadable(let p, let op, let e): "\(p): cannot \(op): \(errnoDescription(e))"
        case .empty(let p): "\(p): no data rows"
        case .raggedRow(let p, let l, let e, let f): "\(p):\(l): row has \(f) fields, expected \(e)"
        case .nonNumeric(let p, let l, let c, let t): "\(p):\(l):\(c): not a number: \"\(t)\""
        case .notFinite(let p, let l, let c, let t): "\(p):\(l):\(c): not a finite number: \"\(t)\""
        case .missingColumn(let p, let n): "\(p): no \"\(n)\" column in the header"
        case .wrongWidth(let p, let e, let f): "\(p): rows have \(f) feature columns, the model expects \(e)"
        case .invalidLabel(let p, let l, let c, let v): "\(p):\(l):\(c): label \(v) is not in [0, 1]"
        }
    }
}

/// A CSV file of finite numbers with an optional header row.
///
/// Fields are separated by commas and trimmed of spaces; there is no quoting. Blank lines are
/// skipped. The first line is a header when ``read(path:headerRequired:)`` is told so, or when
/// any of its fields is not a number.
public struct NumericCSV: Sendable, Equatable {
    /// The path the table was read from (for error messages).
    public var path: String
    /// Column names, when the file had a header.
    public var header: [String]?
    /// The values, `rows × columns`.
    public var table: Matrix
    /// The 1-based file line of each row.
    public var lines: [Int]

    /// Reads and parses a file.
    public static func read(path: String, headerRequired: Bool = false) throws(CSVError) -> NumericCSV {
        switch readWholeFile(path) {
        case .success(let bytes):
            return try parse(String(decoding: bytes, as: UTF8.self), path: path, headerRequired: headerRequired)
        case .failure(let f):
            throw .unreadable(path: path, operation: f.operation, errno: f.errno)
        }
    }

    /// Parses CSV text; `path` only names the source in errors.
    public static func parse(_ text: String, path: String, headerRequired: Bool = false) throws(CSVError) -> NumericCSV {
        var header: [String]? = nil
        var values: [Float] = []
        var lines: [Int] = []
        var width: Int? = nil
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine[...]
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            if header == nil && lines.isEmpty && (headerRequired || fields.contains { Float($0) == nil && !looksNonFinite($0) }) {
                header = fields
                width = fields.count
                continue
            }
            if let w = width, fields.count != w {
                throw .raggedRow(path: path, line: lineNumber, expected: w, found: fields.count)
            }
            width = fields.count
            for (c, f) in fields.enumerated() {
                guard let v = Float(f) else { throw .nonNumeric(path: path, line: lineNumber, column: c + 1, text: f) }
                guard v.isFinite else { throw .notFinite(path: path, line: lineNumber, column: c + 1, text: f) }
                values.append(v)
            }
            lines.append(lineNumber)
        }
        guard !lines.isEmpty, let w = width else { throw .empty(path: path) }
        return NumericCSV(path: path, header: header, table: Matrix(rows: lines.count, cols: w, values: values), lines: lines)
    }

    private static func looksNonFinite(_ s: String) -> Bool {
        ["nan", "inf", "-inf", "+inf", "infinity", "-infinity"].contains(s.lowercased())
    }

    /// Splits off the column named `label` as 0/1 targets; every other column is a feature.
    /// - Throws: ``CSVError/missingColumn(path:name:)`` or ``CSVError/invalidLabel(path:line:column:value:)``.
    public func labeledData(labelColumn: String = "label") throws(CSVError) -> LabeledData {
        guard let header, let li = header.firstIndex(of: labelColumn) else {
            throw .missingColumn(path: path, name: labelColumn)
        }
        let features = (0..<table.cols).filter { $0 != li }
        var x = [Float]()
        x.reserveCapacity(table.rows * features.count)
        var y = [Float]()
        for r in 0..<table.rows {
            for c in features { x.append(table[r, c]) }
            let label = table[r, li]
            guard label >= 0 && label <= 1 else { throw .invalidLabel(path: path, line: lines[r], column: li + 1, value: label) }
            y.append(label)
        }
        return LabeledData(inputs: Matrix(rows: table.rows, cols: features.count, values: x), targets: y)
    }

    /// The feature rows for a model with `width` inputs, dropping a `label` column if the header
    /// has one.
    /// - Throws: ``CSVError/wrongWidth(path:expected:found:)``.
    public func features(width: Int, ignoring labelColumn: String = "label") throws(CSVError) -> Matrix {
        var m = table
        if let header, let li = header.firstIndex(of: labelColumn) {
            m = Matrix(rows: table.rows, cols: table.cols - 1, values: (0..<table.rows).flatMap { r in
                (0..<table.cols).filter { $0 != li }.map { table[r, $0] }
            })
        }
        guard m.cols == width else { throw .wrongWidth(path: path, expected: width, found: m.cols) }
        return m
    }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// A CSV file of finite numbers with an optional header row.
///
/// Records come from ``CSVFile`` (quoting, CRLF, a byte-order mark and blank lines are handled there); fields are
/// trimmed of spaces and may be quoted numbers. The first record is a header when ``read(path:headerRequired:)`` is
/// told so, or when none of its fields is a number.
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
    /// - Throws: a ``CSVError`` naming file, line and column.
    public static func read(path: String, headerRequired: Bool = false) throws(CSVError) -> NumericCSV {
        try interpret(CSVFile.read(path: path), headerRequired: headerRequired)
    }

    /// Parses CSV text; `path` only names the source in errors.
    /// - Throws: a ``CSVError`` naming file, line and column.
    public static func parse(_ text: String, path: String, headerRequired: Bool = false) throws(CSVError) -> NumericCSV
    {
        try interpret(CSVFile.parse(text, path: path), headerRequired: headerRequired)
    }

    /// Parses CSV bytes; `path` only names the source in errors.
    /// - Throws: a ``CSVError`` naming file, line and column.
    public static func parse(_ bytes: [UInt8], path: String, headerRequired: Bool = false) throws(CSVError)
        -> NumericCSV
    {
        try interpret(CSVFile.parse(bytes, path: path), headerRequired: headerRequired)
    }

    /// Reads numbers from parsed records. The first record is the header when `headerRequired`, or when none of its
    /// fields is a number (so a data row with one bad field is an error, never a silently dropped "header").
    /// - Throws: a ``CSVError`` naming file, line and column.
    public static func interpret(_ file: CSVFile, headerRequired: Bool = false) throws(CSVError) -> NumericCSV {
        let path = file.path
        var header: [String]? = nil
        var values: [Float] = []
        var lines: [Int] = []
        var width: Int? = nil
        for (index, record) in file.records.enumerated() {
            let lineNumber = file.lines[index]
            let fields = record.map { $0.trimmingSpaces }
            if index == 0
                && (headerRequired || fields.allSatisfy { CSVNumber.float($0) == nil && !looksNonFinite($0) && !CSVNumber.underflows($0) })
            {
                // A repeated name would make `label` (or a feature) ambiguous: a second `label` column was once read as
                // a feature, leaking the target.
                try CSVError.checkUniqueNames(fields, path: path)
                header = fields
                width = fields.count
                continue
            }
            if let w = width, fields.count != w {
                throw .raggedRow(path: path, line: lineNumber, expected: w, found: fields.count)
            }
            width = fields.count
            for (c, f) in fields.enumerated() {
                guard let v = CSVNumber.float(f) else {
                    if CSVNumber.underflows(f) { throw .underflow(path: path, line: lineNumber, column: c + 1, text: f) }
                    throw .nonNumeric(path: path, line: lineNumber, column: c + 1, text: f)
                }
                guard v.isFinite else { throw .notFinite(path: path, line: lineNumber, column: c + 1, text: f) }
                values.append(v)
            }
            lines.append(lineNumber)
        }
        guard !lines.isEmpty, let w = width else { throw .empty(path: path) }
        return NumericCSV(
            path: path, header: header, table: Matrix(rows: lines.count, cols: w, values: values), lines: lines)
    }

    private static func looksNonFinite(_ s: String) -> Bool {
        ["nan", "inf", "-inf", "+inf", "infinity", "-infinity"].contains(s.lowercased())
    }

    /// Splits off the column named `label` as 0/1 targets; every other column is a feature, and there is at least one.
    /// - Throws: ``CSVError/missingColumn(path:name:)``, ``CSVError/noFeatureColumns(path:label:)`` or
    ///   ``CSVError/invalidLabel(path:line:column:value:)``.
    public func labeledData(labelColumn: String = "label") throws(CSVError) -> LabeledData {
        guard let header, let li = header.firstIndex(of: labelColumn) else {
            throw .missingColumn(path: path, name: labelColumn)
        }
        let features = (0..<table.cols).filter { $0 != li }
        // A model on zero inputs cannot be built (`Dense` traps on a zero width): refuse the file, naming it.
        guard !features.isEmpty else { throw .noFeatureColumns(path: path, label: labelColumn) }
        var x = [Float]()
        x.reserveCapacity(table.rows * features.count)
        var y = [Float]()
        for r in 0..<table.rows {
            for c in features { x.append(table[r, c]) }
            let label = table[r, li]
            guard label >= 0 && label <= 1 else {
                throw .invalidLabel(path: path, line: lines[r], column: li + 1, value: label)
            }
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
            m = Matrix(
                rows: table.rows, cols: table.cols - 1,
                values: (0..<table.rows).flatMap { r in
                    (0..<table.cols).filter { $0 != li }.map { table[r, $0] }
                })
        }
        guard m.cols == width else { throw .wrongWidth(path: path, expected: width, found: m.cols) }
        return m
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// A dense row-major matrix of `Float` features with named columns.
public struct FeatureMatrix: Sendable, Equatable {
    /// Number of rows.
    public private(set) var rows: Int
    /// Number of columns.
    public let columns: Int
    /// Row-major values, `rows * columns` long.
    public private(set) var values: [Float]
    /// One name per column.
    public let columnNames: [String]

    /// Creates a matrix; `values.count` must equal `rows * columnNames.count`.
    public init(rows: Int, columnNames: [String], values: [Float]) {
        precondition(
            values.count == rows * columnNames.count,
            "FeatureMatrix: \(values.count) values for \(rows)x\(columnNames.count)")
        self.rows = rows
        self.columns = columnNames.count
        self.values = values
        self.columnNames = columnNames
    }

    /// The value at a row and column.
    public subscript(row: Int, column: Int) -> Float { values[row * columns + column] }

    /// One row as an array.
    public func row(_ row: Int) -> ArraySlice<Float> { values[(row * columns)..<((row + 1) * columns)] }

    /// The rows at `indices`, in that order.
    public func gather(_ indices: [Int]) -> FeatureMatrix {
        var out: [Float] = []
        out.reserveCapacity(indices.count * columns)
        for index in indices { out.append(contentsOf: row(index)) }
        return FeatureMatrix(rows: indices.count, columnNames: columnNames, values: out)
    }
}

/// Per-row sparse values (compressed sparse rows), used for user-item affinity where about 95% of rows are all zero.
public struct SparseRows: Sendable, Equatable {
    /// `offsets[r]..<offsets[r+1]` indexes row `r`'s entries; `rows + 1` long.
    public private(set) var offsets: [Int]
    /// Column (item) of each stored entry.
    public private(set) var indices: [Int32]
    /// Value of each stored entry (never zero).
    public private(set) var values: [Float]

    /// An empty table with no rows.
    public init() {
        offsets = [0]
        indices = []
        values = []
    }

    /// Number of rows.
    public var rows: Int { offsets.count - 1 }

    /// Appends a row from (column, value) pairs; zeros are dropped.
    public mutating func append<S: Sequence>(_ entries: S) where S.Element == (Int, Float) {
        for (column, value) in entries where value != 0 {
            indices.append(Int32(column))
            values.append(value)
        }
        offsets.append(indices.count)
    }

    /// The stored (column, value) pairs of one row.
    public func entries(_ row: Int) -> [(column: Int, value: Float)] {
        (offsets[row]..<offsets[row + 1]).map { (Int(indices[$0]), values[$0]) }
    }

    /// Whether a row has no nonzero value.
    public func isEmpty(_ row: Int) -> Bool { offsets[row] == offsets[row + 1] }

    /// The value at a row and column (zero when not stored).
    public func value(_ row: Int, _ column: Int) -> Float {
        for k in offsets[row]..<offsets[row + 1] where Int(indices[k]) == column { return values[k] }
        return 0
    }

    /// The rows at `rowIndices`, in that order.
    public func gather(_ rowIndices: [Int]) -> SparseRows {
        var out = SparseRows()
        for row in rowIndices {
            out.append((offsets[row]..<offsets[row + 1]).lazy.map { (Int(self.indices[$0]), self.values[$0]) })
        }
        return out
    }
}

/// Categorical columns stored as codes into per-column sorted vocabularies.
public struct CategoricalColumns: Sendable, Equatable {
    /// Column names, such as `user_feature_0`.
    public let names: [String]
    /// For each column, its categories sorted lexicographically (by Unicode scalars, as Python sorts strings).
    public let categories: [[String]]
    /// Row-major codes, `rows * names.count` long; `codes[r * names.count + c]` indexes `categories[c]`.
    public private(set) var codes: [Int32]

    /// Creates columns from codes.
    public init(names: [String], categories: [[String]], codes: [Int32]) {
        self.names = names
        self.categories = categories
        self.codes = codes
    }

    /// Builds columns from raw string rows, sorting each column's categories.
    public init(names: [String], rows: [[String]]) {
        var vocabularies: [[String]] = []
        var lookups: [[String: Int32]] = []
        for column in names.indices {
            let sorted = Array(Set(rows.map { $0[column] })).sorted(by: CategoricalColumns.precedes)
            vocabularies.append(sorted)
            lookups.append(Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, Int32($0)) }))
        }
        var codes: [Int32] = []
        codes.reserveCapacity(rows.count * names.count)
        for row in rows {
            for column in names.indices { codes.append(lookups[column][row[column]]!) }
        }
        self.init(names: names, categories: vocabularies, codes: codes)
    }

    /// Python's string order: compares Unicode scalar values.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }

    /// Number of rows.
    public var rows: Int { names.isEmpty ? 0 : codes.count / names.count }

    /// The raw string value at a row and column.
    public func value(_ row: Int, _ column: Int) -> String {
        categories[column][Int(codes[row * names.count + column])]
    }

    /// One row as a name → value dictionary (the shape serving receives).
    public func dictionary(_ row: Int) -> [String: String] {
        Dictionary(uniqueKeysWithValues: names.indices.map { (names[$0], value(row, $0)) })
    }

    /// The rows at `indices`, in that order (vocabularies unchanged).
    public func gather(_ indices: [Int]) -> CategoricalColumns {
        var out: [Int32] = []
        out.reserveCapacity(indices.count * names.count)
        for row in indices { out.append(contentsOf: codes[(row * names.count)..<((row + 1) * names.count)]) }
        return CategoricalColumns(names: names, categories: categories, codes: out)
    }

    /// obp's context: `pandas.get_dummies(columns, drop_first=True)` — for each column in order, one indicator
    /// per category in sorted order except the first; a blank value is no category (all 0).
    public func dummiesDroppingFirst() -> FeatureMatrix {
        var names: [String] = []
        var offsets: [Int] = []
        // A blank value is missing (pandas reads an empty field as NaN, which `get_dummies` gives no column and no
        // indicator): no category, so it is neither dropped as the first nor given a column, and its row is all 0.
        let blank = categories.map { $0.firstIndex(of: "") }
        for (column, vocabulary) in categories.enumerated() {
            offsets.append(names.count - 1)
            names.append(contentsOf: vocabulary.filter { !$0.isEmpty }.dropFirst().map { "\(self.names[column])_\($0)" })
        }
        var values = [Float](repeating: 0, count: rows * names.count)
        for row in 0..<rows {
            for column in self.names.indices {
                var code = Int(codes[row * self.names.count + column])
                if let blank = blank[column] {
                    if code == blank { continue }
                    if code > blank { code -= 1 }
                }
                if code > 0 { values[row * names.count + offsets[column] + code] = 1 }
            }
        }
        return FeatureMatrix(rows: rows, columnNames: names, values: values)
    }
}

import GRDB

/// A fetched row read column by column with GRDB's throwing decoders (`Row.decode(_:forColumn:)`), never its
/// subscripts, which trap on a value of the wrong type: whatever a column holds, a read either returns the value
/// or throws ``StoreError/corruptColumn(table:row:column:problem:)`` naming the table, the row and the column.
struct StoredRow {
    /// The row as fetched.
    let row: Row
    /// The table it was read from.
    let table: String
    /// The row's key as the error shows it, such as `id = 'job-1'`.
    let key: String

    /// Wraps `row` of `table`, whose primary key is the columns `keyColumns`.
    init(_ row: Row, table: String, key keyColumns: String...) {
        self.row = row
        self.table = table
        key = keyColumns.map { "\($0) = \(Self.raw(row, $0))" }.joined(separator: ", ")
    }

    /// The value of `column` as `Value` (an optional `Value` for a column that may be NULL).
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` when the stored value is not one.
    func value<Value: DatabaseValueConvertible>(_ column: String, as type: Value.Type = Value.self) throws(StoreError)
        -> Value
    {
        let decoded: Value
        do {
            decoded = try row.decode(Value.self, forColumn: column)
        } catch {
            throw corrupt(column, "\(Self.raw(row, column)) is not \(Self.describe(Value.self))")
        }
        // GRDB reads a REAL as an integer by truncating it (1.9 as version 1) and a number as a Bool by whether it is
        // 0 (5 as true): a value the read would change is not one of `Value`, and another version, count or flag must
        // never be served or shown in its place. An integral REAL (2.0 as 2) reads back equal and is kept.
        if let stored = try? row.decode(DatabaseValue.self, forColumn: column), decoded.databaseValue != stored {
            throw corrupt(column, "\(Self.raw(row, column)) is not \(Self.describe(Value.self)) (reading it as one would change it)")
        }
        return decoded
    }

    /// The value of `column` as a case of `Value`, by its raw name.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a value that names no case.
    func value<Value: RawRepresentable & CaseIterable>(_ column: String, as type: Value.Type = Value.self)
        throws(StoreError) -> Value where Value.RawValue == String
    {
        let name: String = try value(column)
        guard let value = Value(rawValue: name) else {
            let known = Value.allCases.map(\.rawValue).joined(separator: ", ")
            throw corrupt(column, "'\(name)' is not one of \(known)")
        }
        return value
    }

    /// The value of an unsigned column stored as SQLite's signed 64-bit integer (its bit pattern).
    func unsigned(_ column: String) throws(StoreError) -> UInt64 {
        UInt64(bitPattern: try value(column, as: Int64.self))
    }

    /// The value of a column the store writes only as a number from 0 to `Int64.max` (a time in ms since the Unix
    /// epoch, an impression's policy version): a negative one is a damaged row, never read as its bit pattern.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a negative value or one of another type.
    func nonNegative(_ column: String) throws(StoreError) -> UInt64 {
        let stored = try value(column, as: Int64.self)
        guard stored >= 0 else { throw corrupt(column, "\(stored) is negative") }
        return UInt64(stored)
    }

    /// The value of a count column (a round, a step, an epoch, samples, replicas): the store writes only counts from
    /// 0, so a negative one is a damaged row, never shown as "round 1/−5".
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a negative value or one of another type.
    func count(_ column: String) throws(StoreError) -> Int {
        let stored = try value(column, as: Int.self)
        guard stored >= 0 else { throw corrupt(column, "\(stored) is not a count (negative)") }
        return stored
    }

    /// The value of a real column the store writes only finite (a loss, seconds, a time), nil when NULL: an infinite
    /// value (SQLite keeps `1e999` as one) is a damaged row, never shown as absent or as `inf`.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for an infinite value or one of another type.
    func finiteIfPresent(_ column: String) throws(StoreError) -> Double? {
        guard let stored = try value(column, as: Double?.self) else { return nil }
        guard stored.isFinite else { throw corrupt(column, "\(stored) is not a finite number") }
        return stored
    }

    /// ``finiteIfPresent(_:)`` for a column that is never NULL.
    func finite(_ column: String) throws(StoreError) -> Double {
        guard let value = try finiteIfPresent(column) else { throw corrupt(column, "NULL is not a number") }
        return value
    }

    /// The value of a version column (a model, a promotion, a catalogue or a policy version): versions are numbered
    /// from 1 and the store writes nothing else, so a number below 1 is a damaged row, never read as its bit pattern
    /// (a version near 2⁶⁴) or clamped to 0 (no version) and shown or served as if valid.
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for a value below 1 or of another type.
    func version(_ column: String) throws(StoreError) -> UInt64 {
        guard let version = try versionIfPresent(column) else { throw corrupt(column, "NULL is not a version") }
        return version
    }

    /// The value of a version column that may be NULL (see ``version(_:)``).
    func versionIfPresent(_ column: String) throws(StoreError) -> UInt64? {
        guard let stored = try value(column, as: Int64?.self) else { return nil }
        guard stored >= 1 else { throw corrupt(column, Self.notAVersion(stored)) }
        return UInt64(stored)
    }

    /// Why `stored` is not a version number.
    static func notAVersion(_ stored: Int64) -> String { "\(stored) is not a version (they are numbered from 1)" }

    /// The value of a column the store writes only as a SHA-256 in lowercase hex (64 digits: a blob's name, an
    /// uploaded file's hash): anything else is a damaged row, never used as a blob's name (a path such as
    /// `../recpool.lock` was served as a hash and reported as a missing blob with a repair that could not work).
    /// - Throws: ``StoreError/corruptColumn(table:row:column:problem:)`` for another value or one of another type.
    func sha256(_ column: String) throws(StoreError) -> String {
        guard let value = try sha256IfPresent(column) else { throw corrupt(column, "NULL is not a SHA-256") }
        return value
    }

    /// ``sha256(_:)`` for a column that may be NULL.
    func sha256IfPresent(_ column: String) throws(StoreError) -> String? {
        guard let stored = try value(column, as: String?.self) else { return nil }
        guard Self.isSHA256Hex(stored) else {
            throw corrupt(column, "'\(stored.prefix(80))' is not a SHA-256 (64 lowercase hex digits)")
        }
        return stored
    }

    /// ``sha256(_:)`` for a column where "" means none (a round whose state was pruned, a model imported without a
    /// dataset).
    func sha256OrEmpty(_ column: String) throws(StoreError) -> String {
        let stored: String = try value(column)
        return stored.isEmpty ? stored : try sha256(column)
    }

    /// Whether `text` is 64 lowercase hexadecimal digits.
    static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The error for `column` of this row.
    func corrupt(_ column: String, _ problem: String) -> StoreError {
        .corruptColumn(table: table, row: key, column: column, problem: problem)
    }

    /// The stored value as SQLite holds it (`'abc'`, `12`, `NULL`); reading a `DatabaseValue` cannot fail.
    private static func raw(_ row: Row, _ column: String) -> String {
        guard row.hasColumn(column) else { return "(no such column)" }
        return (try? row.decode(DatabaseValue.self, forColumn: column))?.description ?? "?"
    }

    /// `Int64`, or `Int64 or NULL` for an optional.
    private static func describe<Value>(_ type: Value.Type) -> String {
        let name = "\(type)"
        guard name.hasPrefix("Optional<"), name.hasSuffix(">") else { return "a value of type \(name)" }
        return "a value of type \(name.dropFirst(9).dropLast()) or NULL"
    }
}

import Foundation
import RecModel

/// Reads a shop's impression log and item catalogue as a ``BanditDataset``, the roles of their columns given by a
/// ``DataSchema``. The Open Bandit Dataset is the case ``DataSchema/openBanditDataset``, and gives exactly obp
/// 0.5.7's features:
///
/// - rows are sorted by timestamp (numerically when every timestamp is a number, else by the instant each ISO 8601
///   date-time names, its offset applied), ties keeping their file order;
/// - action = the item id; position = dense rank of the slot − 1; reward = the click (or reward); pscore = the
///   propensity;
/// - context = one-hot categorical user features with the first sorted category dropped, then the numeric ones;
/// - action context = label-encoded categorical item features, then the numeric ones, each group in file order;
/// - affinity = the `affinity_prefix` columns, or else, with a `user` column, the user's engagements per item at
///   earlier timestamps (a positive outcome, or a dwell of at least `engagedSeconds`; never one of the row's own
///   timestamp, such as the rest of its slate); a blank user id has no history;
/// - with an `observed` role, a row whose `observed` is 0 (shown, no feedback) is left out before anything else:
///   its outcome is unknown, not a non-click (``BanditDataset/unobservedRows`` counts them);
/// - a blank categorical user feature (empty, or white space only: ``BlankText``) is missing: `FeatureSpec` keeps it
///   out of the vocabulary, so it encodes to the unknown bucket, and the context gives it no column; a blank numeric
///   one is missing too: NaN in ``BanditDataset/userNumericRaw`` (the feature specification scores it as the training
///   mean), its column's mean in the context;
/// - a timestamp is a finite number or an ISO 8601 date-time (``ISO8601Text``), every row the same kind, and every
///   date-time with a zone (`Z`, an offset) or every one without.
///
/// Every column must have a role or be ignored: a column of neither kind throws `DataError.schema` naming it, and a
/// role's missing column throws `DataError.file(.missingColumn)`. A bad field throws `DataError.file` naming the
/// file, line and column. Nothing partial is returned.
public enum LogLoader {
    /// The largest reward a row of a reward log may hold (`outcome = "reward"`): a click, a count or an amount is
    /// far smaller, and sums over a whole log then stay finite and fit an `Int`.
    public static let maximumReward = 1e9

    /// Reads the two files and builds the dataset.
    /// - Parameters:
    ///   - logFile: The impression log CSV.
    ///   - catalogueFile: The catalogue CSV (the schema's `file`, already resolved against the schema's folder).
    ///   - schema: The roles.
    ///   - name: The dataset's label.
    ///   - engagedSeconds: The dwell that makes an earlier view count as engagement (user-history affinity).
    /// - Throws: `DataError`.
    public static func load(
        logFile: String, catalogueFile: String, schema: DataSchema, name: String, engagedSeconds: Double = 10
    ) throws(DataError) -> BanditDataset {
        let catalogue = try CSVTable.read(path: catalogueFile)
        let log = try CSVTable.read(path: logFile)
        return try build(log: log, catalogue: catalogue, schema: schema, name: name, engagedSeconds: engagedSeconds)
    }

    /// Builds the dataset from parsed tables.
    /// - Throws: `DataError`.
    public static func build(
        log: CSVTable, catalogue: CSVTable, schema: DataSchema, name: String, engagedSeconds: Double = 10
    ) throws(DataError) -> BanditDataset {
        let items = try ItemTable(catalogue, schema: schema.catalogue)
        return try LogTable(log, schema: schema.logs, items: items.ids, idTexts: items.idTexts).dataset(
            items: items, name: name, engagedSeconds: engagedSeconds)
    }

    /// Checks that every column of `table` has a role or is ignored, and every named column exists.
    static func checkColumns(
        _ table: CSVTable, named: [String], prefix: String?, ignore: [String], section: String
    ) throws(DataError) {
        var columns: [String: Int] = [:]
        for (index, column) in table.header.enumerated() {
            if let first = columns.updateValue(index, forKey: column) {
                throw .schema(
                    "\(table.path): the header names column '\(column)' twice (columns \(first + 1) and \(index + 1)); "
                        + "rename or remove one")
            }
        }
        let header = Set(table.header)
        // A role's missing column is the CSV reader's own error, naming the file and the column.
        for column in named + ignore where !header.contains(column) {
            _ = try table.column(column)  // names a header column that differs only by spaces around it
            throw .file(.missingColumn(path: table.path, name: column))
        }
        var seen = Set<String>()
        for column in named {
            guard seen.insert(column).inserted else {
                throw .schema("the schema's [\(section)] gives column '\(column)' two roles")
            }
        }
        // Used and ignored at once: which was meant is a guess.
        if let both = ignore.first(where: seen.contains) {
            throw .schema(
                "the schema's [\(section)] gives column '\(both)' a role and lists it in ignore: remove one of the two")
        }
        let known = Set(named + ignore)
        for column in table.header where !known.contains(column) && !(prefix.map(column.hasPrefix) ?? false) {
            throw .schema(
                "\(table.path): column '\(column)' has no role in the schema's [\(section)]; name it as a feature or "
                    + "add it to ignore")
        }
    }
}

extension LogLoader {
    /// An item id field of a catalogue numbered `0..<count`: an integer in that range.
    /// - Throws: `DataError.file(.invalidValue)` saying that the catalogue's item ids are the integers 0…n−1 and
    ///   which rule the field breaks.
    static func itemID(_ table: CSVTable, row: Int, column: Int, count: Int) throws(DataError) -> Int {
        let rule = "the catalogue's item ids are the integers 0..\(count - 1) (n = \(count) catalogue rows; docs/YOUR-DATA.md)"
        let text = table.rows[row][column].trimmingCharacters(in: .whitespaces)
        guard let value = CSVNumber.wholeNumber(text) else {
            if BlankText.isBlank(text) {
                throw table.invalid(row: row, column: column, reason: "\(NumberProblem.blank.description): \(rule)")
            }
            // A huge integral number (`1e20`, twenty digits) is an id out of range, not a non-integer.
            if let huge = CSVNumber.double(text), huge.isFinite, huge.rounded() == huge, abs(huge) >= 1e15 {
                throw table.invalid(row: row, column: column, reason: "is out of range: \(rule)")
            }
            throw table.invalid(row: row, column: column, reason: "is not an integer: \(rule)")
        }
        guard value >= 0 && value < count else {
            throw table.invalid(row: row, column: column, reason: "is out of range: \(rule)")
        }
        return value
    }
}

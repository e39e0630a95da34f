/// Loads Open Bandit Dataset files with obp 0.5.7's `OpenBanditDataset` feature construction.
///
/// - rows are sorted by `timestamp` (stably; pandas' quicksort may swap rows with equal timestamps, which
///   in the sample happens only for two tied rows of `random/men`, both in the test split);
/// - action = `item_id`; position = dense rank of `position` − 1; reward = `click`; pscore = `propensity_score`;
/// - context = `get_dummies(user_feature_0..3, drop_first=True)` with categories sorted lexicographically;
/// - action context = label-encoded `item_feature_1..3`, then continuous `item_feature_0`;
/// - affinity = `user-item_affinity_0..K−1` (past clicks per item), kept sparse.
///
/// Any bad field throws a `DataError` naming the file, line and column; nothing partial is returned.
public enum OBDLoader {
    /// Loads one source from an `obd` directory laid out as `{random,bts}/{all,men,women}/`.
    /// - Throws: `DataError`.
    /// Every file of the published dataset has four of each: `user_feature_0..3` and `item_feature_0..3`.
    /// - Throws: `DataError`, naming a missing or renamed feature column (the context's width would change without a
    ///   word).
    public static func load(_ source: OBDSource, obdDirectory: String) throws(DataError) -> BanditDataset {
        try load(
            dataFile: source.dataFile(in: obdDirectory), itemContextFile: source.itemContextFile(in: obdDirectory),
            name: "obd:\(source)", featureCounts: (user: publishedFeatureCount, item: publishedFeatureCount))
    }

    /// How many `user_feature_*` and `item_feature_*` columns each file of the published Open Bandit Dataset has.
    public static let publishedFeatureCount = 4

    /// Loads a logged-data CSV and its item-context CSV in OBD's layout: ``LogLoader`` with
    /// ``DataSchema/openBanditDataset(logHeader:catalogueHeader:)`` for their headers.
    ///
    /// The feature columns are numbered as OBD numbers them: `user_feature_0` to `user_feature_{n−1}` and
    /// `item_feature_0` to `item_feature_{m−1}`, each number once and none left out (``numberedColumns(_:in:path:expected:)``).
    /// - Parameter featureCounts: How many user and item feature columns the files must have (`nil`: any number from 1).
    /// - Throws: `DataError`: `.file(.missingColumn)` for a feature column left out of the numbering or renamed,
    ///   `.inconsistent` for a feature column whose number is not a plain decimal or is beyond `featureCounts`.
    public static func load(
        dataFile: String, itemContextFile: String, name: String, featureCounts: (user: Int, item: Int)? = nil
    ) throws(DataError) -> BanditDataset {
        let items = try CSVTable.read(path: itemContextFile)
        let table = try CSVTable.read(path: dataFile)
        let schema = try schema(log: table, catalogue: items, featureCounts: featureCounts)
        return try LogLoader.build(log: table, catalogue: items, schema: schema, name: name)
    }

    /// The schema of a log and its catalogue in OBD's layout
    /// (``DataSchema/openBanditDataset(logHeader:catalogueHeader:)``), once their feature columns are checked.
    /// - Parameter featureCounts: How many user and item feature columns the files must have (`nil`: any number from 1).
    /// - Throws: as ``numberedColumns(_:in:path:expected:)``.
    public static func schema(log: CSVTable, catalogue: CSVTable, featureCounts: (user: Int, item: Int)? = nil)
        throws(DataError) -> DataSchema
    {
        _ = try numberedColumns("user_feature_", in: log.header, path: log.path, expected: featureCounts?.user)
        _ = try numberedColumns("item_feature_", in: catalogue.header, path: catalogue.path, expected: featureCounts?.item)
        return DataSchema.openBanditDataset(logHeader: log.header, catalogueHeader: catalogue.header)
    }

    /// The columns of `header` named `prefix` and a number, checked against OBD's numbering: `prefix0` to
    /// `prefix{n−1}`, every number once, written as a plain decimal (`user_feature_2`, not `user_feature_02` or
    /// `user_feature_x`), and with `expected`, exactly `expected` of them. A column left out or renamed otherwise goes
    /// unnoticed: the context loses its columns and every model fitted on it reads a narrower input.
    /// - Returns: The column names in numeric order.
    /// - Throws: `DataError.file(.missingColumn)` naming the first number absent; `DataError.inconsistent` naming a
    ///   column whose suffix is not a plain decimal, or whose number is `expected` or above.
    public static func numberedColumns(_ prefix: String, in header: [String], path: String, expected: Int?)
        throws(DataError) -> [String]
    {
        var numbers: [Int] = []
        for name in header where name.hasPrefix(prefix) {
            let suffix = name.dropFirst(prefix.count)
            guard let number = Int(suffix), number >= 0, String(number) == suffix else {
                throw .inconsistent(
                    "\(path): column '\(name)' is not numbered as the Open Bandit Dataset's are (\(prefix)0, \(prefix)1, …); "
                        + "a log with its own column names is read with --schema (docs/YOUR-DATA.md)")
            }
            if let expected, number >= expected {
                throw .inconsistent(
                    "\(path): column '\(name)' is beyond the Open Bandit Dataset's \(expected) columns \(prefix)0 to "
                        + "\(prefix)\(expected - 1)")
            }
            numbers.append(number)
        }
        let present = Set(numbers)
        let count = max(expected ?? 1, (numbers.max() ?? -1) + 1)
        if let absent = (0..<count).first(where: { !present.contains($0) }) {
            throw .file(.missingColumn(path: path, name: "\(prefix)\(absent)"))
        }
        return (0..<count).map { "\(prefix)\($0)" }
    }
}

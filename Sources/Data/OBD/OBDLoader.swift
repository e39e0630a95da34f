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
    public static func load(_ source: OBDSource, obdDirectory: String) throws(DataError) -> BanditDataset {
        try load(
            dataFile: source.dataFile(in: obdDirectory), itemContextFile: source.itemContextFile(in: obdDirectory),
            name: "obd:\(source)")
    }

    /// Loads a logged-data CSV and its item-context CSV in OBD's layout: ``LogLoader`` with
    /// ``DataSchema/openBanditDataset(logHeader:catalogueHeader:)`` for their headers.
    /// - Throws: `DataError`.
    public static func load(dataFile: String, itemContextFile: String, name: String) throws(DataError) -> BanditDataset
    {
        let items = try CSVTable.read(path: itemContextFile)
        let table = try CSVTable.read(path: dataFile)
        guard table.header.contains(where: { $0.hasPrefix("user_feature_") }) else {
            throw .file(.missingColumn(path: table.path, name: "user_feature_0"))
        }
        guard items.header.contains("item_feature_0") else {
            throw .file(.missingColumn(path: items.path, name: "item_feature_0"))
        }
        let schema = DataSchema.openBanditDataset(logHeader: table.header, catalogueHeader: items.header)
        return try LogLoader.build(log: table, catalogue: items, schema: schema, name: name)
    }
}

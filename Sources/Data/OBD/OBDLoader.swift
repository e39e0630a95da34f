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

    /// Loads a logged-data CSV and its item-context CSV.
    /// - Throws: `DataError`.
    public static func load(dataFile: String, itemContextFile: String, name: String) throws(DataError) -> BanditDataset
    {
        let items = try CSVTable.read(path: itemContextFile)
        let actionContext = try parseItemContext(items)
        let nActions = actionContext.rows
        let table = try CSVTable.read(path: dataFile)
        return try parseLog(table, nActions: nActions, actionContext: actionContext, name: name)
    }

    /// obp's action context from `item_context.csv`, one row per item id `0..<n`.
    static func parseItemContext(_ table: CSVTable) throws(DataError) -> FeatureMatrix {
        let idColumn = try table.column("item_id")
        let continuous = try table.column("item_feature_0")
        let categorical = table.header.indices.filter {
            $0 != idColumn && $0 != continuous && table.header[$0].hasPrefix("item_feature_")
        }
        guard !table.rows.isEmpty else { throw .inconsistent("\(table.path): no items") }
        var order = [Int?](repeating: nil, count: table.rows.count)
        for row in table.rows.indices {
            let id = try table.integer(row: row, column: idColumn)
            guard id >= 0 && id < table.rows.count, order[id] == nil else {
                throw table.invalid(
                    row: row, column: idColumn, reason: "is not a unique item id in 0..<\(table.rows.count)")
            }
            order[id] = row
        }
        let rowOfItem = order.map { $0! }
        let codes = CategoricalColumns(
            names: categorical.map { table.header[$0] },
            rows: rowOfItem.map { r in categorical.map { table.rows[r][$0] } })
        var values: [Float] = []
        for item in rowOfItem.indices {
            for column in categorical.indices { values.append(Float(codes.codes[item * categorical.count + column])) }
            values.append(Float(try table.double(row: rowOfItem[item], column: continuous)))
        }
        return FeatureMatrix(rows: rowOfItem.count, columnNames: codes.names + ["item_feature_0"], values: values)
    }

    static func parseLog(_ table: CSVTable, nActions: Int, actionContext: FeatureMatrix, name: String) throws(DataError)
        -> BanditDataset
    {
        let timestamp = try table.column("timestamp")
        let itemColumn = try table.column("item_id")
        let positionColumn = try table.column("position")
        let clickColumn = try table.column("click")
        let pscoreColumn = try table.column("propensity_score")
        let userColumns = table.header.indices.filter { table.header[$0].contains("user_feature") }
        guard !userColumns.isEmpty else { throw .file(.missingColumn(path: table.path, name: "user_feature_0")) }
        var affinityColumns: [Int] = []
        for item in 0..<nActions { affinityColumns.append(try table.column("user-item_affinity_\(item)")) }
        guard !table.rows.isEmpty else { throw .inconsistent("\(table.path): no rows") }

        let order = table.rows.indices.sorted {
            let (a, b) = (table.rows[$0][timestamp], table.rows[$1][timestamp])
            return a == b ? $0 < $1 : CategoricalColumns.precedes(a, b)
        }
        var action: [Int] = []
        var rawPosition: [Int] = []
        var reward: [Double] = []
        var pscore: [Double] = []
        var affinity = SparseRows()
        for row in order {
            let item = try table.integer(row: row, column: itemColumn)
            guard item >= 0 && item < nActions else {
                throw table.invalid(row: row, column: itemColumn, reason: "is not an item id in 0..<\(nActions)")
            }
            let click = try table.integer(row: row, column: clickColumn)
            guard click == 0 || click == 1 else {
                throw table.invalid(row: row, column: clickColumn, reason: "is not 0 or 1")
            }
            let propensity = try table.double(row: row, column: pscoreColumn)
            guard propensity > 0 && propensity <= 1 else {
                throw table.invalid(row: row, column: pscoreColumn, reason: "is not a probability in (0, 1]")
            }
            guard propensity >= BanditDataset.minimumPropensity else {
                throw table.invalid(
                    row: row, column: pscoreColumn,
                    reason:
                        "is below the smallest usable propensity \(BanditDataset.minimumPropensity) (its importance weight would overflow)"
                )
            }
            action.append(item)
            rawPosition.append(try table.integer(row: row, column: positionColumn))
            reward.append(Double(click))
            pscore.append(propensity)
            var entries: [(Int, Float)] = []
            for (item, column) in affinityColumns.enumerated() {
                let value = try table.double(row: row, column: column)
                if value != 0 { entries.append((item, Float(value))) }
            }
            affinity.append(entries)
        }
        let ranks = Dictionary(uniqueKeysWithValues: Set(rawPosition).sorted().enumerated().map { ($1, $0) })
        let position = rawPosition.map { ranks[$0]! }
        let users = CategoricalColumns(
            names: userColumns.map { table.header[$0] }, rows: order.map { r in userColumns.map { table.rows[r][$0] } })
        return BanditDataset(
            name: name, nActions: nActions, nPositions: ranks.count, action: action, position: position,
            reward: reward, pscore: pscore, userFeatures: users, context: users.dummiesDroppingFirst(),
            actionContext: actionContext, affinity: affinity)
    }
}

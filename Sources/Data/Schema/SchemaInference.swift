import Foundation

/// Drafts a ``DataSchema`` from a log's and a catalogue's columns, for a person to review
/// (`recpool data schema --infer FILE`).
///
/// Roles are recognised by name (`timestamp`/`time`/`date`, `item_id`/`item`, `position`/`slot`/`rank`,
/// `click`/`clicked`, `reward`, `propensity_score`/`propensity`/`pscore`, `dwell*`, `session*`, `user_id`/`user`), an
/// unnamed index column is ignored, OBD's `user-item_affinity_K` columns are the history, and every other column is a
/// feature: numeric when every value is a number with more than 10 distinct values, else categorical.
public enum SchemaInference {
    /// Drafts a schema.
    /// - Parameters:
    ///   - log: The impression log.
    ///   - catalogue: The catalogue.
    ///   - catalogueFile: The catalogue's path as the schema should name it.
    /// - Throws: `DataError.schema` naming each required role no column was recognised for.
    public static func infer(log: CSVTable, catalogue: CSVTable, catalogueFile: String) throws(DataError)
        -> DataSchema
    {
        var rest = log.header
        func take(_ candidates: [String]) -> String? {
            for candidate in candidates {
                if let i = rest.firstIndex(where: { $0.lowercased() == candidate }) { return rest.remove(at: i) }
            }
            return nil
        }
        func takePrefix(_ prefix: String) -> String? {
            guard let i = rest.firstIndex(where: { $0.lowercased().hasPrefix(prefix) }) else { return nil }
            return rest.remove(at: i)
        }
        let timestamp = take(["timestamp", "time", "date", "datetime", "ts"])
        let item = take(["item_id", "item", "itemid", "product_id"])
        let position = take(["position", "slot", "rank", "pos"])
        let click = take(["click", "clicked", "clicks"])
        let reward = click == nil ? take(["reward", "revenue"]) : nil
        let propensity = take(["propensity_score", "propensity", "pscore"])
        let dwell = takePrefix("dwell")
        let session = takePrefix("session")
        let user = take(["user_id", "user", "userid", "customer_id"])
        var missing: [String] = []
        for (role, column) in [
            ("timestamp", timestamp), ("item", item), ("position", position), ("click or reward", click ?? reward),
            ("propensity", propensity),
        ] where column == nil { missing.append(role) }
        guard missing.isEmpty else {
            throw .schema(
                "\(log.path): no column recognised as \(missing.joined(separator: ", ")); write the schema by hand "
                    + "(docs/YOUR-DATA.md)")
        }
        let affinityPrefix = "user-item_affinity_"
        let hasAffinity = rest.contains { $0.hasPrefix(affinityPrefix) }
        rest.removeAll { $0.hasPrefix(affinityPrefix) }
        let ignoredLog = rest.filter(isIndexColumn)
        rest.removeAll(where: isIndexColumn)
        var catalogueRest = catalogue.header
        guard let idIndex = catalogueRest.firstIndex(where: { ["item_id", "item", "id"].contains($0.lowercased()) })
        else { throw .schema("\(catalogue.path): no column recognised as the item id (item_id, item or id)") }
        let catalogueItem = catalogueRest.remove(at: idIndex)
        let ignoredCatalogue = catalogueRest.filter(isIndexColumn)
        catalogueRest.removeAll(where: isIndexColumn)
        return DataSchema(
            logs: .init(
                timestamp: timestamp!, item: item!, position: position!, outcome: (click ?? reward)!,
                isReward: click == nil, propensity: propensity!, dwell: dwell, session: session, user: user,
                affinityPrefix: hasAffinity ? affinityPrefix : nil,
                userFeatures: rest.map { DataSchema.Feature($0, kind(of: $0, in: log)) }, ignore: ignoredLog),
            catalogue: .init(
                file: catalogueFile, item: catalogueItem,
                itemFeatures: catalogueRest.map { DataSchema.Feature($0, kind(of: $0, in: catalogue)) },
                ignore: ignoredCatalogue))
    }

    static func isIndexColumn(_ name: String) -> Bool { name.isEmpty || name.hasPrefix("Unnamed:") }

    /// Numeric when every value parses as a finite number and there are more than 10 distinct values.
    static func kind(of column: String, in table: CSVTable) -> DataSchema.FeatureKind {
        guard let index = table.header.firstIndex(of: column) else { return .categorical }
        var distinct = Set<String>()
        for row in table.rows {
            guard let value = Double(row[index]), value.isFinite else { return .categorical }
            distinct.insert(row[index])
        }
        return distinct.count > 10 ? .numeric : .categorical
    }
}

extension DataSchema {
    /// The Open Bandit Dataset's layout as a schema (obp 0.5.7's `OpenBanditDataset`), for files with these
    /// headers: the unnamed index column is ignored, every `user_feature_*` column is categorical,
    /// `user-item_affinity_K` is the user's past clicks on item K; in the catalogue (`item_context.csv` beside the
    /// log), `item_feature_0` is numeric and every other `item_feature_*` is categorical.
    /// - Parameters:
    ///   - logHeader: The log's header (`nil`: OBD's four user features).
    ///   - catalogueHeader: The catalogue's header (`nil`: OBD's four item features).
    public static func openBanditDataset(logHeader: [String]? = nil, catalogueHeader: [String]? = nil) -> DataSchema {
        let userColumns = logHeader?.filter { $0.hasPrefix("user_feature_") } ?? (0..<4).map { "user_feature_\($0)" }
        let itemColumns =
            catalogueHeader?.filter { $0.hasPrefix("item_feature_") } ?? (0..<4).map { "item_feature_\($0)" }
        return DataSchema(
            logs: Logs(
                timestamp: "timestamp", item: "item_id", position: "position", outcome: "click",
                propensity: "propensity_score", affinityPrefix: "user-item_affinity_",
                userFeatures: userColumns.map { Feature($0, .categorical) },
                ignore: (logHeader ?? [""]).contains("") ? [""] : []),
            catalogue: Catalogue(
                file: "item_context.csv", item: "item_id",
                itemFeatures: itemColumns.map { Feature($0, $0 == "item_feature_0" ? .numeric : .categorical) },
                ignore: (catalogueHeader ?? [""]).contains("") ? [""] : []))
    }

    /// Whether a log header has the Open Bandit Dataset's columns: its roles and `user_feature_*` columns; with
    /// `exactly`, also no column outside that layout.
    public static func looksLikeOpenBanditDataset(_ header: [String], exactly: Bool = false) -> Bool {
        let roles = Set(openBanditDataset().logs.roles.map(\.column))
        guard roles.isSubset(of: Set(header)) && header.contains(where: { $0.hasPrefix("user_feature_") }) else {
            return false
        }
        return !exactly
            || header.allSatisfy {
                roles.contains($0) || $0.isEmpty || $0.hasPrefix("user_feature_") || $0.hasPrefix("user-item_affinity_")
            }
    }
}

/// The `shop.toml` of the small shop logs these tests write: `log.csv` (timestamp, item_id, position, click,
/// propensity_score and one user feature `u`) over `items.csv` (item_id and one item feature).
enum ShopLogSchema {
    /// The schema, its one item feature `item_feature_0` of `kind` (`numeric` or `categorical`).
    static func toml(itemFeature kind: String) -> String {
        """
        [logs]
        timestamp = "timestamp"
        item = "item_id"
        position = "position"
        click = "click"
        propensity = "propensity_score"

        [logs.user_features]
        u = "categorical"

        [catalogue]
        file = "items.csv"
        item = "item_id"

        [catalogue.item_features]
        item_feature_0 = "\(kind)"
        """
    }
}

/// The graph of the version-3 columns (``FeatureSpec/ItemIdEncoding/hashed``) that are not per-item lookups: the
/// user × item crosses and the pooled history. Each is the same arithmetic as `writeHashed`, on tables fitted into
/// the graph as constants.
extension FeatureSpec {
    /// The cross blocks, in column order: per user feature and item category column, the one-hot of
    /// `code_f · K_c + itemCode_c` over `(V_f + 1) · K_c`; then the user × item-id buckets, the sum over features of
    /// the one-hot of the bucket looked up at `code_f · itemCount + item` in a fitted table.
    /// - Parameter userCodes: each user feature's code, int64 `[batch]` (unknown = vocabulary size).
    func crossBlocks(_ g: inout ONNXGraph, userCodes: [String]) -> (names: [String], width: Int) {
        var names: [String] = []
        var width = 0
        for (f, vocabulary) in userVocabularies.enumerated() {
            for (c, cardinality) in itemCategoryCardinalities.enumerated() {
                let itemCodes = g.constant(
                    "item_codes_\(c)", dims: [itemCount], ints: (0..<itemCount).map { Int64(itemCategoryCodes[$0][c]) })
                let itemCode = g.node("Gather", [itemCodes, "item"], [.int("axis", 0)])
                let scaled = g.node(
                    "Mul", [userCodes[f], g.constant("k\(cardinality)", dims: [], ints: [Int64(cardinality)])])
                let n = (vocabulary.count + 1) * cardinality
                names.append(g.node("Gather", [identity(&g, n), g.node("Add", [scaled, itemCode])], [.int("axis", 0)]))
                width += n
            }
        }
        guard let buckets = crossBuckets, buckets > 0, !userVocabularies.isEmpty else { return (names, width) }
        let perFeature = userVocabularies.enumerated().map { f, vocabulary in
            var table: [Int64] = []
            for code in 0...vocabulary.count {
                table += (0..<itemCount).map { Int64(crossBucket(feature: f, code: code, item: $0)) }
            }
            let tableName = g.constant("cross_buckets_\(f)", dims: [table.count], ints: table)
            let row = g.node("Mul", [userCodes[f], g.constant("n_items", dims: [], ints: [Int64(itemCount)])])
            let bucket = g.node("Gather", [tableName, g.node("Add", [row, "item"])], [.int("axis", 0)])
            return g.node("Gather", [identity(&g, buckets), bucket], [.int("axis", 0)])
        }
        names.append(perFeature.count == 1 ? perFeature[0] : g.node("Sum", perFeature))
        return (names, width + buckets)
    }

    /// The pooled history `e · R / max(Σ e, tiny)`, `[batch, pooledWidth]`, with `R` the items' representations
    /// (`itemRepresentation`) and `e` the engagement vector; 0 without history.
    func pooledHistory(_ g: inout ONNXGraph, _ engagement: String) -> String {
        let table = (0..<itemCount).flatMap { itemRepresentation($0) }
        let representations = g.constant("item_representations", dims: [itemCount, pooledWidth], floats: table)
        let sum = g.node("MatMul", [engagement, representations])
        let total = g.node(
            "ReduceSum", [engagement, g.constant("axis1", dims: [1], ints: [1])], [.int("keepdims", 1)])
        return g.node("Div", [sum, g.node("Max", [total, g.constant("tiny", dims: [], floats: [1e-30])])])
    }
}

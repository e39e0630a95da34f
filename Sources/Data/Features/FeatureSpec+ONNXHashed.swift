/// The graph of the version-3 columns (``FeatureSpec/ItemIdEncoding/hashed``) that are not per-item lookups: the
/// user × item crosses and the pooled history. Each is the same arithmetic as `writeHashed`, on tables fitted into
/// the graph as constants.
extension FeatureSpec {
    /// The cross block, `[batch, crossBuckets]`: the sum of the one-hots of every cross's bucket, each looked up in
    /// a fitted table: per user feature, `table[code_f · itemCount + item]`; per user feature and item category
    /// column, `table[code_f · K_c + itemCode_c]`. Empty when the spec has no cross buckets.
    /// - Parameter userCodes: each user feature's code, int64 `[batch]` (unknown = vocabulary size).
    func crossBlocks(_ g: inout ONNXGraph, userCodes: [String]) -> (names: [String], width: Int) {
        guard let buckets = crossBuckets, buckets > 0, !userVocabularies.isEmpty else { return ([], 0) }
        func lookup(_ g: inout ONNXGraph, table: [Int64], code: String, stride: Int, index: String) -> String {
            let tableName = g.constant("cross_buckets", dims: [table.count], ints: table)
            let row = g.node("Mul", [code, g.constant("stride\(stride)", dims: [], ints: [Int64(stride)])])
            let bucket = g.node("Gather", [tableName, g.node("Add", [row, index])], [.int("axis", 0)])
            return oneHot(&g, bucket, depth: buckets)
        }
        var oneHots: [String] = []
        for (f, vocabulary) in userVocabularies.enumerated() {
            let byItem = (0...vocabulary.count).flatMap { code in
                (0..<itemCount).map { Int64(crossBucket(feature: f, code: code, item: $0)) }
            }
            oneHots.append(lookup(&g, table: byItem, code: userCodes[f], stride: itemCount, index: "item"))
            for (c, cardinality) in itemCategoryCardinalities.enumerated() {
                let itemCodes = g.constant(
                    "item_codes", dims: [itemCount], ints: (0..<itemCount).map { Int64(itemCategoryCodes[$0][c]) })
                let itemCode = g.node("Gather", [itemCodes, "item"], [.int("axis", 0)])
                let byCode = (0...vocabulary.count).flatMap { code in
                    (0..<cardinality).map {
                        Int64(crossBucket(feature: f, code: code, column: c, itemCode: $0))
                    }
                }
                oneHots.append(lookup(&g, table: byCode, code: userCodes[f], stride: cardinality, index: itemCode))
            }
        }
        return ([oneHots.count == 1 ? oneHots[0] : g.node("Sum", oneHots)], buckets)
    }

    /// The version-4 cross-rate block, `[batch, F + 1]`: per user feature, its z-scored lift looked up in a table
    /// fitted into the graph, `table[code_f · itemCount + item]` (`crossRateValues` of every pair, unseen pairs
    /// included), then the item's z-scored rate, `table[item]`. Empty without cross rates.
    /// - Parameter userCodes: each user feature's code, int64 `[batch]` (unknown = vocabulary size).
    func crossRateBlock(_ g: inout ONNXGraph, userCodes: [String]) -> (names: [String], width: Int) {
        guard hasCrossRates else { return ([], 0) }
        let axis1 = g.constant("axis1", dims: [1], ints: [1])
        var columns: [String] = []
        for (f, vocabulary) in userVocabularies.enumerated() {
            var table: [Float] = []
            table.reserveCapacity((vocabulary.count + 1) * itemCount)
            for code in 0...vocabulary.count {
                for item in 0..<itemCount {
                    var codes = [Int](repeating: 0, count: userVocabularies.count)
                    codes[f] = code
                    table.append(crossRateValues(codes: codes, item: item)[f])
                }
            }
            let lifts = g.constant("cross_rates", dims: [table.count], floats: table)
            let row = g.node("Mul", [userCodes[f], g.constant("stride\(itemCount)", dims: [], ints: [Int64(itemCount)])])
            let value = g.node("Gather", [lifts, g.node("Add", [row, "item"])], [.int("axis", 0)])
            columns.append(g.node("Unsqueeze", [value, axis1]))
        }
        let rates = (0..<itemCount).map { item in
            crossRateValues(codes: [Int](repeating: 0, count: userVocabularies.count), item: item).last ?? 0
        }
        let itemRates = g.constant("item_rates", dims: [itemCount], floats: rates)
        columns.append(g.node("Unsqueeze", [g.node("Gather", [itemRates, "item"], [.int("axis", 0)]), axis1]))
        return ([g.node("Concat", columns, [.int("axis", 1)])], columns.count)
    }

    /// The pooled history `e · R / max(Σ e, tiny)`, `[batch, pooledWidth]`, with `R` the items' representations
    /// (`itemRepresentation`) and `e` the engagement vector, summed per event (`Σ_v w_v R[item_v]`) from the event
    /// weights `w`; 0 without history.
    func pooledHistory(_ g: inout ONNXGraph, _ weights: String) -> String {
        let table = (0..<itemCount).flatMap { itemRepresentation($0) }
        let representations = g.constant("item_representations", dims: [itemCount, pooledWidth], floats: table)
        let viewed = g.node("Gather", [representations, Self.eventItem], [.int("axis", 0)])
        let weighted = g.node("Mul", [viewed, g.node("Unsqueeze", [weights, g.constant("axis2", dims: [1], ints: [2])])])
        let axis1 = g.constant("axis1", dims: [1], ints: [1])
        let sum = g.node("ReduceSum", [weighted, axis1], [.int("keepdims", 0)])
        let total = g.node("ReduceSum", [weights, axis1], [.int("keepdims", 1)])
        return g.node("Div", [sum, g.node("Max", [total, g.constant("tiny", dims: [], floats: [1e-30])])])
    }
}

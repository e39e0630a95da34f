import RecModel

/// An ONNX model that scores **raw context**: the spec's feature transform followed by the MLP, so that onnxruntime
/// (or any ONNX runtime with the `ai.onnx.ml` domain) gives the same score as `Recommender`, with no re-implementation
/// of the transform outside RecPool.
///
/// Inputs (batch = candidate rows):
/// - `user_features`: string `[batch, F]`, the raw values of `userFeatureNames` in that order; a value never seen in
///   training (or `""` for a missing one) falls into the unknown bucket (`LabelEncoder`, ai.onnx.ml);
/// - `item`: int64 `[batch]`, the candidate item id;
/// - `position`: int64 `[batch]`, the slot (`Recommender` uses 0), clipped to the known slots;
/// - `event_item`, `event_seconds`: int64 and float `[batch, V]`, the user's views (pad with seconds 0: a view shorter
///   than `engagedSeconds` counts nothing).
///
/// Output `score`, float `[batch, 1]`: the click probability, with `Recommender`'s rule that a view never lowers its
/// own item's score (for the `interest` encoding, the larger of the scores with and without the events, computed by
/// running the MLP on both halves of one batch). Opsets: ONNX 13 and ai.onnx.ml 2; IR version 8.
extension FeatureSpec {
    /// The serialised `ModelProto` of the transform and `network`.
    /// - Throws: `ONNXExportError` when the network's activations have no ONNX node, or its input width is not
    ///   the spec's.
    public func onnxModel(network: MLP, producer: String = "recpool") throws(ONNXExportError) -> [UInt8] {
        try ONNXExport.checkExportable(network)
        guard network.inputWidth == width else { throw .widthMismatch(spec: width, model: network.inputWidth) }
        var g = ONNXGraph()
        if !userFeatureNames.isEmpty { g.input("user_features", .string, [userFeatureNames.count]) }
        g.input("item", .int64, [])
        g.input("position", .int64, [])
        g.input("event_item", .int64, [nil])
        g.input("event_seconds", .float, [nil])

        var blocks = userBlocks(&g)
        blocks.append(g.node("Gather", ["\(itemTable(&g))", "item"], [.int("axis", 0)]))
        guard featureSet == .extended else {
            g.mlp(network, input: g.node("Concat", blocks, [.int("axis", 1)]), output: "score")
            return finish(&g, producer: producer)
        }
        let last = g.constant("last_position", dims: [], ints: [Int64(positionCount - 1)])
        let clipped = g.node("Clip", ["position", g.constant("zero", dims: [], ints: [0]), last])
        blocks.append(g.node("Gather", [identity(&g, positionCount), clipped], [.int("axis", 0)]))
        let engagement = engagementVector(&g)
        let withEvents = g.node("Concat", blocks + [eventBlock(&g, engagement)], [.int("axis", 1)])
        guard events == .interest else {
            g.mlp(network, input: withEvents, output: "score")
            return finish(&g, producer: producer)
        }
        let none = g.node("Mul", [engagement, g.constant("zero_f", dims: [], floats: [0])])
        let withoutEvents = g.node("Concat", blocks + [eventBlock(&g, none)], [.int("axis", 1)])
        let stacked = g.node("Concat", [withEvents, withoutEvents], [.int("axis", 0)])
        let scores = g.name("scores")
        g.mlp(network, input: stacked, output: scores)
        let batch = g.node("Shape", ["item"])
        let axis0 = g.constant("axis0", dims: [1], ints: [0])
        let a = g.node("Slice", [scores, g.constant("start", dims: [1], ints: [0]), batch, axis0])
        let b = g.node("Slice", [scores, batch, g.constant("end", dims: [1], ints: [Int64.max]), axis0])
        let viewed = g.node(
            "Greater", [ownEngagement(&g, engagement), g.constant("zero_f", dims: [], floats: [0])])
        g.node("Where", [viewed, g.node("Max", [a, b]), a], output: "score")
        return finish(&g, producer: producer)
    }

    private func finish(_ g: inout ONNXGraph, producer: String) -> [UInt8] {
        g.named("recpool_raw_context")
        g.output("score", width: 1)
        var model = ProtobufWriter()
        model.int(1, 8)  // ir_version
        model.string(2, producer)
        model.bytes(7, g.writer.bytes)
        for (domain, version) in [("", Int64(13)), ("ai.onnx.ml", 2)] {
            model.message(8) { opset in
                opset.string(1, domain)
                opset.int(2, version)
            }
        }
        return model.bytes
    }

    /// One-hot of each user feature with its unknown bucket: `LabelEncoder` then a row of an identity matrix.
    private func userBlocks(_ g: inout ONNXGraph) -> [String] {
        userVocabularies.enumerated().map { f, vocabulary in
            let column = g.node(
                "Gather", ["user_features", g.constant("feature", dims: [], ints: [Int64(f)])], [.int("axis", 1)])
            let keys = vocabulary.isEmpty ? ["\u{0}"] : vocabulary
            let code = g.node(
                "LabelEncoder", [column], domain: "ai.onnx.ml",
                [
                    .strings("keys_strings", keys), .ints("values_int64s", keys.indices.map { Int64($0) }),
                    .int("default_int64", Int64(vocabulary.count)),
                ])
            return g.node("Gather", [identity(&g, vocabulary.count + 1), code], [.int("axis", 0)])
        }
    }

    /// Per item, its encoded item columns (category one-hots, scaled continuous feature, and the item one-hot in
    /// the extended set), `[itemCount, columns]`.
    private func itemTable(_ g: inout ONNXGraph) -> String {
        var table: [Float] = []
        var columns = 0
        for item in 0..<itemCount {
            var row: [Float] = []
            for (c, cardinality) in itemCategoryCardinalities.enumerated() {
                var block = [Float](repeating: 0, count: cardinality)
                let code = itemCategoryCodes[item][c]
                if code >= 0 && code < cardinality { block[code] = 1 }
                row += block
            }
            row.append(itemContinuousScaling.apply(itemContinuous[item]))
            if featureSet == .extended {
                var oneHot = [Float](repeating: 0, count: itemCount)
                oneHot[item] = 1
                row += oneHot
            }
            columns = row.count
            table += row
        }
        return g.constant("item_table", dims: [itemCount, columns], floats: table)
    }

    private func identity(_ g: inout ONNXGraph, _ n: Int) -> String {
        var values = [Float](repeating: 0, count: n * n)
        for i in 0..<n { values[i * n + i] = 1 }
        return g.constant("eye\(n)", dims: [n, n], floats: values)
    }

    /// `e[batch, itemCount]`: each view of at least `engagedSeconds` adds `min(seconds / engagedSeconds, 3)` (the
    /// `interest` encoding) or 1 (the old one) to its item, as `affinity(from:)`.
    private func engagementVector(_ g: inout ONNXGraph) -> String {
        let threshold = g.constant("engaged_seconds", dims: [], floats: [Float(engagedSeconds)])
        let engaged = g.node("GreaterOrEqual", ["event_seconds", threshold])
        let weight: String
        if events == .interest {
            let ratio = g.node("Div", ["event_seconds", threshold])
            let cap = g.constant("cap", dims: [], floats: [Float(Self.maximumEngagements)])
            weight = g.node(
                "Where", [engaged, g.node("Min", [ratio, cap]), g.constant("zero_f", dims: [], floats: [0])])
        } else {
            weight = g.node("Cast", [engaged], [.int("to", ONNXGraph.ElementType.float.rawValue)])
        }
        let oneHot = g.node("Gather", [identity(&g, itemCount), "event_item"], [.int("axis", 0)])
        let column = g.node("Unsqueeze", [weight, g.constant("axis2", dims: [1], ints: [2])])
        return g.node(
            "ReduceSum", [g.node("Mul", [oneHot, column]), g.constant("axis1", dims: [1], ints: [1])],
            [.int("keepdims", 0)])
    }

    /// `e[item]`, `[batch, 1]`.
    private func ownEngagement(_ g: inout ONNXGraph, _ engagement: String) -> String {
        let index = g.node("Unsqueeze", ["item", g.constant("axis1", dims: [1], ints: [1])])
        return g.node("GatherElements", [engagement, index], [.int("axis", 1)])
    }

    /// The event columns from the engagement vector, `[batch, 2 or 3]`, as `append` computes them.
    private func eventBlock(_ g: inout ONNXGraph, _ engagement: String) -> String {
        let own = ownEngagement(&g, engagement)
        let axis1 = g.constant("axis1", dims: [1], ints: [1])
        let total = g.node("ReduceSum", [engagement, axis1], [.int("keepdims", 1)])
        let has = g.node(
            "Cast", [g.node("Greater", [total, g.constant("zero_f", dims: [], floats: [0])])],
            [.int("to", ONNXGraph.ElementType.float.rawValue)])
        guard events == .interest else {
            let mean = g.constant("affinity_mean", dims: [], floats: [Float(affinityScaling.mean)])
            let std = g.constant("affinity_std", dims: [], floats: [Float(affinityScaling.std)])
            return g.node("Concat", [g.node("Div", [g.node("Sub", [own, mean]), std]), has], [.int("axis", 1)])
        }
        let cap = g.constant("cap", dims: [], floats: [Float(Self.maximumEngagements)])
        let viewed = g.node("Div", [g.node("Min", [own, cap]), cap])
        var similarity = [Float](repeating: 0, count: itemCount * itemCount)
        let nColumns = Float(itemCategoryCardinalities.count)
        for i in 0..<itemCount {
            for j in 0..<itemCount where nColumns > 0 {
                let same = itemCategoryCardinalities.indices.filter { itemCategoryCodes[i][$0] == itemCategoryCodes[j][$0] }
                similarity[i * itemCount + j] = Float(same.count) / nColumns
            }
        }
        let rows = g.node(
            "Gather", [g.constant("similarity", dims: [itemCount, itemCount], floats: similarity), "item"],
            [.int("axis", 0)])
        let share = g.node("ReduceSum", [g.node("Mul", [rows, engagement]), axis1], [.int("keepdims", 1)])
        let floor = g.constant("tiny", dims: [], floats: [1e-30])
        let ratio = g.node("Div", [share, g.node("Max", [total, floor])])
        let one = g.constant("one", dims: [], floats: [1])
        return g.node("Concat", [viewed, g.node("Min", [ratio, one]), has], [.int("axis", 1)])
    }
}

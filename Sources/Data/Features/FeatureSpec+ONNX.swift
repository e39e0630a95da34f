import Foundation
import RecModel

/// An ONNX model that scores **raw context**: the spec's feature transform followed by the MLP, so that onnxruntime
/// (or any ONNX runtime with the `ai.onnx.ml` domain) gives the same score as `Recommender`, with no re-implementation
/// of the transform outside RecPool.
///
/// Inputs (batch = candidate rows; an input is present only when the spec has such columns):
/// - `user_features`: string `[batch, F]`, the raw values of `userFeatureNames` in that order; a value never seen in
///   training (or `""` for a missing one) falls into the unknown bucket (`LabelEncoder`, ai.onnx.ml);
/// - `user_numeric`: double `[batch, K]`, the raw values of `userNumericNames` in that order, z-scored in the graph;
///   NaN (missing) or ±infinity becomes 0 after scaling (the training mean), as `userNumericValues` does;
/// - `item`: int64 `[batch]`, the candidate item id;
/// - `position`: int64 `[batch]`, the slot (`Recommender` uses 0), clipped to the known slots;
/// - `event_item`, `event_seconds`: int64 and double `[batch, V]`, the user's views (pad with seconds 0: a view shorter
///   than `engagedSeconds` counts nothing).
///
/// Output `score`, float `[batch, 1]`: the click probability, with `Recommender`'s rule that a view never lowers its
/// own item's score (for the `interest` encoding, the larger of the scores with and without the events, computed by
/// running the MLP on both halves of one batch). Opsets: ONNX 13 and ai.onnx.ml 2; IR version 8. The model's
/// `metadata_props` name the inputs, the user columns in order, the missing-value convention and the spec version
/// (``onnxMetadata``).
///
/// Sized for a shop's catalogue: every table is one row per item (or per user value × item for the version-3 and 4
/// crosses), never item × item; one-hots are `OneHot` nodes, and the views are summed per event, so a batch costs
/// `batch × views` work, not `batch × items`. A model past protobuf's 2 GiB is refused before it is built.
extension FeatureSpec {
    /// The serialised `ModelProto` of the transform and `network`.
    /// - Throws: `ONNXExportError` when the network's activations have no ONNX node, its input width is not the
    ///   spec's, a field of the spec disagrees with another, or the graph would not write every column of the spec.
    public func onnxModel(network: MLP, producer: String = "recpool") throws(ONNXExportError) -> [UInt8] {
        try ONNXExport.checkExportable(network)
        guard network.inputWidth == width else { throw .widthMismatch(spec: width, model: network.inputWidth) }
        try checkSize(extra: [("the network's weights", network.parameterCount * 4)])
        var g = ONNXGraph()
        let rows = try transformRows(&g)
        guard let withoutEvents = rows.withoutEvents, let engagement = rows.engagement else {
            let score = g.name("raw_score")
            g.mlp(network, input: rows.withEvents, output: score)
            refuseNegativeItems(&g, score: score, output: "score")
            return finish(&g, producer: producer, output: "score", width: 1)
        }
        let stacked = g.node("Concat", [rows.withEvents, withoutEvents], [.int("axis", 0)])
        let scores = g.name("scores")
        g.mlp(network, input: stacked, output: scores)
        let batch = g.node("Shape", ["item"])
        let axis0 = g.constant("axis0", dims: [1], ints: [0])
        let a = g.node("Slice", [scores, g.constant("start", dims: [1], ints: [0]), batch, axis0])
        let b = g.node("Slice", [scores, batch, g.constant("end", dims: [1], ints: [Int64.max]), axis0])
        let viewed = g.node(
            "Greater", [ownEngagement(&g, engagement), g.constant("zero_f", dims: [], floats: [0])])
        let raw = g.node("Where", [viewed, g.node("Max", [a, b]), a])
        refuseNegativeItems(&g, score: raw, output: "score")
        return finish(&g, producer: producer, output: "score", width: 1)
    }

    /// Writes `output`: `score`, or NaN for a row whose `item` or an `event_item` is negative. ONNX's `Gather` reads a
    /// negative index from the end, so item −1 was scored as the last item and a view of −n as item 0; an index
    /// past the catalogue fails in the runtime. A NaN score says the row named no item of the catalogue.
    private func refuseNegativeItems(_ g: inout ONNXGraph, score: String, output: String) {
        let zero = g.constant("zero_i", dims: [], ints: [0])
        let itemOK = g.node("GreaterOrEqual", ["item", zero])
        // An event list may be empty (V = 0): ReduceMin over nothing is +∞ for floats, so the check runs on floats.
        let asFloat = g.node("Cast", [Self.eventItem], [.int("to", ONNXGraph.ElementType.float.rawValue)])
        let lowest = g.node(
            "ReduceMin", [asFloat], [.ints("axes", [1]), .int("keepdims", 0)])
        let eventsOK = g.node("GreaterOrEqual", [lowest, g.constant("zero_f", dims: [], floats: [0])])
        let ok = g.node("Unsqueeze", [g.node("And", [itemOK, eventsOK]), g.constant("axis1", dims: [1], ints: [1])])
        g.node("Where", [ok, score, g.constant("nan", dims: [], floats: [.nan])], output: output)
    }

    /// The transform alone: the same inputs, output `features` float `[batch, width]`, the rows `append` writes (with
    /// the events). Tests compare it column by column with `candidateRows`.
    /// - Throws: `ONNXExportError` as ``onnxModel(network:producer:)`` for the spec.
    func onnxTransformModel() throws(ONNXExportError) -> [UInt8] {
        try checkSize(extra: [])
        var g = ONNXGraph()
        let rows = try transformRows(&g)
        g.node("Identity", [rows.withEvents], output: "features")
        return finish(&g, producer: "recpool", output: "features", width: width)
    }

    /// The model's `metadata_props` (key → value): `recpool.inputs` (the graph's input names, comma-separated, in
    /// order), `recpool.user_features` and `recpool.user_numeric` (JSON arrays of the feature names, the column order
    /// of those inputs), `recpool.missing` (how to send a missing value), `recpool.feature_spec_version`,
    /// `recpool.feature_set`, `recpool.event_encoding` and `recpool.width` (the MLP's input columns).
    public var onnxMetadata: [(key: String, value: String)] {
        let names = { (list: [String]) in String(decoding: try! JSONEncoder().encode(list), as: UTF8.self) }
        return [
            ("recpool.inputs", onnxInputs.map(\.name).joined(separator: ",")),
            ("recpool.user_features", names(userFeatureNames)),
            ("recpool.user_numeric", names(userNumericNames ?? [])),
            (
                "recpool.missing",
                "user_features: \"\" or a value unseen in training -> the unknown bucket; user_numeric: NaN (or "
                    + "+-inf) -> 0 after z-scoring (the training mean); event_item/event_seconds: pad with seconds 0"
            ),
            ("recpool.feature_spec_version", "\(version)"),
            ("recpool.feature_set", featureSet.rawValue),
            ("recpool.event_encoding", events.rawValue),
            ("recpool.width", "\(width)"),
        ]
    }

    /// The views' items and seconds as the graph reads them, once ``checkEventShapes(_:)`` has checked their shapes.
    static let eventItem = "event_item_checked"
    static let eventSeconds = "event_seconds_checked"

    /// Writes ``eventItem`` and ``eventSeconds``: the `event_item` and `event_seconds` inputs, through a `Concat` of
    /// both beside `item` that the runtime refuses unless the three share a batch and the two views share V. Read
    /// directly, they were broadcast against each other (`Mul`, `Equal`): `event_item` of `[1, 2]` with
    /// `event_seconds` of `[1, 1]` gave a score matching neither view list, with no error.
    private func checkEventShapes(_ g: inout ONNXGraph) {
        let double = [ONNXGraph.Attribute.int("to", ONNXGraph.ElementType.double.rawValue)]
        let axis1 = g.constant("axis1", dims: [1], ints: [1])
        let axis2 = g.constant("axis2", dims: [1], ints: [2])
        // [batch, 1], then [batch, 1 + V] for each: Concat on axis 1 needs the same batch.
        let item = g.node("Unsqueeze", [g.node("Cast", ["item"], double), axis1])
        let items = g.node("Concat", [item, g.node("Cast", ["event_item"], double)], [.int("axis", 1)])
        let seconds = g.node("Concat", [item, "event_seconds"], [.int("axis", 1)])
        // [batch, 1 + V, 2]: Concat on axis 2 needs the same V.
        let pairs = g.node(
            "Concat", [g.node("Unsqueeze", [items, axis2]), g.node("Unsqueeze", [seconds, axis2])], [.int("axis", 2)])
        let views = { (g: inout ONNXGraph, column: Int64) -> String in
            let slice = g.node(
                "Slice",
                [
                    pairs, g.constant("views_start", dims: [2], ints: [1, column]),
                    g.constant("views_end", dims: [2], ints: [Int64.max, column + 1]),
                    g.constant("views_axes", dims: [2], ints: [1, 2]),
                ])
            return g.node("Squeeze", [slice, axis2])
        }
        // Item rows are whole numbers far below 2⁵³, which a double holds exactly.
        g.node(
            "Cast", [views(&g, 0)], output: Self.eventItem, [.int("to", ONNXGraph.ElementType.int64.rawValue)])
        g.node("Identity", [views(&g, 1)], output: Self.eventSeconds)
    }

    /// The graph's inputs, in order: name, element type and the dimensions after `batch` (nil: symbolic).
    var onnxInputs: [(name: String, type: ONNXGraph.ElementType, dims: [Int?])] {
        var inputs: [(name: String, type: ONNXGraph.ElementType, dims: [Int?])] = []
        if !userFeatureNames.isEmpty { inputs.append(("user_features", .string, [userFeatureNames.count])) }
        let numeric = userNumericNames?.count ?? 0
        if numeric > 0 { inputs.append(("user_numeric", .double, [numeric])) }
        inputs += [
            ("item", .int64, []), ("position", .int64, []), ("event_item", .int64, [nil]),
            ("event_seconds", .double, [nil]),
        ]
        return inputs
    }

    /// The graph's feature rows: with the events (`[batch, width]`), and for the `interest` encoding the same rows
    /// without them and the engagement vector. Every column of the spec is written in `columns` order; the widths
    /// are counted as the blocks are added and must sum to `width`.
    /// - Throws: `ONNXExportError.inconsistentSpec` or `.transformIncomplete`.
    private func transformRows(_ g: inout ONNXGraph) throws(ONNXExportError)
        -> (withEvents: String, withoutEvents: String?, engagement: String?)
    {
        try checkShapes()
        for input in onnxInputs { g.input(input.name, input.type, input.dims) }
        checkEventShapes(&g)
        let user = userBlocks(&g)
        var blocks = user.map(\.oneHot)
        var produced = userVocabularies.reduce(0) { $0 + $1.count + 1 }
        if let numeric = userNumericBlock(&g) {
            blocks.append(numeric.name)
            produced += numeric.width
        }
        let table = itemTable(&g)
        blocks.append(g.node("Gather", [table.name, "item"], [.int("axis", 0)]))
        produced += table.width
        if isHashed {
            let buckets = itemHashBuckets ?? 0
            let bucketOf = g.constant("item_buckets", dims: [itemCount], ints: (0..<itemCount).map { Int64(itemHashBucket($0)) })
            blocks.append(oneHot(&g, g.node("Gather", [bucketOf, "item"], [.int("axis", 0)]), depth: buckets))
            produced += buckets
        } else if featureSet == .extended {
            blocks.append(oneHot(&g, "item", depth: itemCount))
            produced += itemCount
        }
        guard featureSet == .extended else {
            try checkProduced(produced)
            return (g.node("Concat", blocks, [.int("axis", 1)]), nil, nil)
        }
        let last = g.constant("last_position", dims: [], ints: [Int64(positionCount - 1)])
        let clipped = g.node("Clip", ["position", g.constant("zero", dims: [], ints: [0]), last])
        blocks.append(oneHot(&g, clipped, depth: positionCount))
        produced += positionCount + (events == .interest ? 3 : 2)
        if isHashed {
            let crosses = crossBlocks(&g, userCodes: user.map(\.code))
            blocks += crosses.names
            let rates = crossRateBlock(&g, userCodes: user.map(\.code))
            blocks += rates.names
            produced += crosses.width + rates.width + pooledWidth
        }
        try checkProduced(produced)
        let engagement = eventWeights(&g)
        let eventBlocks = { (g: inout ONNXGraph, e: String) -> [String] in
            [eventBlock(&g, e)] + (isHashed ? [pooledHistory(&g, e)] : [])
        }
        let withEvents = g.node("Concat", blocks + eventBlocks(&g, engagement), [.int("axis", 1)])
        guard events == .interest else { return (withEvents, nil, nil) }
        let none = g.node("Mul", [engagement, g.constant("zero_f", dims: [], floats: [0])])
        return (withEvents, g.node("Concat", blocks + eventBlocks(&g, none), [.int("axis", 1)]), engagement)
    }

    /// Refuses a graph that would not write exactly the spec's columns (a field with no graph form).
    private func checkProduced(_ produced: Int) throws(ONNXExportError) {
        if produced == width && columnNames().count == width { return }
        let column = columns.isEmpty ? "" : columns[min(produced, columns.count - 1)]
        throw .transformIncomplete(column: column, graph: produced, spec: width)
    }

    /// Refuses a spec whose per-item and per-feature arrays disagree in length (the transform would index past them).
    private func checkShapes() throws(ONNXExportError) {
        if let problem = shapeProblem(checkingColumns: false) { throw .inconsistentSpec(problem) }
    }

    private func finish(_ g: inout ONNXGraph, producer: String, output: String, width: Int) -> [UInt8] {
        g.named("recpool_raw_context")
        g.output(output, width: width)
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
        for (key, value) in onnxMetadata {
            model.message(14) { entry in  // metadata_props: StringStringEntryProto key 1, value 2
                entry.string(1, key)
                entry.string(2, value)
            }
        }
        return model.bytes
    }

    /// One-hot of each user feature with its unknown bucket: `LabelEncoder` then `OneHot`; and the code itself (int64
    /// `[batch]`), for the crosses.
    private func userBlocks(_ g: inout ONNXGraph) -> [(oneHot: String, code: String)] {
        userVocabularies.enumerated().map { f, vocabulary in
            let column = g.node(
                "Gather", ["user_features", g.constant("feature", dims: [], ints: [Int64(f)])], [.int("axis", 1)])
            // Each value as written, then in its other Unicode forms (composed, decomposed), then a legacy entry without
            // the spaces around it, each to the first entry that has it, in the order `FeatureSpec.index(of:in:)` tries
            // them (the exact value, an equivalent one, a legacy one): the graph compares bytes.
            var keys: [String] = []
            var codes: [Int64] = []
            var seen = Set<[UInt8]>()
            let values = vocabulary.isEmpty ? ["\u{0}"] : vocabulary
            let passes: [(String) -> [String]] = [
                { [$0] },
                { [$0.precomposedStringWithCanonicalMapping, $0.decomposedStringWithCanonicalMapping] },
                { [BlankText.canonical($0)] },
            ]
            for spellings in passes {
                for (index, value) in values.enumerated() {
                    for spelling in spellings(value) where !spelling.isEmpty && seen.insert(Array(spelling.utf8)).inserted {
                        keys.append(spelling)
                        codes.append(Int64(index))
                    }
                }
            }
            let code = g.node(
                "LabelEncoder", [column], domain: "ai.onnx.ml",
                [
                    .strings("keys_strings", keys), .ints("values_int64s", codes),
                    .int("default_int64", Int64(vocabulary.count)),
                ])
            return (oneHot(&g, code, depth: vocabulary.count + 1), code)
        }
    }

    /// The z-scored numeric user features, `[batch, K]`: `(x − mean) / std` per column, 0 where `x` is NaN or
    /// infinite (missing) and in a column constant in training (its `numeric_std` is written as 0 and masked), as
    /// `userNumericValues`; nil when the spec has none. The input and the scaling are float64 and the z-score is
    /// rounded to float32 last, as `ZScore.apply` does: in float32 a value near ±3.4e38 minus the mean overflowed to
    /// ±infinity (a NaN score for a value the log held), and a timestamp in nanoseconds lost its last 10 digits.
    private func userNumericBlock(_ g: inout ONNXGraph) -> (name: String, width: Int)? {
        guard let scalings = userNumericScalings, !scalings.isEmpty else { return nil }
        let k = scalings.count
        let mean = g.constant("numeric_mean", dims: [k], doubles: scalings.map(\.mean))
        let std = g.constant("numeric_std", dims: [k], doubles: scalings.map { $0.constant == true ? 0 : $0.std })
        let z = g.node(
            "Cast", [g.node("Div", [g.node("Sub", ["user_numeric", mean]), std])],
            [.int("to", ONNXGraph.ElementType.float.rawValue)])
        var missing = g.node("Or", [g.node("IsNaN", ["user_numeric"]), g.node("IsInf", ["user_numeric"])])
        if scalings.contains(where: { $0.constant == true }) {
            missing = g.node("Or", [missing, g.node("Equal", [std, g.constant("zero_d", dims: [], doubles: [0])])])
        }
        return (g.node("Where", [missing, g.constant("zero_f", dims: [], floats: [0]), z]), k)
    }

    /// Per item, its encoded item columns (category one-hots and the scaled numeric features), `[itemCount, columns]`;
    /// the item's one-hot (extended set) or item-id hash one-hot (version 3) follows it as a `OneHot` node.
    private func itemTable(_ g: inout ONNXGraph) -> (name: String, width: Int) {
        let columns = itemTableWidth
        var table: [Float] = []
        table.reserveCapacity(itemCount * columns)
        for item in 0..<itemCount {
            for (c, cardinality) in itemCategoryCardinalities.enumerated() {
                let code = itemCategoryCodes[item][c]
                for k in 0..<cardinality { table.append(k == code ? 1 : 0) }
            }
            table.append(itemContinuousScaling.apply(itemContinuous[item]))
            for (c, scaling) in (itemNumericExtraScalings ?? []).enumerated() {
                table.append(scaling.apply(itemNumericExtra![item][c]))
            }
        }
        return (g.constant("item_table", dims: [itemCount, columns], floats: table), columns)
    }

    /// The columns of ``itemTable(_:)``.
    private var itemTableWidth: Int {
        itemCategoryCardinalities.reduce(0, +) + 1 + (itemNumericExtraScalings?.count ?? 0)
    }

    /// `OneHot(codes, depth)`, float `[..., depth]` (ONNX 11): a code outside `0..<depth` is a row of zeros.
    func oneHot(_ g: inout ONNXGraph, _ codes: String, depth: Int) -> String {
        g.node(
            "OneHot",
            [codes, g.constant("depth\(depth)", dims: [], ints: [Int64(depth)]), g.constant("off_on", dims: [2], floats: [0, 1])],
            [.int("axis", -1)])
    }

    /// The bytes a protobuf message may hold (2 GiB − 1), less room for the graph's nodes and names.
    static let onnxByteLimit = Int(Int32.max) - (1 << 20)

    /// Refuses a model whose tables (with `extra`, such as the network's weights) would pass ``onnxByteLimit``,
    /// before any is built: a catalogue of 100,000 items once asked for two 40 GB item × item tables.
    private func checkSize(extra: [(String, Int)]) throws(ONNXExportError) {
        var parts = extra
        parts.append(("the item table (\(itemCount) items × \(itemTableWidth) columns)", itemCount * itemTableWidth * 4))
        if events == .interest && featureSet == .extended {
            parts.append(("the item category codes", itemCount * itemCategoryCardinalities.count * 8))
        }
        if isHashed {
            parts.append(("the item buckets", itemCount * 8))
            parts.append(("the item representations", itemCount * pooledWidth * 4))
            if let buckets = crossBuckets, buckets > 0 {
                for (f, vocabulary) in userVocabularies.enumerated() {
                    let cells = (vocabulary.count + 1) * (itemCount + itemCategoryCardinalities.reduce(0, +))
                    parts.append(("the cross buckets of user feature \(userFeatureNames[f]) ((\(vocabulary.count) + 1) values × \(itemCount) items)", cells * 8))
                }
            }
            if hasCrossRates {
                for (f, vocabulary) in userVocabularies.enumerated() {
                    parts.append(("the cross rates of user feature \(userFeatureNames[f]) ((\(vocabulary.count) + 1) values × \(itemCount) items)", (vocabulary.count + 1) * itemCount * 4))
                }
            }
        }
        let total = parts.reduce(0) { $0.addingReportingOverflow($1.1).partialValue }
        guard total > Self.onnxByteLimit, let largest = parts.max(by: { $0.1 < $1.1 }) else { return }
        throw .tooLarge(bytes: total, limit: Self.onnxByteLimit, largest: "\(largest.0): \(largest.1) bytes")
    }

    /// `w[batch, V]`: each view of at least `engagedSeconds` weighs `min(seconds / engagedSeconds, 3)` (the `interest`
    /// encoding) or 1 (the old one), a shorter one 0: the engagement vector `e[j] = Σ_{v: item_v = j} w_v` of
    /// `affinity(from:)`, kept per event so that nothing is `[batch, itemCount]`.
    private func eventWeights(_ g: inout ONNXGraph) -> String {
        // Compared and divided in float64, as `affinity(from:)` reads a dwell: in float32 a view of 9.9999999 s
        // rounded to 10 and counted as engaged where `Recommender` does not count it.
        let threshold = g.constant("engaged_seconds", dims: [], doubles: [engagedSeconds])
        let engaged = g.node("GreaterOrEqual", [Self.eventSeconds, threshold])
        guard events == .interest else {
            return g.node("Cast", [engaged], [.int("to", ONNXGraph.ElementType.float.rawValue)])
        }
        let ratio = g.node("Div", [Self.eventSeconds, threshold])
        let cap = g.constant("cap_d", dims: [], doubles: [Double(Self.maximumEngagements)])
        let weights = g.node("Where", [engaged, g.node("Min", [ratio, cap]), g.constant("zero_d", dims: [], doubles: [0])])
        return g.node("Cast", [weights], [.int("to", ONNXGraph.ElementType.float.rawValue)])
    }

    /// `e[item] = Σ_v w_v · [item_v = item]`, `[batch, 1]`, from the event weights `w`.
    private func ownEngagement(_ g: inout ONNXGraph, _ weights: String) -> String {
        let item = g.node("Unsqueeze", ["item", g.constant("axis1", dims: [1], ints: [1])])
        let same = g.node(
            "Cast", [g.node("Equal", [Self.eventItem, item])], [.int("to", ONNXGraph.ElementType.float.rawValue)])
        return g.node(
            "ReduceSum", [g.node("Mul", [same, weights]), g.constant("axis1", dims: [1], ints: [1])],
            [.int("keepdims", 1)])
    }

    /// The event columns from the event weights, `[batch, 2 or 3]`, as `append` computes them.
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
            // A column constant in training is 0 on every row (`ZScore.apply`): `own − own`, `own` being finite.
            let scaled =
                affinityScaling.constant == true
                ? g.node("Sub", [own, own]) : g.node("Div", [g.node("Sub", [own, mean]), std])
            return g.node("Concat", [scaled, has], [.int("axis", 1)])
        }
        let cap = g.constant("cap", dims: [], floats: [Float(Self.maximumEngagements)])
        let viewed = g.node("Div", [g.node("Min", [own, cap]), cap])
        let share = similarityShare(&g, engagement)
        let floor = g.constant("tiny", dims: [], floats: [1e-30])
        let ratio = g.node("Div", [share, g.node("Max", [total, floor])])
        let one = g.constant("one", dims: [], floats: [1])
        return g.node("Concat", [viewed, g.node("Min", [ratio, one]), has], [.int("axis", 1)])
    }

    /// `Σ_v w_v · sim(item, item_v)`, `[batch, 1]`: the similarity of two items is the share of the item category
    /// columns on which their codes agree (`similarity(_:_:)`), computed from the items' codes, `[itemCount, C]`,
    /// rather than from an `itemCount × itemCount` table. 0 when the catalogue has no category column.
    private func similarityShare(_ g: inout ONNXGraph, _ weights: String) -> String {
        let axis1 = g.constant("axis1", dims: [1], ints: [1])
        let columns = itemCategoryCardinalities.count
        guard columns > 0 else {
            let none = g.node("Mul", [weights, g.constant("zero_f", dims: [], floats: [0])])
            return g.node("ReduceSum", [none, axis1], [.int("keepdims", 1)])
        }
        let codes = g.constant(
            "item_category_codes", dims: [itemCount, columns],
            ints: (0..<itemCount).flatMap { item in itemCategoryCodes[item].prefix(columns).map { Int64($0) } })
        let candidate = g.node("Unsqueeze", [g.node("Gather", [codes, "item"], [.int("axis", 0)]), axis1])
        let viewed = g.node("Gather", [codes, Self.eventItem], [.int("axis", 0)])
        let agree = g.node(
            "Cast", [g.node("Equal", [viewed, candidate])], [.int("to", ONNXGraph.ElementType.float.rawValue)])
        let similarity = g.node(
            "Div",
            [
                g.node("ReduceSum", [agree, g.constant("axis2", dims: [1], ints: [2])], [.int("keepdims", 0)]),
                g.constant("category_columns", dims: [], floats: [Float(columns)]),
            ])
        return g.node("ReduceSum", [g.node("Mul", [similarity, weights]), axis1], [.int("keepdims", 1)])
    }
}

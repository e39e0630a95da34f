import RecModel

/// Checking that a dataset has the features a checkpoint's ``FeatureSpec`` was fitted on, so that no command
/// scores a model on rows whose features it cannot read (every value would fall into the unknown bucket).
extension CheckpointEvaluation {
    /// Checks `data` against `spec`: the same categorical and numeric user feature names (order aside), the same
    /// item count, no slot beyond the spec's positions, and the same item features row for row (``catalogueProblem(spec:data:)``).
    /// - Throws: `CheckpointEvaluationError.itemCountMismatch`, `.datasetMismatch` naming every missing and extra
    ///   feature and the position counts, or `.catalogueMismatch` naming the first item whose features differ.
    /// - Parameter catalogue: Whether to compare the item features too (false for rows that only need the model's
    ///   shape, such as a load test's).
    public static func check(spec: FeatureSpec, data: BanditDataset, catalogue: Bool = true)
        throws(CheckpointEvaluationError)
    {
        guard spec.itemCount == data.nActions else {
            throw .itemCountMismatch(spec: spec.itemCount, data: data.nActions, dataset: data.name)
        }
        var problems: [String] = []
        for (kind, expected, present) in [
            ("categorical", spec.userFeatureNames, data.userFeatures.names),
            ("numeric", spec.userNumericNames ?? [], data.userNumeric.columnNames),
        ] {
            let missing = expected.filter { !present.contains($0) }
            let extra = present.filter { !expected.contains($0) }
            if !missing.isEmpty {
                problems.append("missing \(kind) user features \(missing.joined(separator: ", "))")
            }
            if !extra.isEmpty {
                problems.append("extra \(kind) user features \(extra.joined(separator: ", "))")
            }
        }
        if data.nPositions > spec.positionCount {
            problems.append("\(data.nPositions) positions but the model knows \(spec.positionCount)")
        }
        if catalogue, problems.isEmpty, let problem = catalogueProblem(spec: spec, data: data) {
            throw .catalogueMismatch(dataset: data.name, problem: problem)
        }
        guard problems.isEmpty else {
            throw .datasetMismatch(
                dataset: data.name, expected: spec.allUserFeatureNames, problems: problems)
        }
        if let (row, feature, value) = outOfRange(spec: spec, data: data) {
            throw .userValueOutOfRange(dataset: data.name, row: row, feature: feature, value: value)
        }
    }

    /// The first row (0-based) whose numeric user feature the spec would not admit in a request
    /// (``FeatureSpec/ZScore/admits(_:)``), with the feature and its value; nil when every value is admitted. A missing
    /// value (NaN, a blank cell) is the training mean, as at serving, and admitted. Before, `eval` scored a value of
    /// 10¹⁷ years as every score 1.0 and printed a log-loss of 10.6 where serving answered BAD_REQUEST.
    static func outOfRange(spec: FeatureSpec, data: BanditDataset) -> (row: Int, feature: String, value: Double)? {
        let columns = data.userNumeric.columns
        guard columns > 0 else { return nil }
        for (name, scaling) in zip(spec.userNumericNames ?? [], spec.userNumericScalings ?? []) {
            guard let column = data.userNumeric.columnNames.firstIndex(of: name) else { continue }
            for row in 0..<data.rows {
                let value = data.userNumericRaw[row * columns + column]
                if !value.isNaN, !scaling.admits(value) { return (row, name, value) }
            }
        }
        return nil
    }

    /// `data` with its positions numbered as the model's: a log read with a schema dense-ranks its own slots, so a later
    /// log without slot 1 numbered slot 2 as position 0 and was scored there. When both the spec and the data know
    /// their slot values (``FeatureSpec/positionValues``, ``BanditDataset/positionValues``), each row's position is
    /// renumbered by its slot value; otherwise `data` is returned as it is (positions are the slots, or the spec is
    /// older than its slot values).
    /// - Throws: `CheckpointEvaluationError.unknownSlot` when a row of `data` is in a slot the model was not fitted on.
    public static func aligned(_ data: BanditDataset, to spec: FeatureSpec) throws(CheckpointEvaluationError)
        -> BanditDataset
    {
        guard let known = spec.positionValues, let logged = data.positionValues, known != logged else { return data }
        let index = Dictionary(known.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        // A split keeps its whole log's slot values: a slot only the training rows hold is not this split's (the test
        // split was refused for a slot 3 logged once, in the oldest 60%).
        let held = Set(data.position)
        var renumbered: [Int] = []
        for (rank, slot) in logged.enumerated() {
            if let position = index[slot] {
                renumbered.append(position)
            } else if held.contains(rank) {
                throw .unknownSlot(dataset: data.name, slot: slot, known: known)
            } else {
                renumbered.append(0)  // no row reads it
            }
        }
        var out = data
        out.position = data.position.map { renumbered[$0] }
        out.nPositions = spec.positionCount
        out.positionValues = known
        return out
    }

    /// Why the dataset's catalogue is not the one the spec was fitted on, or `nil`: the spec scores item `k` with its
    /// own table's features for `k`, so a catalogue file with the same items in another row order, or with other
    /// values, would be scored as other items without a word. Numeric features must be equal; categorical ones must
    /// group the items alike (two items share a value in the data exactly when they share one in the spec), since a
    /// category's code depends on its file's values: OBD's `random` and `bts` files hash the same categories
    /// differently, and a model fitted on one is evaluated on the other.
    static func catalogueProblem(spec: FeatureSpec, data: BanditDataset) -> String? {
        // By id first, where both know them: two items with the same features (a shirt in two colours) in swapped
        // rows pass the feature comparison below, but carry each other's per-item statistics.
        if let mine = spec.itemIds, let theirs = data.itemIds, mine.count == theirs.count,
            let row = mine.indices.first(where: { mine[$0] != theirs[$0] })
        {
            return "row \(row) of the catalogue is item \(theirs[row]), the model's row \(row) is item \(mine[row]) "
                + "(the same items in another row order, or other items): the model would score it as another item; "
                + "evaluate with the catalogue file it was fitted on"
        }
        let context = data.actionContext
        guard context.rows == data.nActions else { return nil }
        let firstNumeric = context.columns - data.itemNumericColumns
        let dataNumeric = data.itemNumericColumns
        let specExtras = spec.itemNumericExtraNames?.count ?? 0
        guard firstNumeric == spec.itemCategoryCardinalities.count, max(dataNumeric - 1, 0) == specExtras else {
            return "the catalogue has \(firstNumeric) categorical and \(dataNumeric) numeric item features, not the "
                + "\(spec.itemCategoryCardinalities.count) categorical and \(specExtras + 1) numeric the model was fitted on"
        }
        var specOfData = [[Int: Int]](repeating: [:], count: firstNumeric)
        var dataOfSpec = [[Int: Int]](repeating: [:], count: firstNumeric)
        for item in 0..<data.nActions {
            var same = true
            for c in 0..<firstNumeric {
                let (mine, theirs) = (Int(context[item, c]), spec.itemCategoryCodes[item][c])
                if specOfData[c].updateValue(theirs, forKey: mine).map({ $0 != theirs }) == true
                    || dataOfSpec[c].updateValue(mine, forKey: theirs).map({ $0 != mine }) == true
                {
                    same = false
                }
            }
            let continuous = dataNumeric > 0 ? context[item, firstNumeric] : 0
            let extras = dataNumeric > 1 ? ((firstNumeric + 1)..<context.columns).map { context[item, $0] } : []
            same = same && continuous == Float(spec.itemContinuous[item])
                && extras == (spec.itemNumericExtra?[item] ?? []).map(Float.init)
            if !same {
                // Swapped columns (the same items, values and schema, `colour` and `brand` in another order) read as
                // "the same items in another row order, or other values": name the order.
                if let moved = Self.permutedColumns(context, spec: spec, categorical: firstNumeric) {
                    return "the catalogue's categorical item feature columns are in another order than in the catalogue "
                        + "the model was fitted on (the columns are read in the file's order): \(moved); put them back "
                        + "in that order"
                }
                let name = data.itemIds.map { "item \($0[item]) (row \(item))" } ?? "item \(item)"
                return "\(name) of the catalogue does not have the features the model was fitted with (the same items in "
                    + "another row order, or other values): the model would score it as another item; evaluate with the "
                    + "catalogue file it was fitted on"
            }
        }
        return nil
    }

    /// When the first `categorical` columns of `context` hold the spec's categorical item columns in another order
    /// (each column's codes match one spec column's one to one, over every item), the moves, as "`colour` is the
    /// model's column 2"; nil when they do not, or are in order.
    static func permutedColumns(_ context: FeatureMatrix, spec: FeatureSpec, categorical: Int) -> String? {
        func matches(_ c: Int, _ other: Int) -> Bool {
            var forward: [Int: Int] = [:]
            var backward: [Int: Int] = [:]
            for item in 0..<context.rows {
                let (mine, theirs) = (Int(context[item, c]), spec.itemCategoryCodes[item][other])
                if forward.updateValue(theirs, forKey: mine).map({ $0 != theirs }) == true
                    || backward.updateValue(mine, forKey: theirs).map({ $0 != mine }) == true
                {
                    return false
                }
            }
            return true
        }
        // Columns that each match themselves are in order (two columns whose codes pair up one to one would also
        // match swapped): the mismatch is elsewhere, not in their order.
        if (0..<categorical).allSatisfy({ matches($0, $0) }) { return nil }
        // A one-to-one assignment of this file's columns to the spec's, by augmenting paths (a handful of columns).
        let candidates = (0..<categorical).map { c in (0..<categorical).filter { matches(c, $0) } }
        var owner = [Int?](repeating: nil, count: categorical)
        func assign(_ c: Int, _ seen: inout [Bool]) -> Bool {
            for other in candidates[c] where !seen[other] {
                seen[other] = true
                if owner[other] == nil || assign(owner[other]!, &seen) {
                    owner[other] = c
                    return true
                }
            }
            return false
        }
        for c in 0..<categorical {
            var seen = [Bool](repeating: false, count: categorical)
            guard assign(c, &seen) else { return nil }
        }
        let moves = (0..<categorical).compactMap { other -> String? in
            guard let c = owner[other], c != other else { return nil }
            return "'\(context.columnNames[c])' (column \(c + 1) here) is the model's column \(other + 1)"
        }
        return moves.isEmpty ? nil : moves.joined(separator: ", ")
    }

    /// How a checkpoint is named in reports: its path and the number written inside the file, called the
    /// checkpoint version. That number is the writer's (`fit --version`; 0 for a job's checkpoint, and a pulled file
    /// keeps it), never the registry's, so a report never calls it the model version.
    public static func label(path: String, checkpoint: Checkpoint) -> String {
        "\(path) (checkpoint version \(checkpoint.version))"
    }
}

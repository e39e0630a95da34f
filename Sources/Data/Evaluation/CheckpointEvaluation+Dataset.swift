import RecModel

/// Checking that a dataset has the features a checkpoint's ``FeatureSpec`` was fitted on, so that no command
/// scores a model on rows whose features it cannot read (every value would fall into the unknown bucket).
extension CheckpointEvaluation {
    /// Checks `data` against `spec`: the same categorical and numeric user feature names (order aside), the same
    /// item count, no slot beyond the spec's positions, and the same item features row for row (``catalogueProblem(spec:data:)``).
    /// - Throws: `CheckpointEvaluationError.itemCountMismatch`, or `.datasetMismatch` naming every missing and
    ///   extra feature and the position counts.
    public static func check(spec: FeatureSpec, data: BanditDataset) throws(CheckpointEvaluationError) {
        guard spec.itemCount == data.nActions else {
            throw .itemCountMismatch(spec: spec.itemCount, data: data.nActions)
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
        if let problem = catalogueProblem(spec: spec, data: data) { problems.append(problem) }
        guard problems.isEmpty else {
            throw .datasetMismatch(
                dataset: data.name, expected: spec.allUserFeatureNames, problems: problems)
        }
    }

    /// Why the dataset's catalogue is not the one the spec was fitted on, or `nil`: the spec scores item `k` with its
    /// own table's features for `k` (category codes, numeric values), so a catalogue file with the same items in
    /// another row order, or with other values, would be scored as other items without a word.
    static func catalogueProblem(spec: FeatureSpec, data: BanditDataset) -> String? {
        let context = data.actionContext
        guard context.rows == data.nActions else { return nil }
        let firstNumeric = context.columns - data.itemNumericColumns
        let dataNumeric = data.itemNumericColumns
        let specExtras = spec.itemNumericExtraNames?.count ?? 0
        guard firstNumeric == spec.itemCategoryCardinalities.count, max(dataNumeric - 1, 0) == specExtras else {
            return "the catalogue has \(firstNumeric) categorical and \(dataNumeric) numeric item features, not the "
                + "\(spec.itemCategoryCardinalities.count) categorical and \(specExtras + 1) numeric the model was fitted on"
        }
        for item in 0..<data.nActions {
            let codes = (0..<firstNumeric).map { Int(context[item, $0]) }
            let continuous = dataNumeric > 0 ? Double(context[item, firstNumeric]) : 0
            let extras = dataNumeric > 1 ? ((firstNumeric + 1)..<context.columns).map { Double(context[item, $0]) } : []
            let expectedExtras = spec.itemNumericExtra?[item] ?? []
            guard codes == spec.itemCategoryCodes[item], Float(continuous) == Float(spec.itemContinuous[item]),
                extras.map(Float.init) == expectedExtras.map(Float.init)
            else {
                return "item \(item)'s features in the catalogue are not the ones the model was fitted with (the same "
                    + "items in another row order, or other values): the model would score it as another item; "
                    + "evaluate with the catalogue file it was fitted on"
            }
        }
        return nil
    }

    /// How a checkpoint is named in reports: its path and the number written inside the file, called the
    /// checkpoint version. That number is the writer's (`fit --version`; 0 for a job's checkpoint, and a pulled file
    /// keeps it), never the registry's, so a report never calls it the model version.
    public static func label(path: String, checkpoint: Checkpoint) -> String {
        "\(path) (checkpoint version \(checkpoint.version))"
    }
}

import RecModel

/// Checking that a dataset has the features a checkpoint's ``FeatureSpec`` was fitted on, so that no command
/// scores a model on rows whose features it cannot read (every value would fall into the unknown bucket).
extension CheckpointEvaluation {
    /// Checks `data` against `spec`: the same categorical and numeric user feature names (order aside), the same
    /// item count, and no slot beyond the spec's positions.
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
        guard problems.isEmpty else {
            throw .datasetMismatch(
                dataset: data.name, expected: spec.allUserFeatureNames, problems: problems)
        }
    }

    /// How a checkpoint is named in reports: its path and the version it records, or that it records none (a
    /// checkpoint written outside the registry holds version 0).
    public static func label(path: String, checkpoint: Checkpoint) -> String {
        checkpoint.version == 0 ? "\(path) (no registry version recorded)" : "\(path) (version \(checkpoint.version))"
    }
}

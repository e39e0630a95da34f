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

    /// How a checkpoint is named in reports: its path and the number written inside the file, called the
    /// checkpoint version. That number is the writer's (`fit --version`; 0 for a job's checkpoint, and a pulled file
    /// keeps it), never the registry's, so a report never calls it the model version.
    public static func label(path: String, checkpoint: Checkpoint) -> String {
        "\(path) (checkpoint version \(checkpoint.version))"
    }
}

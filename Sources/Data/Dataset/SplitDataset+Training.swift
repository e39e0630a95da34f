import RecModel

/// A model's rows from a log split by time: the feature specification fitted on the training part only, and the
/// training and validation parts as labelled feature rows (label = a positive outcome). The test part is not here:
/// no row of it reaches a trainer.
public struct TrainingRows: Sendable {
    /// The specification fitted on the training part; it goes into the checkpoint.
    public var spec: FeatureSpec
    /// The training part's rows.
    public var train: LabeledData
    /// The validation part's rows.
    public var validation: LabeledData
    /// Whether each validation row comes from a cold-start user.
    public var validationCold: [Bool]
}

extension SplitDataset {
    /// The fewest training-part rows a model is fitted on.
    public static let minimumTrainingRows = 1

    /// Fails when the training part is too small to fit a model on, naming the log (`name`) and the split.
    /// - Throws: ``FeatureSpecError/emptyTrainingPart(log:fraction:rows:needed:)``.
    public func requireTrainingRows(name: String) throws(FeatureSpecError) {
        guard train.rows >= Self.minimumTrainingRows else {
            throw .emptyTrainingPart(
                log: name, fraction: split.train, rows: train.rows, needed: Self.minimumTrainingRows)
        }
    }

    /// A warning when the training part's outcome never varies (no click, or no reward above 0; or a click on every
    /// row): a model fitted on it cannot learn which items are chosen (docs/MODELS.md). `nil` when it has both.
    public func noPositiveWarning(name: String) -> String? {
        guard train.rows > 0 else { return nil }
        let clicks = train.reward.lazy.filter(BanditDataset.isClick(reward:)).count
        guard clicks == 0 || clicks == train.rows else { return nil }
        return "warning: the training part of \(name) (first \(Int((split.train * 100).rounded()))% by time, "
            + "\(train.rows) rows) has \(clicks == 0 ? "no click" : "a click on every row"); the model cannot learn "
            + "anything from it"
    }

    /// Fits the specification on the training part and builds the training and validation rows.
    /// - Parameters:
    ///   - featureSet: The features to build.
    ///   - name: The log's name in errors (a path, `obd:…`, or `sha256:<hex>`).
    /// - Throws: ``FeatureSpecError/emptyTrainingPart(log:fraction:rows:needed:)`` when the training part has no rows.
    public func trainingRows(featureSet: FeatureSpec.FeatureSet = .extended, name: String = "the log")
        throws(FeatureSpecError) -> TrainingRows
    {
        try requireTrainingRows(name: name)
        let spec = try FeatureSpec.fit(on: train, featureSet: featureSet)
        // A validation row serving would refuse chose the epoch and judged the model: refused as `eval` refuses it.
        if let (row, feature, value) = CheckpointEvaluation.outOfRange(spec: spec, data: validation) {
            throw .userValueOutOfRange(dataset: "\(name)[validation]", row: row, feature: feature, value: value)
        }
        // The training rows' cross rates are out-of-fold (`trainingMatrix`): a row's own click never reaches them.
        func rows(_ part: BanditDataset, training: Bool = false) -> LabeledData {
            let features = training ? spec.trainingMatrix(part) : spec.matrix(part)
            return LabeledData(
                inputs: Matrix(rows: features.rows, cols: features.columns, values: features.values),
                targets: part.reward.map { BanditDataset.isClick(reward: $0) ? 1 : 0 })
        }
        return TrainingRows(
            spec: spec, train: rows(train, training: true), validation: rows(validation),
            validationCold: (0..<validation.rows).map { validation.isCold($0) })
    }
}

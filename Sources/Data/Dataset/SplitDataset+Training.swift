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
    /// Fits the specification on the training part and builds the training and validation rows.
    /// - Throws: `FeatureSpecError.emptyTrainingData` when the training part has no rows.
    public func trainingRows(featureSet: FeatureSpec.FeatureSet = .extended) throws(FeatureSpecError) -> TrainingRows {
        let spec = try FeatureSpec.fit(on: train, featureSet: featureSet)
        func rows(_ part: BanditDataset) -> LabeledData {
            let features = spec.matrix(part)
            return LabeledData(
                inputs: Matrix(rows: features.rows, cols: features.columns, values: features.values),
                targets: part.reward.map { $0 > 0 ? 1 : 0 })
        }
        return TrainingRows(
            spec: spec, train: rows(train), validation: rows(validation),
            validationCold: (0..<validation.rows).map { validation.isCold($0) })
    }
}

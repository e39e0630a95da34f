/// How a reference click model, computed from the simulator's ground truth, scores the same rows as the model
/// being evaluated: the figures a fitted model's AUC and log-loss are read against.
///
/// Two references exist (simulator data only; ``SegmentEvaluation/references`` is nil on other logs):
/// - `true_click_model`: each row's own user's click probability, which knows the hidden interests: the ceiling of
///   any model;
/// - `feature_only`: the mean of that probability over the population users with the same observable features and
///   history flag (``FeatureOnlyClickModel``): the ceiling of a model of the logged features.
public struct ReferenceModelScores: Sendable, Codable, Equatable {
    /// `true_click_model` or `feature_only`.
    public var name: String
    /// ROC AUC of the reference's probabilities against the rows' clicks, or nil with one class only.
    public var rocAUC: Double?
    /// Why ``rocAUC`` is undefined (``ClassificationMetrics/rocAUCUndefined``: no rows, or one class only), or nil
    /// when it is defined (`roc_auc_undefined` in JSON, beside the null).
    public var rocAUCUndefined: String?
    /// Mean negative log-likelihood of the rows' clicks under the reference's probabilities (nats per row).
    public var logLoss: Double

    /// The name of the reference that knows each user's hidden interests.
    public static let trueClickModel = "true_click_model"
    /// The name of the reference that sees what a fitted model sees.
    public static let featureOnly = "feature_only"

    /// Scores `probabilities` against `labels` (0/1), as ``ClassificationMetrics`` does.
    public init(name: String, labels: [Double], probabilities: [Double]) {
        let metrics = ClassificationMetrics(labels: labels, scores: probabilities)
        self.name = name
        rocAUC = metrics.rocAUC
        rocAUCUndefined = metrics.rocAUCUndefined
        logLoss = metrics.logLoss
    }

    private enum CodingKeys: String, CodingKey { case name, rocAUC, rocAUCUndefined, logLoss }

    /// Encodes every key, `null` for an undefined AUC with its reason beside it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(rocAUC, forKey: .rocAUC)
        try c.encode(rocAUCUndefined, forKey: .rocAUCUndefined)
        try c.encode(logLoss, forKey: .logLoss)
    }

    /// Both references on `rows` of data with ground truth, or nil without it.
    static func references(
        rows: [Int], labels: [Double], truth: (trueModel: [Double], featureOnly: [Double])?
    ) -> [ReferenceModelScores]? {
        guard let truth else { return nil }
        return [
            ReferenceModelScores(name: trueClickModel, labels: labels, probabilities: rows.map { truth.trueModel[$0] }),
            ReferenceModelScores(name: featureOnly, labels: labels, probabilities: rows.map { truth.featureOnly[$0] }),
        ]
    }
}

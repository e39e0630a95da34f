/// A trained model's figures on its own validation rows, as `recpool fit` reports them: the threshold-free metrics,
/// calibration, and precision, recall and F1 at 0.5 and at the max-F1 threshold chosen on these same rows (so the
/// figures at it are optimistic; `recpool eval` applies it to the test rows instead).
public struct ValidationMetrics: Sendable, Codable, Equatable {
    /// Validation rows.
    public var rows: Int
    /// Clicks among them.
    public var clicks: Int
    /// AUC, PR-AUC, log-loss, and accuracy, precision, recall and F1 at 0.5.
    public var classification: ClassificationMetrics
    /// The max-F1 threshold chosen on these rows, or nil when they hold no click.
    public var threshold: ThresholdChoice?
    /// The classification figures at `threshold`, or nil without one.
    public var atChosenThreshold: ClassificationMetrics?
    /// Reliability bins and ECE.
    public var calibration: Calibration
    /// Plain warnings, e.g. too few clicks for the figures to mean much.
    public var warnings: [String]

    /// Why ``threshold`` is nil (no validation rows, or no click among them); nil when it was chosen.
    public var thresholdUndefined: String? {
        guard threshold == nil else { return nil }
        return rows == 0
            ? "no validation rows" : clicks == 0 ? "no click among the validation rows" : "the best threshold is not finite"
    }

    /// Why ``atChosenThreshold`` is nil: no threshold was chosen; nil when it is given.
    public var atChosenThresholdUndefined: String? {
        atChosenThreshold == nil ? SegmentEvaluation.noThreshold : nil
    }

    private enum CodingKeys: String, CodingKey {
        case rows, clicks, classification, threshold, atChosenThreshold, calibration, warnings
    }

    /// The reasons beside ``threshold`` and ``atChosenThreshold`` (`threshold_undefined`,
    /// `at_chosen_threshold_undefined`); computed, so they are written but not read back.
    private enum ReasonKeys: String, CodingKey { case thresholdUndefined, atChosenThresholdUndefined }

    /// Computes the figures.
    /// - Parameters:
    ///   - labels: 0/1 click labels (anything above 0.5 is a click).
    ///   - scores: the model's click probability for each row.
    public init(labels: [Double], scores: [Double]) {
        let metrics = ClassificationMetrics(labels: labels, scores: scores)
        let choice = ClassificationMetrics.bestF1Threshold(labels: labels, scores: scores).flatMap {
            $0.isFinite
                ? ThresholdChoice(
                    threshold: $0, chosenOn: "validation", criterion: "max F1", rows: labels.count,
                    clicks: metrics.positives)
                : nil
        }
        classification = metrics
        rows = labels.count
        clicks = metrics.positives
        threshold = choice
        atChosenThreshold = choice.map { ClassificationMetrics(labels: labels, scores: scores, threshold: $0.threshold) }
        calibration = Calibration(labels: labels, scores: scores)
        warnings = ModelEvaluation.fewClicksWarning(clicks: metrics.positives).map { [$0] } ?? []
    }

    /// Encodes every key, writing `null` for a missing value and the reason beside a missing threshold.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rows, forKey: .rows)
        try c.encode(clicks, forKey: .clicks)
        try c.encode(classification, forKey: .classification)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(atChosenThreshold, forKey: .atChosenThreshold)
        try c.encode(calibration, forKey: .calibration)
        try c.encode(warnings, forKey: .warnings)
        var reasons = encoder.container(keyedBy: ReasonKeys.self)
        try reasons.encode(thresholdUndefined, forKey: .thresholdUndefined)
        try reasons.encode(atChosenThresholdUndefined, forKey: .atChosenThresholdUndefined)
    }
}

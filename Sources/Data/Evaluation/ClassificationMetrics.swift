import Foundation

/// Click-prediction quality of scores in [0, 1] against 0/1 labels. This is RecPool's one classification-metrics
/// type (the model layer's training code and the worker's validation metrics use it too).
///
/// Accuracy, precision, recall and F1 use `score >= threshold`. Precision is undefined (nil, with
/// ``precisionUndefined`` saying why) when nothing is predicted positive, recall when no label is positive, and F1,
/// `2·TP / (2·TP + FP + FN)`, when neither is: 0/0 is never reported as 0 (scikit-learn's `zero_division=np.nan`). ROC AUC is the Mann–Whitney statistic with average
/// ranks for ties (nil when only one class is present). Log-loss clips scores to [1e-15, 1 − 1e-15].
public struct ClassificationMetrics: Sendable, Codable, Equatable {
    /// Number of examples.
    public var count: Int
    /// Number of positive labels.
    public var positives: Int
    /// Decision threshold.
    public var threshold: Double
    /// Fraction of correct decisions.
    public var accuracy: Double
    /// TP / (TP + FP), or nil when nothing is predicted positive (``precisionUndefined``).
    public var precision: Double?
    /// TP / (TP + FN), or nil when no label is positive (``recallUndefined``).
    public var recall: Double?
    /// Harmonic mean of precision and recall, `2·TP / (2·TP + FP + FN)`, or nil when no label is positive and nothing
    /// is predicted positive (``f1Undefined``).
    public var f1: Double?
    /// Why ``precision`` is undefined; nil when it is defined.
    public var precisionUndefined: String?
    /// Why ``recall`` is undefined; nil when it is defined.
    public var recallUndefined: String?
    /// Why ``f1`` is undefined; nil when it is defined.
    public var f1Undefined: String?
    /// Area under the ROC curve, or nil with a single class.
    public var rocAUC: Double?
    /// Mean negative log-likelihood.
    public var logLoss: Double
    /// Average precision (PR-AUC), or nil without positives; see ``averagePrecision(labels:scores:)``.
    public var averagePrecision: Double?

    /// Computes the metrics.
    public init(labels: [Double], scores: [Double], threshold: Double = 0.5) {
        precondition(labels.count == scores.count, "ClassificationMetrics: labels and scores differ in length")
        var tp = 0.0, fp = 0.0, fn = 0.0, tn = 0.0
        for (y, s) in zip(labels, scores) {
            switch (s >= threshold, y > 0.5) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            case (false, false): tn += 1
            }
        }
        count = labels.count
        positives = Int(tp + fn)
        self.threshold = threshold
        accuracy = count > 0 ? (tp + tn) / Double(count) : 0
        precision = tp + fp > 0 ? tp / (tp + fp) : nil
        precisionUndefined = tp + fp > 0 ? nil : Self.noPredictedPositive
        recall = tp + fn > 0 ? tp / (tp + fn) : nil
        recallUndefined = tp + fn > 0 ? nil : Self.noPositive
        f1 = 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : nil
        f1Undefined = 2 * tp + fp + fn > 0 ? nil : Self.neitherPositive
        rocAUC = Self.rocAUC(labels: labels, scores: scores)
        logLoss = Self.logLoss(labels: labels, scores: scores)
        averagePrecision = Self.averagePrecision(labels: labels, scores: scores)
    }

    /// Why ``rocAUC`` is undefined (a class is absent: the AUC compares positives with negatives); nil when defined.
    public var rocAUCUndefined: String? {
        guard rocAUC == nil else { return nil }
        if count == 0 { return "no rows" }
        return positives == 0 ? "no positive label: one class only" : "no negative label: one class only"
    }

    /// Why ``averagePrecision`` is undefined; nil when it is defined.
    public var averagePrecisionUndefined: String? {
        guard averagePrecision == nil else { return nil }
        return count == 0 ? "no rows" : Self.noPositive
    }

    /// The reason precision is undefined.
    public static let noPredictedPositive = "no row is predicted positive at this threshold (0/0)"
    /// The reason recall is undefined.
    public static let noPositive = "no positive label (0/0)"
    /// The reason F1 is undefined.
    public static let neitherPositive = "no positive label and no row predicted positive (0/0)"

    /// Mean binary cross-entropy `−[y log p + (1 − y) log(1 − p)]` with scores clipped to [1e-15, 1 − 1e-15]
    /// (scikit-learn's `log_loss` for 0/1 labels); a label in (0, 1), a click probability, counts as itself, as the
    /// trainer's loss and the calibration's observed rate count it. 0 for no rows.
    public static func logLoss(labels: [Double], scores: [Double]) -> Double {
        guard !labels.isEmpty else { return 0 }
        var loss = 0.0
        for (y, s) in zip(labels, scores) {
            let p = min(max(s, 1e-15), 1 - 1e-15)
            // Exactly 0 or 1 takes one term, so a 0/1 label gives scikit-learn's figure bit for bit.
            if y >= 1 {
                loss -= log(p)
            } else if y <= 0 {
                loss -= log(1 - p)
            } else {
                loss -= y * log(p) + (1 - y) * log(1 - p)
            }
        }
        return loss / Double(labels.count)
    }

    private enum CodingKeys: String, CodingKey {
        case count, positives, threshold, accuracy, precision, recall, f1, rocAUC, logLoss, averagePrecision
        case precisionUndefined, recallUndefined, f1Undefined
    }

    /// The reasons beside AUC and average precision (`roc_auc_undefined`, `average_precision_undefined`); computed, so
    /// they are written but not read back.
    private enum ReasonKeys: String, CodingKey { case rocAUCUndefined, averagePrecisionUndefined }

    /// Encodes every key, writing `null` for an undefined AUC, average precision, precision, recall or F1, and the
    /// reason for each beside it (`…_undefined`, `null` when it is defined).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(count, forKey: .count)
        try c.encode(positives, forKey: .positives)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(precision, forKey: .precision)
        try c.encode(recall, forKey: .recall)
        try c.encode(f1, forKey: .f1)
        try c.encode(precisionUndefined, forKey: .precisionUndefined)
        try c.encode(recallUndefined, forKey: .recallUndefined)
        try c.encode(f1Undefined, forKey: .f1Undefined)
        try c.encode(rocAUC, forKey: .rocAUC)
        try c.encode(logLoss, forKey: .logLoss)
        try c.encode(averagePrecision, forKey: .averagePrecision)
        var reasons = encoder.container(keyedBy: ReasonKeys.self)
        try reasons.encode(rocAUCUndefined, forKey: .rocAUCUndefined)
        try reasons.encode(averagePrecisionUndefined, forKey: .averagePrecisionUndefined)
    }

    /// Mann–Whitney ROC AUC with average ranks for tied scores; nil when a class is absent.
    public static func rocAUC(labels: [Double], scores: [Double]) -> Double? {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var nPositive = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j where labels[order[k]] > 0.5 {
                rankSum += rank
                nPositive += 1
            }
            i = j + 1
        }
        let nNegative = Double(labels.count) - nPositive
        guard nPositive > 0 && nNegative > 0 else { return nil }
        return (rankSum - nPositive * (nPositive + 1) / 2) / (nPositive * nNegative)
    }

    /// ROC curve points (false-positive rate, true-positive rate), from (0,0) to (1,1), one per distinct score.
    public static func rocCurve(labels: [Double], scores: [Double]) -> [(fpr: Double, tpr: Double)] {
        let positives = labels.filter { $0 > 0.5 }.count
        let negatives = labels.count - positives
        guard positives > 0 && negatives > 0 else { return [] }
        let points = descendingSweep(labels: labels, scores: scores).map {
            (($0.predicted - $0.truePositives) / Double(negatives), $0.truePositives / Double(positives))
        }
        return [(0, 0)] + points
    }
}

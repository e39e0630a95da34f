import Foundation

/// Click-prediction quality of scores in [0, 1] against 0/1 labels.
///
/// Accuracy, precision, recall and F1 use `score >= threshold`; precision (recall) is 0 when nothing is predicted
/// (nothing is) positive, as scikit-learn's `zero_division=0`. ROC AUC is the Mann–Whitney statistic with average
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
    /// TP / (TP + FP).
    public var precision: Double
    /// TP / (TP + FN).
    public var recall: Double
    /// Harmonic mean of precision and recall.
    public var f1: Double
    /// Area under the ROC curve, or nil with a single class.
    public var rocAUC: Double?
    /// Mean negative log-likelihood.
    public var logLoss: Double

    /// Computes the metrics.
    public init(labels: [Double], scores: [Double], threshold: Double = 0.5) {
        precondition(labels.count == scores.count, "ClassificationMetrics: labels and scores differ in length")
        var tp = 0.0, fp = 0.0, fn = 0.0, tn = 0.0, loss = 0.0
        for (y, s) in zip(labels, scores) {
            let positive = y > 0.5
            let predicted = s >= threshold
            switch (predicted, positive) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            case (false, false): tn += 1
            }
            let p = min(max(s, 1e-15), 1 - 1e-15)
            loss -= positive ? log(p) : log(1 - p)
        }
        count = labels.count
        positives = Int(tp + fn)
        self.threshold = threshold
        accuracy = count > 0 ? (tp + tn) / Double(count) : 0
        precision = tp + fp > 0 ? tp / (tp + fp) : 0
        recall = tp + fn > 0 ? tp / (tp + fn) : 0
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        rocAUC = Self.rocAUC(labels: labels, scores: scores)
        logLoss = count > 0 ? loss / Double(count) : 0
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
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var points: [(Double, Double)] = [(0, 0)]
        var tp = 0.0, fp = 0.0
        var i = 0
        while i < order.count {
            let s = scores[order[i]]
            while i < order.count && scores[order[i]] == s {
                if labels[order[i]] > 0.5 { tp += 1 } else { fp += 1 }
                i += 1
            }
            points.append((fp / Double(negatives), tp / Double(positives)))
        }
        return points
    }
}

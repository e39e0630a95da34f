/// Binary classification quality of predicted probabilities against 0/1 labels.
public struct ClassificationMetrics: Sendable, Equatable, Codable {
    /// Number of examples.
    public var count: Int
    /// The threshold at or above which a probability counts as a positive prediction.
    public var threshold: Float
    /// Fraction of thresholded predictions equal to the label.
    public var accuracy: Double
    /// `TP / (TP + FP)`; 0 when nothing is predicted positive.
    public var precision: Double
    /// `TP / (TP + FN)`; 0 when there are no positives.
    public var recall: Double
    /// Harmonic mean of precision and recall; 0 when both are 0.
    public var f1: Double
    /// Area under the ROC curve: the Mann–Whitney probability that a random positive scores
    /// above a random negative, ties counted half. 0.5 when one class is absent.
    public var auc: Double
    /// Mean binary cross-entropy with probabilities clipped to `[1e-7, 1 − 1e-7]` (Keras's ε).
    public var logLoss: Double

    /// Computes every metric.
    /// - Parameters:
    ///   - probabilities: Predicted probabilities of the positive class.
    ///   - labels: 0 or 1 per example (anything > 0.5 counts as positive).
    ///   - threshold: Decision threshold for accuracy, precision, recall and F1.
    public init(probabilities: [Float], labels: [Float], threshold: Float = 0.5) {
        precondition(probabilities.count == labels.count, "ClassificationMetrics: \(probabilities.count) scores for \(labels.count) labels")
        let n = probabilities.count
        count = n
        self.threshold = threshold
        var tp = 0, fp = 0, tn = 0, fn = 0
        var ll: Double = 0
        let eps = 1e-7
        for i in 0..<n {
            let p = Double(probabilities[i])
            let positive = labels[i] > 0.5
            let predicted = probabilities[i] >= threshold
            switch (predicted, positive) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
            let pc = min(max(p, eps), 1 - eps)
            ll -= positive ? _log(pc) : _log(1 - pc)
        }
        accuracy = n > 0 ? Double(tp + tn) / Double(n) : 0
        precision = tp + fp > 0 ? Double(tp) / Double(tp + fp) : 0
        recall = tp + fn > 0 ? Double(tp) / Double(tp + fn) : 0
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        logLoss = n > 0 ? ll / Double(n) : 0
        auc = Self.rocAUC(probabilities, labels)
    }

    /// ROC AUC by ranks: `(Σ ranks of positives − P(P+1)/2) / (P·N)`, average ranks for ties.
    static func rocAUC(_ scores: [Float], _ labels: [Float]) -> Double {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum: Double = 0
        var positives = 0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let averageRank = Double(i + j + 2) / 2
            for k in i...j where labels[order[k]] > 0.5 {
                rankSum += averageRank
                positives += 1
            }
            i = j + 1
        }
        let negatives = scores.count - positives
        if positives == 0 || negatives == 0 { return 0.5 }
        let p = Double(positives)
        return (rankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }
}

import RecModel

/// Metrics that still mean something when clicks are rare (OBD's click rate is about 0.4%, so every score is far
/// below 0.5 and the 0.5-threshold precision, recall and F1 are always 0).
extension ClassificationMetrics {
    /// Average precision (the area under the precision–recall curve as scikit-learn's `average_precision_score`
    /// computes it): `Σ_n (R_n − R_{n−1}) P_n` over the distinct scores in descending order. nil without positives.
    /// - Parameters:
    ///   - labels: 0/1 labels (anything above 0.5 is a positive).
    ///   - scores: one score per label.
    public static func averagePrecision(labels: [Double], scores: [Double]) -> Double? {
        precondition(labels.count == scores.count, "averagePrecision: labels and scores differ in length")
        let positives = Double(labels.filter { $0 > 0.5 }.count)
        guard positives > 0 else { return nil }
        var previousRecall = 0.0, area = 0.0
        for step in descendingSweep(labels: labels, scores: scores) {
            let recall = step.truePositives / positives
            area += (recall - previousRecall) * (step.truePositives / step.predicted)
            previousRecall = recall
        }
        return area
    }

    /// The threshold that maximises F1 on these rows (normally the validation split): the best of the distinct
    /// scores, each used as `score >= threshold`; among equal F1s the highest threshold wins. nil when there is no
    /// positive label (F1 is then 0 at every threshold).
    /// - Parameters:
    ///   - labels: 0/1 labels.
    ///   - scores: one score per label.
    public static func bestF1Threshold(labels: [Double], scores: [Double]) -> Double? {
        precondition(labels.count == scores.count, "bestF1Threshold: labels and scores differ in length")
        let positives = Double(labels.filter { $0 > 0.5 }.count)
        guard positives > 0 else { return nil }
        var best: (f1: Double, threshold: Double)?
        for step in descendingSweep(labels: labels, scores: scores) {
            // F1 = 2TP / (predicted positives + actual positives).
            let f1 = 2 * step.truePositives / (step.predicted + positives)
            if best == nil || f1 > best!.f1 { best = (f1, step.threshold) }
        }
        return best?.threshold
    }

    /// For each distinct score in descending order, the counts at threshold `score >= threshold`: true positives
    /// and predicted positives.
    static func descendingSweep(labels: [Double], scores: [Double]) -> [(
        threshold: Double, truePositives: Double, predicted: Double
    )] {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var steps: [(Double, Double, Double)] = []
        var tp = 0.0, predicted = 0.0
        var i = 0
        while i < order.count {
            let s = scores[order[i]]
            // Each step takes at least one row: a NaN score equals nothing, itself included, and a `while` that
            // needed equality to advance never ended on one.
            repeat {
                if labels[order[i]] > 0.5 { tp += 1 }
                predicted += 1
                i += 1
            } while i < order.count && scores[order[i]] == s
            steps.append((s, tp, predicted))
        }
        return steps
    }
}

/// How `ModelEvaluation` chose the decision threshold it reports next to 0.5.
public struct ThresholdChoice: Sendable, Codable, Equatable {
    /// The chosen threshold (`score >= threshold` predicts a click).
    public var threshold: Double
    /// Where it was chosen: `validation` (the rows before the evaluated ones) or `evaluated rows` when no
    /// validation rows were given (then the figures at it are optimistic, and a note says so).
    public var chosenOn: String
    /// The criterion: `max F1`.
    public var criterion: String
    /// Rows it was chosen on.
    public var rows: Int
    /// Clicks among those rows.
    public var clicks: Int
}

/// Bootstrap percentile intervals of a segment's threshold-free metrics (rows resampled with replacement).
public struct MetricIntervals: Sendable, Codable, Equatable {
    /// ROC AUC.
    public var rocAUC: ConfidenceInterval?
    /// Average precision (PR-AUC).
    public var averagePrecision: ConfidenceInterval?
    /// Log-loss.
    public var logLoss: ConfidenceInterval?
    /// Resamples drawn.
    public var resamples: Int

    /// Why ``bootstrap(labels:scores:resamples:level:minimumClicks:seed:)`` gives no intervals for these rows, or nil
    /// when it gives them.
    public static func undefinedReason(labels: [Double], resamples: Int, minimumClicks: Int = 5) -> String? {
        let clicks = labels.filter { $0 > 0.5 }.count
        if labels.isEmpty { return "no rows" }
        if resamples <= 0 { return "no resamples (--resamples 0)" }
        if clicks < minimumClicks { return "too few clicks (\(clicks), fewer than \(minimumClicks))" }
        if labels.count - clicks < minimumClicks {
            return "too few non-clicks (\(labels.count - clicks), fewer than \(minimumClicks))"
        }
        return nil
    }

    /// Intervals from `resamples` bootstrap resamples of `(labels, scores)`, seeded; a resample with one class
    /// adds no AUC or PR-AUC draw. Returns nil when the rows do not allow an interval: fewer than
    /// `minimumClicks` clicks or fewer than `minimumClicks` non-clicks.
    /// - Parameters:
    ///   - minimumClicks: least number of clicks (and non-clicks) needed (default 5).
    ///   - level: coverage, e.g. 0.95.
    public static func bootstrap(
        labels: [Double], scores: [Double], resamples: Int = 200, level: Double = 0.95, minimumClicks: Int = 5,
        seed: UInt64 = 12_345
    ) -> MetricIntervals? {
        let n = labels.count
        let clicks = labels.filter { $0 > 0.5 }.count
        guard resamples > 0, clicks >= minimumClicks, n - clicks >= minimumClicks else { return nil }
        var rng = SplitMix64(seed: seed)
        var auc: [Double] = [], ap: [Double] = [], loss: [Double] = []
        var y = [Double](repeating: 0, count: n), s = [Double](repeating: 0, count: n)
        for _ in 0..<resamples {
            for i in 0..<n {
                let j = rng.index(n)
                y[i] = labels[j]
                s[i] = scores[j]
            }
            if let v = ClassificationMetrics.rocAUC(labels: y, scores: s) { auc.append(v) }
            if let v = ClassificationMetrics.averagePrecision(labels: y, scores: s) { ap.append(v) }
            loss.append(ClassificationMetrics.logLoss(labels: y, scores: s))
        }
        func interval(_ draws: [Double]) -> ConfidenceInterval? {
            guard !draws.isEmpty else { return nil }
            let sorted = draws.sorted()
            let alpha = 1 - level
            return ConfidenceInterval(
                lower: Bootstrap.percentile(sorted: sorted, 100 * alpha / 2),
                upper: Bootstrap.percentile(sorted: sorted, 100 * (1 - alpha / 2)), level: level)
        }
        return MetricIntervals(
            rocAUC: interval(auc), averagePrecision: interval(ap), logLoss: interval(loss), resamples: resamples)
    }

    private enum CodingKeys: String, CodingKey { case rocAUC, averagePrecision, logLoss, resamples }

    /// Encodes every key, writing `null` for a missing interval.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rocAUC, forKey: .rocAUC)
        try c.encode(averagePrecision, forKey: .averagePrecision)
        try c.encode(logLoss, forKey: .logLoss)
        try c.encode(resamples, forKey: .resamples)
    }
}

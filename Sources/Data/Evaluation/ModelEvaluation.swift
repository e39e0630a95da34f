/// Figures of a click model on one segment of logged data.
public struct SegmentEvaluation: Sendable, Codable, Equatable {
    /// The segment.
    public var segment: Segment
    /// Rows in the segment.
    public var rows: Int
    /// Clicks in the segment.
    public var clicks: Int
    /// Click prediction on the logged (shown) items.
    public var classification: ClassificationMetrics
    /// Reliability bins and ECE.
    public var calibration: Calibration
    /// Rank of the clicked item among all items at the logged slot, at several cutoffs.
    public var ranking: [RankingMetrics]
    /// ROC curve points (fpr, tpr).
    public var roc: [[Double]]
    /// Ground-truth mean click probability of the model's greedy choice (simulator data only).
    public var oracleGreedyValue: Double?
    /// Ground-truth mean click probability of the logged choice (simulator data only).
    public var oracleLoggedValue: Double?
}

/// Evaluation of a click model on logged data: classification, calibration, ranking and off-policy value of the
/// model's greedy policy, each split into all rows, cold-start users and warm users.
public struct EvaluationReport: Sendable, Codable, Equatable {
    /// Dataset label.
    public var dataset: String
    /// Model label.
    public var model: String
    /// Rows evaluated.
    public var rows: Int
    /// Feature width of the spec.
    public var featureWidth: Int
    /// Per-segment figures, in the order all, cold start, warm (a segment with no rows is left out).
    public var segments: [SegmentEvaluation]
    /// Off-policy evaluation of the greedy policy "show the item the model scores highest at the logged slot".
    public var offPolicy: OffPolicyReport
    /// Caveats (reward-model fallbacks, empty segments, single-class segments).
    public var notes: [String]
}

/// Runs a model over logged data.
public enum ModelEvaluation {
    /// Evaluates `scorer` (rows of `spec.width` features → click probabilities) on `data`, usually the test split.
    /// - Parameters:
    ///   - cutoffs: K for HitRate@K and NDCG@K.
    ///   - rewardModel: reward model for DM and DR of the greedy policy (nil skips them).
    ///   - resamples: bootstrap resamples for the off-policy intervals.
    public static func evaluate(
        data: BanditDataset, spec: FeatureSpec, modelName: String,
        scorer: (_ rows: [Float], _ width: Int) -> [Float],
        cutoffs: [Int] = [1, 3, 5, 10], rewardModel: RewardModelKind? = .logistic(), resamples: Int = 500
    ) -> EvaluationReport {
        let k = data.nActions
        // Scores of every item at each row's logged slot, in chunks to bound memory.
        var all = [Double](repeating: 0, count: data.rows * k)
        let chunk = max(1, 4_096 / k)
        let items = Array(0..<k)
        var start = 0
        while start < data.rows {
            let end = min(start + chunk, data.rows)
            var rows: [Float] = []
            rows.reserveCapacity((end - start) * k * spec.width)
            for row in start..<end {
                let affinity = Dictionary(
                    uniqueKeysWithValues: data.affinity.entries(row).map { ($0.column, Double($0.value)) })
                rows += spec.candidateRows(
                    userFeatures: data.userFeatures.dictionary(row), affinity: affinity, items: items,
                    position: data.position[row])
            }
            let scores = scorer(rows, spec.width)
            precondition(scores.count == (end - start) * k, "scorer returned \(scores.count) scores")
            for (offset, s) in scores.enumerated() { all[start * k + offset] = Double(s) }
            start = end
        }
        let logged = (0..<data.rows).map { all[$0 * k + data.action[$0]] }
        let policy = ActionDistribution.greedy(scores: all, nActions: k)
        let offPolicy = OffPolicyEvaluation.evaluate(
            policy: policy, policyName: "greedy(\(modelName))", on: data, rewardModel: rewardModel, resamples: resamples
        )
        var notes = offPolicy.notes
        var segments: [SegmentEvaluation] = []
        for segment in Segment.allCases {
            let rows = data.rows(in: segment)
            guard !rows.isEmpty else { continue }
            let labels = rows.map { data.reward[$0] }
            let scores = rows.map { logged[$0] }
            let classification = ClassificationMetrics(labels: labels, scores: scores)
            if classification.rocAUC == nil {
                notes.append("segment \(segment.rawValue): one class only, ROC AUC undefined")
            }
            let ranks = rows.filter { data.reward[$0] > 0 }.map {
                RankingMetrics.rank(of: data.action[$0], scores: all[($0 * k)..<(($0 + 1) * k)])
            }
            var greedyValue: Double?
            var loggedValue: Double?
            if let oracle = data.oracle {
                greedyValue =
                    rows.reduce(0.0) { sum, row in
                        let best = (0..<k).first { policy[row, $0] == 1 } ?? 0
                        return sum + oracle.probability(row: row, item: best, position: data.position[row])
                    } / Double(rows.count)
                loggedValue =
                    rows.reduce(0.0) {
                        $0 + oracle.probability(row: $1, item: data.action[$1], position: data.position[$1])
                    } / Double(rows.count)
            }
            segments.append(
                SegmentEvaluation(
                    segment: segment, rows: rows.count, clicks: Int(labels.reduce(0, +)),
                    classification: classification, calibration: Calibration(labels: labels, scores: scores),
                    ranking: cutoffs.map { RankingMetrics(ranks: ranks, k: $0) },
                    roc: ClassificationMetrics.rocCurve(labels: labels, scores: scores).map { [$0.fpr, $0.tpr] },
                    oracleGreedyValue: greedyValue, oracleLoggedValue: loggedValue))
        }
        return EvaluationReport(
            dataset: data.name, model: modelName, rows: data.rows, featureWidth: spec.width, segments: segments,
            offPolicy: offPolicy, notes: notes)
    }
}
